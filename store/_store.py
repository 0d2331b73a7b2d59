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

Versions: ``seal_version`` writes member rows, computes the content hash in SQL
over the sorted member ids, then inserts the version row, all in one
transaction, so no reader ever sees a partial version. Sealed versions are
immutable: ``add_members`` always refuses. ``verify`` recomputes the hash.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from schemas import (
    Example,
    Judgement,
    Observation,
    SchemaVersionError,
    SealedVersionError,
    StoreError,
    Tool,
    VersionInfo,
    VersionNotFound,
    canonical_json,
    content_hash,
)

from . import _arrow, _migrations
from ._connection import connect, first_row, translate_error
from ._guard import check_read_only
from ._refs import (
    LATEST,
    check_dataset_name,
    check_tag_name,
    is_version_number,
    normalise_ref,
)
from ._sql import (
    CONTRACT_COLUMNS,
    MEMBER_HASH_SQL,
    STATUSES,
    column_list,
    quote_identifier,
)

_VERSION_COLUMNS = CONTRACT_COLUMNS["versions"]


class Store:
    """Tables, views, versions and caches in one DuckDB file."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
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
        return connect(self.path, read_only=self.read_only)

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
            con.unregister(name)
        return int(result[0]) if result else 0

    # -- runs, tools, observations, candidates -----------------------------------

    def start_run(self, run_id: str, dataset: str, config: dict[str, Any], models: dict[str, Any]) -> None:
        """Record a run as 'running'; starting a known run id again resumes it."""
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
                    "INSERT INTO run_rows (run_id, dataset, started_at, status, config, models) "
                    "VALUES (?, ?, ?, 'running', ?, ?)",
                    [run_id, dataset, _arrow.now_utc(), canonical_json(config), canonical_json(models)],
                )
            else:
                con.execute(
                    "UPDATE run_rows SET status = 'running', finished_at = NULL WHERE run_id = ?",
                    [run_id],
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

    # -- versions -------------------------------------------------------------------

    def seal_version(
        self, dataset: str, *, run_id: str | None, members: Sequence[tuple[str, float | None]],
        message: str = "", author: str | None = None, split: str = "train",
    ) -> VersionInfo:
        """Create the dataset's next version from stored examples, sealed at once."""
        check_dataset_name(dataset)
        chosen: dict[str, float | None] = {}
        for example_id, score in members:
            if example_id in chosen and chosen[example_id] != score:
                raise StoreError(
                    f"example {example_id!r} is listed twice with different scores; list it once"
                )
            chosen[example_id] = score
        with self._write("seal version") as con:
            last = first_row(con.execute(
                "SELECT seq, version_id FROM version_rows WHERE dataset = ? ORDER BY seq DESC LIMIT 1",
                [dataset],
            ))
            seq, parent_id = (1, None) if last is None else (int(last[0]) + 1, str(last[1]))
            version_id = content_hash(["version", dataset, seq, parent_id, sorted(chosen)])
            self._insert("member_rows", _arrow.members_table(version_id, chosen, split))
            missing = con.execute(
                "SELECT m.example_id FROM member_rows AS m ANTI JOIN example_rows AS e "
                "ON e.example_id = m.example_id WHERE m.version_id = ? ORDER BY 1 LIMIT 5",
                [version_id],
            ).fetchall()
            if missing:
                listed = ", ".join(repr(r[0]) for r in missing)
                raise StoreError(
                    f"cannot seal {dataset}@{seq}: unknown example ids {listed}; "
                    "save_candidates must store them first"
                )
            digest, count = first_row(con.execute(MEMBER_HASH_SQL, [version_id])) or ("", 0)
            con.execute(
                "INSERT INTO version_rows (version_id, dataset, seq, parent_id, state, row_count, "
                "content_hash, run_id, message, author, created_at) "
                "VALUES (?, ?, ?, ?, 'sealed', ?, ?, ?, ?, ?, ?)",
                [version_id, dataset, seq, parent_id, count, digest, run_id, message, author,
                 _arrow.now_utc()],
            )
        return self._version_by_id(version_id)

    def add_members(self, version_id: str, members: Sequence[tuple[str, float | None]]) -> None:
        """Always refuses: a sealed version never changes. Seal a new version instead."""
        info = self._version_by_id(version_id)
        raise SealedVersionError(
            f"{info.dataset}@{info.version} is sealed and cannot change; seal a new version "
            "of the dataset with the members it should have"
        )

    def tag(self, dataset: str, ref: str, tag: str, *, move: bool = False) -> VersionInfo:
        """Name one version ``tag``; moving an existing tag needs ``move=True``."""
        check_tag_name(tag)
        target = self.resolve(dataset, ref)
        with self._write("tag") as con:
            row = first_row(con.execute(
                "SELECT t.version_id, v.seq FROM tag_rows AS t JOIN version_rows AS v "
                "ON v.version_id = t.version_id WHERE t.dataset = ? AND t.tag = ?",
                [dataset, tag],
            ))
            if row is None:
                con.execute(
                    "INSERT INTO tag_rows (dataset, tag, version_id, created_at) VALUES (?, ?, ?, ?)",
                    [dataset, tag, target.version_id, _arrow.now_utc()],
                )
            elif row[0] != target.version_id:
                if not move:
                    raise StoreError(
                        f"tag {tag!r} already names {dataset}@{row[1]}; untag it first "
                        f"(backchain untag {dataset} {tag}) or pass --force to move it"
                    )
                con.execute(
                    "UPDATE tag_rows SET version_id = ?, created_at = ? WHERE dataset = ? AND tag = ?",
                    [target.version_id, _arrow.now_utc(), dataset, tag],
                )
        return self._version_by_id(target.version_id)

    def untag(self, dataset: str, tag: str) -> None:
        """Remove a tag; the version itself stays."""
        check_dataset_name(dataset)
        with self._write("untag") as con:
            row = first_row(con.execute(
                "DELETE FROM tag_rows WHERE dataset = ? AND tag = ? RETURNING tag", [dataset, tag]
            ))
            if row is None:
                raise VersionNotFound(
                    f"dataset {dataset!r} has no tag {tag!r} (it {self._known(dataset)})"
                )

    # -- reads ----------------------------------------------------------------------

    def _version_infos(self, where: str, params: Sequence[Any]) -> list[VersionInfo]:
        cur = self.con.execute(
            f"SELECT {column_list(_VERSION_COLUMNS)} FROM versions {where} ORDER BY dataset, version",
            list(params),
        )
        return [VersionInfo(**dict(zip(_VERSION_COLUMNS, row, strict=True))) for row in cur.fetchall()]

    def _version_by_id(self, version_id: str) -> VersionInfo:
        found = self._version_infos("WHERE version_id = ?", [version_id])
        if not found:
            raise VersionNotFound(f"no version with id {version_id!r}; see `backchain versions`")
        return found[0]

    def _known(self, dataset: str) -> str:
        """What a dataset has, for error messages: 'has versions 1..3 and tags: prod'."""
        seqs = first_row(self.con.execute(
            "SELECT min(seq), max(seq) FROM version_rows WHERE dataset = ?", [dataset]
        ))
        if seqs is None or seqs[0] is None:
            others = [r[0] for r in self.con.execute(
                "SELECT DISTINCT dataset FROM version_rows ORDER BY 1 LIMIT 10").fetchall()]
            return "has no versions yet" + (
                f" (datasets with versions: {', '.join(others)})" if others else ""
            )
        tags = [r[0] for r in self.con.execute(
            "SELECT tag FROM tag_rows WHERE dataset = ? ORDER BY tag", [dataset]).fetchall()]
        span = f"{seqs[0]}" if seqs[0] == seqs[1] else f"{seqs[0]}..{seqs[1]}"
        return f"has versions {span} and " + (f"tags: {', '.join(tags)}" if tags else "no tags")

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        """Every sealed version, or one dataset's, oldest first."""
        if dataset is None:
            return self._version_infos("", [])
        check_dataset_name(dataset)
        return self._version_infos("WHERE dataset = ?", [dataset])

    def resolve(self, dataset: str, ref: str | int = LATEST) -> VersionInfo:
        """The version a number, a tag or 'latest' names."""
        check_dataset_name(dataset)
        text = normalise_ref(ref)
        if text == LATEST:
            found = self._version_infos(
                "WHERE dataset = ? AND version = (SELECT max(seq) FROM version_rows WHERE dataset = ?)",
                [dataset, dataset],
            )
        elif is_version_number(text):
            found = self._version_infos("WHERE dataset = ? AND version = ?", [dataset, int(text)])
        else:
            found = self._version_infos(
                "WHERE version_id = (SELECT version_id FROM tag_rows WHERE dataset = ? AND tag = ?)",
                [dataset, text],
            )
        if not found:
            raise VersionNotFound(
                f"{dataset}@{text} names no version: dataset {dataset!r} {self._known(dataset)}"
            )
        return found[0]

    def iter_examples(
        self, version_id: str, *, batch_size: int = 1000
    ) -> Iterator[tuple[Example, float | None, str]]:
        """Yield (example, score, split) of one version, ordered by example id, in batches."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._version_by_id(version_id)
        cur = self.con.cursor()
        try:
            cur.execute(
                "SELECT e.body, m.score, m.split FROM member_rows AS m JOIN example_rows AS e "
                "ON e.example_id = m.example_id WHERE m.version_id = ? ORDER BY e.example_id",
                [version_id],
            )
            while batch := cur.fetchmany(batch_size):
                for body, score, split in batch:
                    yield Example.model_validate_json(body), score, split
        finally:
            cur.close()

    def verify(self, version_id: str) -> bool:
        """True when the version's members still hash to its recorded content hash."""
        info = self._version_by_id(version_id)
        digest, count = first_row(self.con.execute(MEMBER_HASH_SQL, [version_id])) or ("", 0)
        return bool(digest == info.content_hash and count == info.row_count)

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

    def stats(self, run_id: str) -> dict[str, Any]:
        """Counts for a run's summary: calls, errors, candidates by status, top rejections."""
        con = self.con
        calls, errors = first_row(con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_error) FROM obs_rows WHERE run_id = ?",
            [run_id],
        )) or (0, 0)
        by_status = dict.fromkeys(STATUSES, 0)
        for status, n in con.execute(
            "SELECT status, count(*) FROM candidate_rows WHERE run_id = ? GROUP BY status", [run_id]
        ).fetchall():
            by_status[status] = int(n)
        reasons = con.execute(
            "SELECT reason, count(*) AS n FROM candidate_rows WHERE run_id = ? AND status = 'rejected' "
            "GROUP BY reason ORDER BY n DESC, reason LIMIT 5",
            [run_id],
        ).fetchall()
        return {
            "run_id": run_id,
            "calls": int(calls),
            "errors": int(errors),
            "candidates": by_status,
            "top_rejections": [(str(r), int(n)) for r, n in reasons],
        }

    # -- model-reply cache (generators._llm.ReplyCache) -----------------------------

    def get_reply(self, key: str) -> dict[str, Any] | None:
        """A cached model reply, or None."""
        row = first_row(self.con.execute("SELECT reply FROM reply_cache WHERE key = ?", [key]))
        return None if row is None else dict(json.loads(row[0]))

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        """Cache a model reply under the hash of its request; the first reply stays."""
        with self._write("cache reply") as con:
            con.execute(
                "INSERT OR IGNORE INTO reply_cache (key, endpoint, request, reply, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [key, endpoint, canonical_json(request), canonical_json(reply), _arrow.now_utc()],
            )

    # -- drift audit (backchain audit) -----------------------------------------------

    def member_runs(self, version_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Example id -> (run id, stored run config) of the run that made each member.

        ``backchain audit`` restarts each example's toolsets from this config. An example
        stored by several runs is credited to the run that sealed the version, else to a run
        of the same dataset, else to the latest; a member no run made is absent.
        """
        self._version_by_id(version_id)
        rows = self.con.execute(
            "SELECT m.example_id, c.run_id, r.config FROM member_rows AS m "
            "JOIN version_rows AS v ON v.version_id = m.version_id "
            "JOIN candidate_rows AS c ON c.example_id = m.example_id "
            "JOIN run_rows AS r ON r.run_id = c.run_id WHERE m.version_id = ? "
            "QUALIFY row_number() OVER (PARTITION BY m.example_id ORDER BY "
            "(c.run_id IS NOT DISTINCT FROM v.run_id) DESC, (c.dataset = v.dataset) DESC, "
            "r.started_at DESC, c.run_id) = 1",
            [version_id],
        ).fetchall()
        configs: dict[str, dict[str, Any]] = {}
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for example_id, run_id, config in rows:
            if run_id not in configs:
                configs[run_id] = dict(json.loads(config))
            out[example_id] = (run_id, configs[run_id])
        return out
