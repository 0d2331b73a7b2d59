"""Reaching the database, and what its errors mean to a backchain user.

Only this module knows how a connection is made: a local DuckDB file, opened
read-write (one process at a time, DuckDB's rule) or read-only. Past one
machine's disk the same tables belong in DuckLake (catalog in Postgres, data in
object storage), which DuckDB attaches natively; moving there changes
``connect`` and nothing else, because the rest of ``store/`` speaks plain SQL
to whatever connection it is handed.

DuckDB lets one process write a file (and none read it meanwhile). When the
file is locked, ``connect`` retries with a growing pause, up to a bounded wait
(``lock_timeout`` seconds; default ``$BACKCHAIN_LOCK_TIMEOUT``, else 10), then
fails with a message that names the file and the holder's PID. So a second
``backchain`` command waits for a short one to finish instead of failing at once.

Every DuckDB error that leaves ``store/`` passes through ``translate_error``
and becomes a ``StoreError`` subclass with a one-line message that names the
file and the next step, chained to the original with ``raise ... from``:

    duckdb.IOException "Could not set lock"  -> StoreError (another process holds the lock)
    "... read-only ..."                      -> ReadOnlyQueryError
    duckdb.ConnectionException "different configuration"
                                             -> StoreError (open here in the other mode)
    any other duckdb.Error                   -> StoreError ("<action> failed on <file>: ...")
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import duckdb

from schemas import ConfigError, ReadOnlyQueryError, StoreError

LOCK_TIMEOUT_ENV = "BACKCHAIN_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 10.0


def lock_timeout_from_env() -> float:
    """Seconds to wait for another process's lock: ``$BACKCHAIN_LOCK_TIMEOUT`` or 10."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also catches NaN
        raise ConfigError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds, 0 or more")
    return value


def _is_lock_error(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(
    path: Path, *, read_only: bool, lock_timeout: float | None = None
) -> duckdb.DuckDBPyConnection:
    """Open ``path``: read-write creates it (and its directory); read-only needs it.

    While another process holds the file's lock, retry for up to ``lock_timeout``
    seconds (default: ``lock_timeout_from_env()``), then raise StoreError.
    """
    if read_only and not path.exists():
        raise StoreError(
            f"no database at {path}: run `backchain run` first, or point --db / "
            "BACKCHAIN_DB at an existing file"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
    if not timeout >= 0:
        raise ConfigError(f"lock_timeout={lock_timeout!r}: expected seconds, 0 or more")
    started = time.monotonic()
    pause = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            waited = time.monotonic() - started
            if not _is_lock_error(exc) or waited >= timeout:
                raise translate_error(exc, path, "open", waited=waited) from exc
            time.sleep(min(pause, timeout - waited))
            pause = min(pause * 2, 0.5)
    # Timestamps are stored as TIMESTAMPTZ and come back as aware UTC datetimes.
    con.execute("SET TimeZone = 'UTC'")
    return con


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result, reading it to the end.

    DuckDB 2.0 refuses new work on a connection whose last result was not read
    to the end ("connection has an unfinished result"), so ``fetchone()`` alone
    is not enough; use this for single-row reads.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (DuckDB adds LINE/caret lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate_error(
    exc: duckdb.Error, path: Path, action: str, *, waited: float | None = None
) -> StoreError:
    """Map a DuckDB error to the most specific StoreError, with a one-line message."""
    text = first_line(exc)
    lowered = text.lower()
    if _is_lock_error(exc):
        pid = re.search(r"PID (\d+)", str(exc))
        who = f" (PID {pid.group(1)})" if pid else ""
        after = f" (waited {waited:.1f} s)" if waited is not None else ""
        return StoreError(
            f"cannot open {path}: another process{who} holds its lock (DuckDB allows one writer "
            f"or many readers){after}; wait for it to finish, set {LOCK_TIMEOUT_ENV} to wait "
            "longer, or use another --db / BACKCHAIN_DB"
        )
    if "read-only" in lowered or "read only" in lowered:
        return ReadOnlyQueryError(f"{action}: {path} is open read-only ({text})")
    if isinstance(exc, duckdb.ConnectionException) and "different configuration" in lowered:
        return StoreError(
            f"cannot open {path}: it is already open in this process in the other mode "
            "(read-only vs read-write); close that Store first"
        )
    return StoreError(f"{action} failed on {path}: {text}")
