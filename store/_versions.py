"""Versions: how a dataset version is made and read back (a mixin of ``Store``).

Every new version, whether a run seals it (``seal_version``) or it
is made from others without re-running anything (``derive``, ``merge``,
``rollback``), goes through one path, ``_seal``: in one transaction it inserts
the member rows (from Arrow batches streamed into DuckDB, or by ``INSERT ...
SELECT`` from existing members), hashes them in one sorted pass (``_hashing``),
checks them (no duplicate ids, every example stored) and inserts the version
row last. Readers see a version whole or not at all, and a crash (even
SIGKILL) leaves only an uncommitted transaction, which DuckDB discards. Sealed
versions are immutable: ``add_members`` always refuses; ``verify`` recomputes
both hashes, so a member row added, removed or changed in place by raw SQL is
detected.

Each version records its parent (the dataset's previous latest), the run that
made it (and through the run: Prefect flow run id, models, rubric hash, config
hash), author, message, time, and for derived versions the operation, the
version ids it came from and the predicate; the ``versions`` view shows all of
it. ``diff``, ``resolve`` (numbers, tags, 'latest', timestamps; with ``tag`` and
``describe`` in ``_lookup``) and ``gc`` (``_gc``) complete the set; their SQL lives
in macros (``_sql``) so that ``backchain sql`` users get the same answers.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import itertools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import duckdb
import pyarrow as pa

from schemas import ConfigError, Example, SealedVersionError, StoreError, VersionInfo, VersionNotFound, content_hash

from . import _arrow, _gc
from ._connection import first_line, first_row, translate_error
from ._gc import GcReport
from ._guard import check_predicate
from ._hashing import member_digest
from ._refs import LATEST, check_dataset_name
from ._sql import CONTRACT_COLUMNS, quote_identifier

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

Ref: TypeAlias = "tuple[str, str | int | _dt.datetime]"
"""A version reference as (dataset, ref): ("geo", 3), ("geo", "prod"), ("geo", "2026-11-28")."""

MembersIn: TypeAlias = "Iterable[tuple[str, float | None]] | pa.Table | pa.RecordBatchReader"
"""Members to seal: (example_id, score) pairs, or Arrow data with those two columns."""

_MEMBER_BATCH = 65_536
_MEMBERS_IN_SCHEMA = pa.schema([("example_id", pa.string()), ("score", pa.float64())])
OPERATIONS = ("run", "seal", "derive", "merge", "rollback")


def default_author() -> str | None:
    """Who a version is recorded as made by: ``$USER``, else the login name, else None."""
    user = os.environ.get("USER", "").strip()
    if user:
        return user
    try:
        return getpass.getuser() or None
    except (OSError, KeyError, ImportError):  # no login name in some containers
        return None


@dataclass(frozen=True)
class MergeResult:
    """A merged version and how many shared examples had different scores (the max was kept)."""

    version: VersionInfo
    score_conflicts: int


@dataclass(frozen=True)
class VersionDiff:
    """Row-level difference between two versions (see the dataset_diff macro)."""

    a: VersionInfo
    b: VersionInfo
    added: int
    removed: int
    changed: int
    unchanged: int
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class VersionsMixin:
    """Store methods that seal, derive, merge, roll back, verify, read, diff and collect versions."""

    if TYPE_CHECKING:
        path: Path
        read_only: bool
        _depth: int

        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def _write(self, action: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...
        def resolve(self, dataset: str, ref: str | int | _dt.datetime = LATEST) -> VersionInfo: ...
        def _version_by_id(self, version_id: str) -> VersionInfo: ...
        def _known(self, dataset: str) -> str: ...
        def _renderings_intact(self, version_id: str) -> bool: ...

    # -- versions -------------------------------------------------------------------

    def seal_version(
        self, dataset: str, *, run_id: str | None, members: MembersIn,
        message: str = "", author: str | None = None, split: str = "train",
    ) -> VersionInfo:
        """Create the dataset's next version from stored examples, sealed at once.

        ``members`` are (example_id, score) pairs, or an Arrow table / record-batch
        reader with ``example_id`` and ``score`` columns. They are streamed into
        DuckDB in batches, never held as one Python list. An id listed twice with
        the same score counts once; with different scores, or an id with no stored
        example, the seal fails and nothing is written.
        """
        check_dataset_name(dataset)
        problems: list[BaseException] = []
        reader = _members_reader(members, problems)

        def fill(con: duckdb.DuckDBPyConnection, version_id: str) -> None:
            name = "_seal_members_in"
            con.register(name, reader)
            try:
                con.execute(
                    "INSERT INTO member_rows (version_id, example_id, split, score) "
                    f"SELECT ?, example_id, ?, score FROM {quote_identifier(name)}",
                    [version_id, split],
                )
            except duckdb.Error as exc:
                if problems:  # the members stream itself failed: say why, not how DuckDB saw it
                    raise problems[0] from exc
                raise
            finally:
                with contextlib.suppress(duckdb.Error):  # refused in an aborted transaction
                    con.unregister(name)

        return self._seal(
            dataset, fill, run_id=run_id, operation="run" if run_id else "seal",
            message=message, author=author, exact_duplicates_ok=True,
        )

    def _seal(
        self, dataset: str, fill: Callable[[duckdb.DuckDBPyConnection, str], None], *,
        run_id: str | None, operation: str, message: str, author: str | None,
        derived_from: Sequence[str] = (), predicate: str | None = None,
        exact_duplicates_ok: bool = False,
    ) -> VersionInfo:
        """The one way a version is made: members, hashes and checks, version row last.

        ``fill(con, version_id)`` inserts the member rows. With
        ``exact_duplicates_ok``, a member listed twice with the same score and
        split is kept once (rare, so it costs a second pass only when it happens).
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        created_at = _arrow.now_utc()
        with self._write("seal version") as con:
            last = first_row(con.execute(
                "SELECT seq, version_id FROM version_rows WHERE dataset = ? ORDER BY seq DESC LIMIT 1",
                [dataset],
            ))
            seq, parent_id = (1, None) if last is None else (int(last[0]) + 1, str(last[1]))
            # Unique by construction (a fresh uuid); content is identified by the hashes.
            version_id = content_hash(["version", dataset, seq, parent_id, created_at, uuid.uuid4().hex])
            fill(con, version_id)
            digest = member_digest(con, version_id, check_known=True)
            if digest.duplicates and exact_duplicates_ok:
                _drop_exact_duplicates(con, version_id)
                digest = member_digest(con, version_id, check_known=True)
            if digest.duplicates:
                listed = ", ".join(repr(i) for i in digest.duplicates)
                raise StoreError(
                    f"cannot seal {dataset}@{seq}: example {listed} is listed twice with different "
                    "scores; list each example once"
                )
            if digest.unknown:
                listed = ", ".join(repr(i) for i in digest.unknown)
                raise StoreError(
                    f"cannot seal {dataset}@{seq}: unknown example ids {listed}; "
                    "save_candidates must store them first"
                )
            con.execute(
                "INSERT INTO version_rows (version_id, dataset, seq, parent_id, state, row_count, "
                "content_hash, run_id, message, author, created_at, operation, derived_from, "
                "predicate, members_hash) VALUES (?, ?, ?, ?, 'sealed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [version_id, dataset, seq, parent_id, digest.count, digest.content_hash, run_id,
                 message, author if author is not None else default_author(), created_at,
                 operation, list(derived_from), predicate, digest.members_hash],
            )
        return self._version_by_id(version_id)

    # -- versions made from versions, without re-running anything --------------------

    def derive(
        self, dataset: str, ref: str | int | _dt.datetime = LATEST, *, where: str,
        message: str | None = None, into: str | None = None, author: str | None = None,
    ) -> VersionInfo:
        """A new version of ``into`` (default: the same dataset) with the rows of
        ``dataset@ref`` for which the SQL predicate ``where`` holds.

        The predicate is an expression over dataset_rows' columns (example_id,
        kind, user_request, trace, answer, score, split, writer, body), e.g.
        ``kind = 'multi_step' AND score > 0.5``; it must parse as one expression
        and only read (``check_predicate``), else nothing is stored.
        """
        source = self.resolve(dataset, ref)
        target = check_dataset_name(into) if into is not None else source.dataset
        predicate = check_predicate(self.con, where)
        rows = (
            "SELECT e.example_id, e.kind, e.user_request, e.trace, e.answer, m.score, m.split, "
            "e.writer, e.body FROM member_rows AS m JOIN example_rows AS e "
            "ON e.example_id = m.example_id WHERE m.version_id = ?"
        )

        def fill(con: duckdb.DuckDBPyConnection, version_id: str) -> None:
            try:
                con.execute(
                    "INSERT INTO member_rows (version_id, example_id, split, score) "
                    f"SELECT ?, r.example_id, r.split, r.score FROM ({rows}) AS r WHERE (\n{predicate}\n)",
                    [version_id, source.version_id],
                )
            except duckdb.Error as exc:
                raise StoreError(
                    f"derive --where {predicate!r} failed on {source.dataset}@{source.version}: "
                    f"{first_line(exc)}"
                ) from exc

        return self._seal(
            target, fill, run_id=None, operation="derive", author=author,
            message=message if message is not None
            else f"derive {source.dataset}@{source.version} where {predicate}",
            derived_from=[source.version_id], predicate=predicate,
        )

    def merge(
        self, a: Ref, b: Ref, *, message: str | None = None, into: str | None = None,
        author: str | None = None,
    ) -> MergeResult:
        """A new version of ``into`` (default: a's dataset) with the union of two versions.

        Rows are matched by example_id. An example in both keeps the higher score
        (a NULL score loses to any number) and a's split; ``score_conflicts``
        counts the examples whose scores differed.
        """
        va, vb = self.resolve(*a), self.resolve(*b)
        target = check_dataset_name(into) if into is not None else va.dataset
        union = (
            "SELECT example_id, split, score, 0 AS side FROM member_rows WHERE version_id = $2 "
            "UNION ALL "
            "SELECT example_id, split, score, 1 AS side FROM member_rows WHERE version_id = $3"
        )
        conflicts = first_row(self.con.execute(
            f"SELECT count(*) FROM (SELECT example_id FROM ({union.replace('$2', '$1').replace('$3', '$2')}) "
            "GROUP BY example_id HAVING count(*) > 1 "
            "AND (min(score) <> max(score) OR count(score) = 1))",
            [va.version_id, vb.version_id],
        ))

        def fill(con: duckdb.DuckDBPyConnection, version_id: str) -> None:
            con.execute(
                "INSERT INTO member_rows (version_id, example_id, split, score) "
                f"SELECT $1, example_id, arg_min(split, side), max(score) FROM ({union}) "
                "GROUP BY example_id",
                [version_id, va.version_id, vb.version_id],
            )

        version = self._seal(
            target, fill, run_id=None, operation="merge", author=author,
            message=message if message is not None
            else f"merge {va.dataset}@{va.version} and {vb.dataset}@{vb.version}",
            derived_from=[va.version_id, vb.version_id],
        )
        return MergeResult(version=version, score_conflicts=int(conflicts[0]) if conflicts else 0)

    def rollback(
        self, dataset: str, ref: str | int | _dt.datetime, *, message: str | None = None,
        author: str | None = None,
    ) -> VersionInfo:
        """A new latest version of ``dataset`` with exactly the rows (and scores,
        splits) of ``dataset@ref``, as Delta's RESTORE does: history is kept, the
        old version is not made latest again."""
        source = self.resolve(dataset, ref)

        def fill(con: duckdb.DuckDBPyConnection, version_id: str) -> None:
            con.execute(
                "INSERT INTO member_rows (version_id, example_id, split, score) "
                "SELECT ?, example_id, split, score FROM member_rows WHERE version_id = ?",
                [version_id, source.version_id],
            )

        return self._seal(
            source.dataset, fill, run_id=None, operation="rollback", author=author,
            message=message if message is not None
            else f"rollback to {source.dataset}@{source.version}",
            derived_from=[source.version_id],
        )

    def add_members(self, version_id: str, members: Sequence[tuple[str, float | None]]) -> None:
        """Always refuses: a sealed version never changes. Seal a new version instead."""
        info = self._version_by_id(version_id)
        raise SealedVersionError(
            f"{info.dataset}@{info.version} is sealed and cannot change; seal a new version "
            "of the dataset with the members it should have"
        )

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
        """True when the version's members still hash to what was recorded at sealing.

        Both hashes are recomputed: ``content_hash`` (the member ids) and, for
        versions that record one, ``members_hash`` (ids, splits and scores), so a
        member row added, deleted or updated by raw SQL makes this False. So does a
        member's stored chat rendering (what the trl-sft export copies, m005) that no
        longer matches its render hash (``_rendered``).
        """
        self._version_by_id(version_id)
        recorded = first_row(self.con.execute(
            "SELECT content_hash, row_count, members_hash FROM version_rows WHERE version_id = ?",
            [version_id],
        ))
        assert recorded is not None  # _version_by_id found it
        digest = member_digest(self.con, version_id)
        if digest.content_hash != recorded[0] or digest.count != recorded[1]:
            return False
        if recorded[2] is not None and digest.members_hash != recorded[2]:
            return False
        return self._renderings_intact(version_id)

    def diff(self, a: Ref, b: Ref, *, limit: int = 10) -> VersionDiff:
        """Row-level diff of two versions: counts, and up to ``limit`` rows of each change.

        Rows are keyed by task key (same trace and kind): see the dataset_diff
        macro for the rules. Both versions may belong to different datasets.
        """
        if limit < 0:
            raise ValueError("limit must be 0 or more")
        va, vb = self.resolve(*a), self.resolve(*b)
        columns = list(CONTRACT_COLUMNS["dataset_diff"])
        cur = self.con.execute(
            "WITH d AS MATERIALIZED (SELECT * FROM version_diff($1, $2)), "
            "n AS (SELECT count(*) FILTER (WHERE change = 'added') AS added, "
            "count(*) FILTER (WHERE change = 'removed') AS removed, "
            "count(*) FILTER (WHERE change = 'changed') AS changed FROM d), "
            "shown AS (SELECT * FROM (SELECT d.*, row_number() OVER (PARTITION BY change "
            "ORDER BY task_key, example_id_a, example_id_b) AS k FROM d) WHERE k <= $3) "
            f"SELECT n.added, n.removed, n.changed, {', '.join('s.' + c for c in columns)} "
            "FROM n LEFT JOIN shown AS s ON true "
            "ORDER BY s.change, s.task_key, s.example_id_a, s.example_id_b",
            [va.version_id, vb.version_id, limit],
        )
        out = cur.fetchall()
        added, removed, changed = (int(x) for x in out[0][:3]) if out else (0, 0, 0)
        rows = [tuple(r[3:]) for r in out if r[3] is not None]
        unchanged = va.row_count - removed - changed
        return VersionDiff(a=va, b=vb, added=added, removed=removed, changed=changed,
                           unchanged=unchanged, columns=columns, rows=rows)

    def gc(self, *, keep_last: int = 10, dry_run: bool = False, dataset: str | None = None) -> GcReport:
        """Expire untagged versions beyond the newest ``keep_last`` per dataset, then
        collect rows nothing kept references (see ``_gc`` for exactly which).

        Tagged versions and each dataset's latest are never expired. With
        ``dry_run`` nothing changes (a read-only store may be used) and the report
        says what would go.
        """
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise ConfigError(
                f"--keep-last {keep_last!r}: keep at least 1 version per dataset (the latest is "
                "never expired)"
            )
        if dataset is not None:
            check_dataset_name(dataset)
            if first_row(self.con.execute("SELECT 1 FROM version_rows WHERE dataset = ? LIMIT 1",
                                          [dataset])) is None:
                raise VersionNotFound(f"gc --dataset {dataset}: dataset {dataset!r} {self._known(dataset)}")
        if dry_run:
            con = self.con
            started = self._depth == 0
            if started:
                con.execute("BEGIN TRANSACTION")
            try:
                return _gc.plan_and_apply(con, keep_last=keep_last, dataset=dataset, apply=False,
                                          now=_arrow.now_utc())
            except duckdb.Error as exc:
                raise translate_error(exc, self.path, "gc --dry-run") from exc
            finally:
                if started:
                    con.execute("ROLLBACK")
        with self._write("gc") as con:
            report = _gc.plan_and_apply(con, keep_last=keep_last, dataset=dataset, apply=True,
                                        now=_arrow.now_utc())
        if self._depth == 0:
            # Lets DuckDB reuse the freed blocks now. Only an optimisation: with another
            # transaction open in this process it is refused, and DuckDB checkpoints later.
            with contextlib.suppress(duckdb.Error):
                self.con.execute("CHECKPOINT")
        return report


def _drop_exact_duplicates(con: duckdb.DuckDBPyConnection, version_id: str) -> None:
    """Keep one of each identical member row of a version being sealed."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _seal_distinct AS "
        "SELECT DISTINCT version_id, example_id, split, score FROM member_rows WHERE version_id = ?",
        [version_id],
    )
    con.execute("DELETE FROM member_rows WHERE version_id = ?", [version_id])
    con.execute("INSERT INTO member_rows SELECT * FROM _seal_distinct")
    con.execute("DROP TABLE temp._seal_distinct")


def _members_reader(members: MembersIn, problems: list[BaseException]) -> pa.RecordBatchReader:
    """Members as a stream of Arrow batches (example_id: string, score: float64).

    An Arrow table or reader passes through (cast to that schema); pairs from
    Python are consumed ``_MEMBER_BATCH`` at a time, so only one batch of them
    is ever held. A bad pair fails inside DuckDB's scan; its StoreError is also
    put in ``problems`` so that the caller can raise it instead of DuckDB's view.
    """
    if isinstance(members, pa.RecordBatchReader):
        return _cast_reader(members)
    if isinstance(members, pa.Table):
        return _cast_reader(members.to_reader())

    def batches() -> Iterator[pa.RecordBatch]:
        pairs = iter(members)
        while chunk := list(itertools.islice(pairs, _MEMBER_BATCH)):
            try:
                ids, scores = zip(*chunk, strict=True)
                yield pa.record_batch(
                    [pa.array(ids, pa.string()), pa.array(scores, pa.float64())],
                    schema=_MEMBERS_IN_SCHEMA,
                )
            except (TypeError, ValueError, pa.ArrowException) as exc:
                problem = StoreError(
                    f"members must be (example_id: str, score: float | None) pairs: {exc}"
                )
                problem.__cause__ = exc
                problems.append(problem)
                raise problem from exc

    return pa.RecordBatchReader.from_batches(_MEMBERS_IN_SCHEMA, batches())


def _cast_reader(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    names = reader.schema.names
    if "example_id" not in names or "score" not in names:
        raise StoreError(
            f"Arrow members need columns example_id and score; got {', '.join(names) or 'none'}"
        )
    if reader.schema.equals(_MEMBERS_IN_SCHEMA):
        return reader
    try:  # fail now, not half-way through the stream, if the columns cannot be cast
        pa.schema([reader.schema.field("example_id"), reader.schema.field("score")]).empty_table() \
            .cast(_MEMBERS_IN_SCHEMA)
    except (pa.ArrowException, ValueError) as exc:
        raise StoreError(f"Arrow members: example_id must be text and score a number: {exc}") from exc

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(["example_id", "score"])
            yield from table.cast(_MEMBERS_IN_SCHEMA).to_batches()

    return pa.RecordBatchReader.from_batches(_MEMBERS_IN_SCHEMA, batches())
