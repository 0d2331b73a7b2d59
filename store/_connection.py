"""Reaching the database, and what its errors mean to a backchain user.

Only this module knows how a connection is made: a local DuckDB file, opened
read-write (one process at a time, DuckDB's rule) or read-only. Past one
machine's disk the same tables belong in DuckLake (catalog in Postgres, data in
object storage), which DuckDB attaches natively; moving there changes
``connect`` and nothing else, because the rest of ``store/`` speaks plain SQL
to whatever connection it is handed.

Every DuckDB error that leaves ``store/`` passes through ``translate_error``
and becomes a ``StoreError`` subclass with a one-line message that names the
file and the next step, chained to the original with ``raise ... from``:

    duckdb.IOException "Could not set lock"  -> StoreError (another process is writing)
    "... read-only ..."                      -> ReadOnlyQueryError
    duckdb.ConnectionException "different configuration"
                                             -> StoreError (open here in the other mode)
    any other duckdb.Error                   -> StoreError ("<action> failed on <file>: ...")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from schemas import ReadOnlyQueryError, StoreError


def connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open ``path``: read-write creates it (and its directory); read-only needs it."""
    if read_only and not path.exists():
        raise StoreError(
            f"no database at {path}: run `backchain run` first, or point --db / "
            "BACKCHAIN_DB at an existing file"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise translate_error(exc, path, "open") from exc
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


def translate_error(exc: duckdb.Error, path: Path, action: str) -> StoreError:
    """Map a DuckDB error to the most specific StoreError, with a one-line message."""
    text = first_line(exc)
    lowered = text.lower()
    if isinstance(exc, duckdb.IOException) and "lock" in lowered:
        pid = re.search(r"PID (\d+)", str(exc))
        who = f" (PID {pid.group(1)})" if pid else ""
        return StoreError(
            f"cannot open {path}: another backchain process{who} is writing to it; wait for it "
            "to finish or use another --db / BACKCHAIN_DB"
        )
    if "read-only" in lowered or "read only" in lowered:
        return ReadOnlyQueryError(f"{action}: {path} is open read-only ({text})")
    if isinstance(exc, duckdb.ConnectionException) and "different configuration" in lowered:
        return StoreError(
            f"cannot open {path}: it is already open in this process in the other mode "
            "(read-only vs read-write); close that Store first"
        )
    return StoreError(f"{action} failed on {path}: {text}")
