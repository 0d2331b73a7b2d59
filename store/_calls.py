"""What outlives a run: recorded tool calls, and runs that never finished.

Kept apart from `_store.py` as a mixin of `Store` (the same connection and write
path). Migration m006 adds:

    call_cache(key, purpose, toolset, tool, call_key, observation, run_id, created_at)
        -- one recorded tool call per key (generators.CallCache), written the
           moment the call returns; a later result for the same key (a
           ``--refresh`` run) replaces it
    run_rows.pid, run_rows.host, run_rows.process
        -- which process started a run

Model replies stay in ``reply_cache`` (m001); ``replace_reply`` is the refresh
path's write, which lets a new reply replace the old one.

Writing a call: `put_call` commits one call in its own transaction. A run
records through a `CallWriter` instead (``Store.call_writer()``): a thread of
its own, with its own cursor, commits whatever calls have returned since its
last commit as one transaction (group commit). A DuckDB commit waits for the
disk (about 15-20 ms here); done on the event loop once per call it held up
every other call in flight, and capped a run at some 50 calls a second. A call
is durable about one commit after it returns; a kill loses only the calls in
flight and those not yet committed, which the next run makes again.

Runs killed hard (SIGKILL, a lost machine) stay 'running'. `interrupt_abandoned_runs`
marks them 'interrupted' when the next run starts, by this rule: DuckDB admits one
writing process per file, and a run holds its store open from ``start_run`` to
``finish_run``. So when a process has the file open for writing, a run still
'running' that another process started cannot be running any more. Runs this
process started are left alone (several flows may share a process, e.g. under
``backchain serve``). A process is told apart by host, pid and a random token,
so a new process that happens to get a dead one's pid is still another process.
Past one writer (DuckLake) this rule would need a liveness check instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from schemas import StoreError, canonical_json

from . import _arrow
from ._connection import first_row, translate_error

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

import duckdb

M006_STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE call_cache (
        key         VARCHAR PRIMARY KEY,
        purpose     VARCHAR NOT NULL,
        toolset     VARCHAR NOT NULL,
        tool        VARCHAR NOT NULL,
        call_key    VARCHAR NOT NULL,
        observation JSON NOT NULL,
        run_id      VARCHAR,
        created_at  TIMESTAMPTZ NOT NULL
    )
    """,
    "ALTER TABLE run_rows ADD COLUMN pid INTEGER",
    "ALTER TABLE run_rows ADD COLUMN host VARCHAR",
    "ALTER TABLE run_rows ADD COLUMN process VARCHAR",
)


def m006_call_cache_run_owner(con: duckdb.DuckDBPyConnection) -> None:
    """Tool calls cached across runs, and the process that started each run (issue 8).

    Runs recorded before have no process: if one is still 'running', the next
    run marks it 'interrupted' like any run whose process is gone.
    """
    for statement in M006_STATEMENTS:
        con.execute(statement)


_TOKEN: tuple[int, str] | None = None


def process_token() -> str:
    """``host:pid:random``, the same for the life of this process (a forked child gets its own)."""
    global _TOKEN
    pid = os.getpid()
    if _TOKEN is None or _TOKEN[0] != pid:
        _TOKEN = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:12]}")
    return _TOKEN[1]


_PUT_CALL = (
    "INSERT OR REPLACE INTO call_cache (key, purpose, toolset, tool, call_key, observation, run_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _call_row(key: str, purpose: str, observation: Mapping[str, Any], run_id: str | None) -> list[Any]:
    # The JSON keeps the key order the tool returned: which output field a task
    # asks for follows that order, so a cached output must come back exactly as
    # recorded for a rerun to write the same tasks (canonical JSON would sort it).
    return [key, purpose, observation["toolset"], observation["tool"], observation.get("call_key", ""),
            json.dumps(observation, ensure_ascii=False, separators=(",", ":")), run_id, _arrow.now_utc()]


class CallWriter:
    """Records calls from a thread of its own: each batch that returned meanwhile is one transaction.

    ``put`` never waits for the disk. ``get`` sees a call put but not yet
    committed. ``flush`` waits until everything put is committed; ``close``
    flushes and stops the thread. A failed commit is raised by the next
    ``put``, ``flush`` or ``close``: nothing is lost silently.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._cursor = cursor
        self._path = path
        self._queue: queue.SimpleQueue[tuple[str, str, dict[str, Any], str | None] | threading.Event | None] = (
            queue.SimpleQueue())
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="backchain-call-writer", daemon=True)
        self._thread.start()

    def put(self, key: str, purpose: str, observation: dict[str, Any], run_id: str | None) -> None:
        self._raise_failure()
        with self._lock:
            self._pending[key] = observation
        self._queue.put((key, purpose, observation, run_id))

    def get(self, key: str) -> dict[str, Any] | None:
        """A call put but not yet committed, or None (then the table has it, if anyone does)."""
        with self._lock:
            return self._pending.get(key)

    def flush(self) -> None:
        done = threading.Event()
        self._queue.put(done)
        while not done.wait(0.5):
            if not self._thread.is_alive():
                break
        self._raise_failure()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._cursor.close()
        self._raise_failure()

    def __enter__(self) -> CallWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _raise_failure(self) -> None:
        error = self._error
        if isinstance(error, duckdb.Error):
            raise translate_error(error, self._path, "record tool calls") from error
        if error is not None:
            raise error

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:  # everything that returned while the last commit waited for the disk
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if isinstance(item, tuple)]
            stop = any(item is None for item in batch)
            if rows and self._error is None:
                try:
                    self._cursor.execute("BEGIN TRANSACTION")
                    self._cursor.executemany(_PUT_CALL, [_call_row(*row) for row in rows])
                    self._cursor.execute("COMMIT")
                    self.commits += 1
                except BaseException as exc:  # kept and raised in the caller's thread
                    self._error = exc
                    with contextlib.suppress(duckdb.Error):
                        self._cursor.execute("ROLLBACK")
                with self._lock:
                    for key, *_ in rows:
                        self._pending.pop(key, None)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()


class CallsMixin:
    """Store methods for the tool-call cache, the refresh path of the reply cache, and run owners."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...
        path: Path
        read_only: bool

        def _write(self, action: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    # -- tool calls (generators.CallCache) ---------------------------------------------

    def get_call(self, key: str) -> dict[str, Any] | None:
        """The observation recorded under a call's cache key (its JSON), or None."""
        row = first_row(self.con.execute("SELECT observation FROM call_cache WHERE key = ?", [key]))
        return json.loads(row[0]) if row is not None else None

    def put_call(
        self, key: str, purpose: str, observation: Mapping[str, Any], *, run_id: str | None = None
    ) -> None:
        """Record one call now, in its own transaction; a later result for the key replaces it."""
        with self._write("record tool call") as con:
            con.executemany(_PUT_CALL, [_call_row(key, purpose, observation, run_id)])

    def call_writer(self) -> CallWriter:
        """A writer that records calls from a thread of its own (see the module docstring)."""
        if self.read_only:
            raise StoreError(f"record tool calls: {self.path} is open read-only; open it without read_only")
        return CallWriter(self.con.cursor(), self.path)

    # -- model replies (generators._llm.ReplyCache) --------------------------------------

    def get_reply(self, key: str) -> dict[str, Any] | None:
        """A cached model reply, or None."""
        row = first_row(self.con.execute("SELECT reply FROM reply_cache WHERE key = ?", [key]))
        return None if row is None else dict(json.loads(row[0]))

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        """Cache a model reply under the hash of its request; the first reply stays."""
        self._cache_reply("IGNORE", key, endpoint, request, reply)

    def replace_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        """Cache a model reply, replacing one cached before (``--refresh``: the newest reply wins)."""
        self._cache_reply("REPLACE", key, endpoint, request, reply)

    def _cache_reply(self, on_conflict: str, key: str, endpoint: str, request: dict[str, Any],
                     reply: dict[str, Any]) -> None:
        with self._write("cache reply") as con:
            con.execute(
                f"INSERT OR {on_conflict} INTO reply_cache (key, endpoint, request, reply, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [key, endpoint, canonical_json(request), canonical_json(reply), _arrow.now_utc()],
            )

    # -- runs whose process is gone ---------------------------------------------------

    def claim_run(self, run_id: str) -> None:
        """Record that this process runs ``run_id`` (host, pid and a per-process token)."""
        token = process_token()
        host, pid, _ = token.rsplit(":", 2)
        with self._write("claim run") as con:
            con.execute(
                "UPDATE run_rows SET pid = ?, host = ?, process = ? WHERE run_id = ?",
                [int(pid), host, token, run_id],
            )

    def interrupt_abandoned_runs(self) -> list[str]:
        """Mark 'interrupted' every run left 'running' by another process; return their ids.

        Sound for a DuckDB file because only one process can have it open for
        writing (see the module docstring).
        """
        with self._write("mark interrupted runs") as con:
            rows = con.execute(
                "UPDATE run_rows SET status = 'interrupted', finished_at = ? "
                "WHERE status = 'running' AND process IS DISTINCT FROM ? RETURNING run_id",
                [_arrow.now_utc(), process_token()],
            ).fetchall()
        return sorted(str(r[0]) for r in rows)
