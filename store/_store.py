"""``Store``: the one owner of the project's DuckDB connection.

Everything that reaches the database goes through a ``Store`` method; flows,
the CLI and exporters never write SQL of their own (the exception is
``backchain sql``, which hands the user's text to ``Store.query`` and its
read-only guard). The store knows records (``schemas``), not tools, models or
flows.

Life cycle: ``Store(path)`` opens the file (creating it and its directory),
checks the recorded schema version and, in write mode, applies pending
migrations in one transaction. DuckDB allows one read-write process per file;
a second writer gets a one-line ``StoreError`` naming the file. Close it with
``close()`` or ``with Store(...) as store:``. Only ``_connection.connect``
knows how the connection is made, so moving the same tables to DuckLake
changes that function.

Writes: every public write runs in ``atomic()`` (BEGIN/COMMIT, ROLLBACK on
error, nestable), bulk rows go in as Arrow tables (``_arrow``), and
content-addressed rows are ``INSERT OR IGNORE``. DuckDB errors are translated
at this boundary into ``StoreError`` subclasses, chained with ``from``.

Versions (sealing, versions made from versions, verify, diff, gc) are the
``VersionsMixin`` of ``_versions``, where that story is told. Other concerns are
mixins on the same connection and write path too: ``_calls``
(tool-call and model-reply caches, abandoned runs), ``_facts`` (tool graph,
volatile fields, difficulty), ``_accounting``, ``_rendered`` (stored trl-sft
renderings), ``_snapshot`` (cache snapshots for workers) and ``_inspect`` (what
run summaries, ``audit`` and ``tools`` read).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from schemas import Example, Judgement, Observation, SchemaVersionError, StoreError, Tool, canonical_json, content_hash

from . import _arrow, _migrations
from ._accounting import AccountingMixin
from ._calls import CallsMixin
from ._connection import connect, first_row, translate_error
from ._facts import FactsMixin
from ._guard import check_read_only
from ._inspect import InspectMixin
from ._lookup import LookupMixin
from ._refs import check_dataset_name
from ._rendered import RenderedMixin
from ._reviews import ReviewsMixin
from ._snapshot import SnapshotMixin
from ._sql import quote_identifier
from ._versions import VersionsMixin


class Store(VersionsMixin, LookupMixin, InspectMixin, CallsMixin, FactsMixin, AccountingMixin, RenderedMixin,
            SnapshotMixin, ReviewsMixin):
    """Tables, views, versions and caches in one DuckDB file."""

    def __init__(
        self, path: str | Path, *, read_only: bool = False, lock_timeout: float | None = None
    ) -> None:
        """Open ``path``; wait up to ``lock_timeout`` s (default $BACKCHAIN_LOCK_TIMEOUT or 10)
        while another process holds the file."""
        self.path = Path(path)
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self._depth = 0
        self._con: duckdb.DuckDBPyConnection | None = None
        con = self._connect()
        self._finalizer = weakref.finalize(self, con.close)
        try:
            self._prepare(con)
        except BaseException:
            self._finalizer()
            raise
        self._con = con

    # -- connection ---------------------------------------------------------------

    def _connect(self) -> duckdb.DuckDBPyConnection:
        # The one place that knows how the database is reached (see _connection).
        return connect(self.path, read_only=self.read_only, lock_timeout=self.lock_timeout)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Check the schema version; in write mode apply pending migrations."""
        try:
            todo = _migrations.pending(con, self.path)
            if todo and self.read_only:
                names = ", ".join(m.__name__ for m in todo)
                raise SchemaVersionError(
                    f"database {self.path} needs migrations ({names}); open it once for "
                    "writing (any backchain run) to upgrade it"
                )
            if todo:
                _migrations.apply_pending(con, self.path)
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, "migrate") from exc

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError(f"the store for {self.path} is closed; open a new Store")
        return self._con

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._con = None
        self._finalizer()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<Store {str(self.path)!r} {mode}>"

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; an inner ``atomic()`` joins the outer one."""
        con = self.con
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            con.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            con.execute("COMMIT")
        except duckdb.Error as exc:
            # A failed COMMIT leaves nothing written; make sure no transaction lingers.
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise translate_error(exc, self.path, "commit") from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write: refused on a read-only store, atomic, DuckDB errors translated."""
        if self.read_only:
            raise StoreError(f"{action}: {self.path} is open read-only; open it without read_only")
        try:
            with self.atomic():
                yield self.con
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, action) from exc

    def _insert(self, table: str, rows: pa.Table) -> int:
        """INSERT OR IGNORE an Arrow table by column name; return rows newly stored."""
        if rows.num_rows == 0:
            return 0
        name = "_arrow_in"
        con = self.con
        con.register(name, rows)
        try:
            result = first_row(con.execute(
                f"INSERT OR IGNORE INTO {quote_identifier(table)} BY NAME "
                f"SELECT * FROM {quote_identifier(name)}"
            ))
        finally:
            # Refused in an aborted transaction, where it would hide the INSERT's own error.
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)
        return int(result[0]) if result else 0

    # -- runs, tools, observations, candidates -----------------------------------

    def start_run(
        self, run_id: str, dataset: str, config: dict[str, Any], models: dict[str, Any], *,
        rubric_hash: str | None = None, flow_run_id: str | None = None,
    ) -> None:
        """Record a run as 'running'; starting a known run id again resumes it.

        The run's config hash is the content hash of ``config`` (its JSON); the
        versions the run seals show it, with ``models``, ``rubric_hash`` and the
        Prefect ``flow_run_id``.
        """
        check_dataset_name(dataset)
        with self._write("start run") as con:
            row = first_row(con.execute("SELECT dataset FROM run_rows WHERE run_id = ?", [run_id]))
            if row is not None and row[0] != dataset:
                raise StoreError(
                    f"run {run_id!r} already exists for dataset {row[0]!r}, not {dataset!r}; "
                    "use a new run id"
                )
            if row is None:
                con.execute(
                    "INSERT INTO run_rows (run_id, dataset, started_at, status, config, models, "
                    "rubric_hash, config_hash, flow_run_id) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                    [run_id, dataset, _arrow.now_utc(), canonical_json(config), canonical_json(models),
                     rubric_hash, content_hash(config), flow_run_id],
                )
            else:
                con.execute(
                    "UPDATE run_rows SET status = 'running', finished_at = NULL, "
                    "flow_run_id = coalesce(?, flow_run_id), rubric_hash = coalesce(rubric_hash, ?) "
                    "WHERE run_id = ?",
                    [flow_run_id, rubric_hash, run_id],
                )

    def finish_run(
        self, run_id: str, *, status: str, stats: dict[str, Any], flow_run_id: str | None = None
    ) -> None:
        """Record how a run ended and its summary counts."""
        with self._write("finish run") as con:
            row = first_row(con.execute(
                "UPDATE run_rows SET status = ?, stats = ?, finished_at = ?, "
                "flow_run_id = coalesce(?, flow_run_id) WHERE run_id = ? RETURNING run_id",
                [status, canonical_json(stats), _arrow.now_utc(), flow_run_id, run_id],
            ))
            if row is None:
                raise StoreError(f"no run {run_id!r} to finish; call start_run first")

    def save_tools(self, tools: Sequence[Tool], run_id: str) -> int:
        """Store tools (content-addressed); return how many were new."""
        with self._write("save tools"):
            return self._insert("tool_rows", _arrow.tools_table(tools, run_id))

    def save_observations(self, observations: Sequence[Observation], run_id: str) -> int:
        """Store observations (content-addressed); return how many were new."""
        with self._write("save observations"):
            return self._insert("obs_rows", _arrow.observations_table(observations, run_id))

    def save_candidates(
        self, run_id: str, dataset: str, judged: Sequence[tuple[Example, Judgement]]
    ) -> None:
        """Store judged examples: example rows, one candidate row each, rubric leaves."""
        check_dataset_name(dataset)
        for example, judgement in judged:
            if judgement.example_id != example.example_id:
                raise StoreError(
                    f"judgement for {judgement.example_id!r} was paired with example "
                    f"{example.example_id!r}; pair each example with its own judgement"
                )
        judgements = [j for _, j in judged]
        with self._write("save candidates"):
            self._insert("example_rows", _arrow.examples_table((e for e, _ in judged), _arrow.now_utc()))
            self._insert("candidate_rows", _arrow.candidates_table(run_id, dataset, judgements))
            self._insert("leaf_rows", _arrow.leaves_table(judgements))

    def sandbox(self) -> None:
        """From now on this store reads only its own database: no files, extensions or network.

        DuckDB's ``enable_external_access = false``, which cannot be turned back on while the
        database is open. `backchain sql` and `derive --where` run a user's SQL behind it, so
        ``read_csv('/etc/passwd')``, ``ATTACH`` or ``COPY ... TO`` fail instead of reaching the disk.
        """
        try:
            self.con.execute("SET enable_external_access = false")
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, "sandbox") from exc

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run read-only SQL; return (column names, rows) of the last statement."""
        con = self.con
        statements = check_read_only(con, sql)
        if params and len(statements) > 1:
            raise StoreError("backchain sql takes parameters only with a single statement")
        # Behind the parser check, a writable store rolls back whatever ran.
        wrap = not self.read_only and self._depth == 0
        if wrap:
            con.execute("BEGIN TRANSACTION")
        try:
            columns: list[str] = []
            rows: list[tuple[Any, ...]] = []
            for text in statements:
                cur = con.execute(text, list(params) if params else None)
                columns = [d[0] for d in cur.description] if cur.description else []
                rows = cur.fetchall() if cur.description else []
            return columns, rows
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, "backchain sql") from exc
        finally:
            if wrap:
                con.execute("ROLLBACK")
