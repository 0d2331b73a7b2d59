"""Reply-cache snapshots: how batches on other processes or machines read cached model replies.

DuckDB admits one process per file while a writer holds it, and the run's flow is
that writer. Batches of a model-bound stage that run on Dask workers therefore
cannot open the store; they read a snapshot instead:

    Store.snapshot_replies(path)              the flow: the cached replies ->
                                              parquet, sorted by key
    ReplySnapshot(path)                       a worker: a generators.ReplyCache
                                              over that file; new replies are
                                              collected, not written

The snapshot is sorted by key, so DuckDB prunes row groups by their key range
and a lookup reads a small part of the file. The worker hands its new replies
back with its batch; the flow, the store's single writer, caches them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ._connection import first_row

NewReply = tuple[str, str, dict[str, Any], dict[str, Any]]
"""(key, endpoint, request, reply): a reply a worker got from a model server."""


class SnapshotMixin:
    """``Store.snapshot_replies``."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

    def snapshot_replies(self, path: Path) -> int:
        """Write every cached reply (key and reply) to a parquet file sorted by key; return how many.

        Not filtered by endpoint: a key already names its scope (URL, replica set or
        bundled model), and a server's URL may change between runs while its scope does not.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cur = self.con.cursor()
        try:
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE _reply_snapshot AS SELECT key, reply::VARCHAR AS reply "
                "FROM reply_cache ORDER BY key"
            )
            cur.execute(f"COPY _reply_snapshot TO '{_literal(path)}' (FORMAT parquet, ROW_GROUP_SIZE 8192)")
            row = first_row(cur.execute("SELECT count(*) FROM _reply_snapshot"))
            cur.execute("DROP TABLE _reply_snapshot")
            return int(row[0]) if row else 0
        finally:
            cur.close()


class ReplySnapshot:
    """A `generators.ReplyCache` over a snapshot file, for a batch that may not open the store.

    ``get_reply`` looks the key up in the file (no file: every lookup misses, so
    a worker that cannot see it still answers correctly, only without the
    cache); ``put_reply`` keeps the reply in ``new`` for the flow to store.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.available = self.path is not None and self.path.is_file()
        self._con = duckdb.connect() if self.available else None
        self._lock = threading.Lock()
        self._new: dict[str, NewReply] = {}
        self.hits = 0

    @property
    def new(self) -> list[NewReply]:
        """Replies this batch got from a model server, in the order they came."""
        return list(self._new.values())

    def get_reply(self, key: str) -> dict[str, Any] | None:
        if key in self._new:  # a batch asking twice
            return self._new[key][3]
        if self._con is None:
            return None
        with self._lock:
            row = first_row(self._con.execute(
                f"SELECT reply FROM read_parquet('{_literal(self.path)}') WHERE key = ? LIMIT 1", [key]
            ))
        if row is None:
            return None
        self.hits += 1
        return json.loads(row[0])  # type: ignore[no-any-return]

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        self._new[key] = (key, endpoint, request, reply)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _literal(path: Path | None) -> str:
    """A path as the body of a SQL string literal (COPY and read_parquet take no parameters)."""
    return str(path).replace("'", "''")
