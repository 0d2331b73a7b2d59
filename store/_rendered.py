"""Each example's chat rendering, stored beside it (m005), and the streamed reads exports use.

    example_rows
      + chat_messages VARCHAR[]  compact JSON text of each chat message  (schemas.render_example)
      + chat_tools    VARCHAR[]  compact JSON text of each tool offered
      + chat_numeric  INTEGER[]  positions (messages, then tools) of texts holding a float or a
                                 16+ digit integer: the only ones ``datasets`` may load changed
      + variant_key   VARCHAR    what the variants of one task share; the seeded split draws by it
      + chat_stamp    VARCHAR    schemas.rendering_stamp() when the rendering is a valid trl-sft
                                 row, else NULL
      + render_hash   VARCHAR    md5 over all of the above plus ``kind`` and the trace's tool
                                 names: what ``Store.verify`` recomputes

Every example is rendered when it is written (``rendered_columns``, called by
``_arrow.examples_table``), from the example parsed back from the canonical JSON about to be
stored, so the texts are the ones an export renders from the stored body (see
schemas/_rendering.py). ``m005_render_chat`` backfills rows stored before. A row that cannot be
rendered keeps NULLs; exports read its body instead.

Tampering: the trl-sft export writes these texts as they are, so ``Store.verify`` checks, for
every member of a version, that ``render_hash`` still matches the rendering columns, ``kind``
and the trace's tool names (what the export filters read), as it checks the member hashes; a
rendering changed in place by raw SQL makes ``verify`` False.

Reads for exports, in storage order and bounded memory
-------------------------------------------------------
A version's rows are exported in the order ``example_rows`` holds them (the order they were
first stored), not sorted by id: sorting a million bodies by id made DuckDB hold them all (3.5 GB
at 1M rows, bench/export.py). ``export_keys`` makes one pass over the version's members, joined
with their examples ``MEMBER_CHUNK`` members at a time, reading only small columns (row id,
score, split, kind, variant key, stamp; the trace only for a tools filter); it applies the
SQL-expressible filters and the seeded split and returns the kept rows' row ids in storage order
with their splits: about 20 bytes per row. ``iter_rendered`` then reads the payload in row-id
ranges of ``CHUNK_ROWS`` kept rows (a range read is sequential: DuckDB prunes by row id; a range
holding rows of other versions is narrowed by a semi join), so only one chunk is ever held.
``iter_version_examples`` streams parsed bodies the same way and in the same order, for the
exports that build rows in Python.

Row ids are positions: stable within the snapshot one export reads (each read runs in one
transaction on its own cursor), and DuckDB keeps rows in the order they were inserted. An
UPDATE of a list column re-inserts the row at the end, so m005's backfill changed the storage
order once; nothing updates example_rows afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from schemas import Example, ExportFilters, StoreError, render_example, rendering_stamp

from ._connection import first_row, translate_error

RENDERED_COLUMNS = ("chat_messages", "chat_tools", "chat_numeric", "variant_key", "chat_stamp", "render_hash")

M005_COLUMNS: tuple[str, ...] = (
    "ALTER TABLE example_rows ADD COLUMN chat_messages VARCHAR[]",
    "ALTER TABLE example_rows ADD COLUMN chat_tools VARCHAR[]",
    "ALTER TABLE example_rows ADD COLUMN chat_numeric INTEGER[]",
    "ALTER TABLE example_rows ADD COLUMN variant_key VARCHAR",
    "ALTER TABLE example_rows ADD COLUMN chat_stamp VARCHAR",
    "ALTER TABLE example_rows ADD COLUMN render_hash VARCHAR",
)

RENDERED_ARROW = [
    ("chat_messages", pa.list_(pa.string())),
    ("chat_tools", pa.list_(pa.string())),
    ("chat_numeric", pa.list_(pa.int32())),
    ("variant_key", pa.string()),
    ("chat_stamp", pa.string()),
    ("render_hash", pa.string()),
]

# The render hash in SQL; ``render_hash`` below is the same definition in Python. JSON text never
# holds a raw control character, so chr(30)/chr(31) cannot be confused with the texts' own bytes.
RENDER_HASH_SQL = (
    "md5(concat_ws(chr(31), e.kind, "
    "array_to_string(json_extract_string(e.trace, '$.steps[*].tool'), chr(30)), "
    "e.variant_key, coalesce(e.chat_stamp, ''), array_to_string(e.chat_numeric, ','), "
    "array_to_string(e.chat_messages, chr(30)), array_to_string(e.chat_tools, chr(30))))"
)
_UNRENDERED_SQL = " AND ".join(f"e.{c} IS NULL" for c in RENDERED_COLUMNS[:-1])

MEMBER_CHUNK = 262_144
"""Member rows joined with their examples at a time, when collecting a version's keys."""
CHUNK_ROWS = 8192
"""Rows of payload read at a time (``iter_rendered``)."""

DROP_REASONS = ("min_score", "kinds", "tools", "not_measured", "pass_rate_band")
"""What ``export_keys`` can drop a row for, in the order the filters apply (dedup is not SQL)."""


def render_hash(kind: str, call_tools: Sequence[str], messages: Sequence[str], tools: Sequence[str],
                numeric: Sequence[int], variant_key: str, stamp: str | None) -> str:
    """``RENDER_HASH_SQL`` in Python (the same bytes hashed)."""
    parts = [kind, "\x1e".join(call_tools), variant_key, stamp or "", ",".join(map(str, numeric)),
             "\x1e".join(messages), "\x1e".join(tools)]
    return hashlib.md5("\x1f".join(parts).encode("utf-8")).hexdigest()


def rendered_columns(body: str) -> dict[str, Any]:
    """The m005 columns of one example, given the canonical JSON text its ``body`` will hold."""
    try:
        example = Example.model_validate_json(body)
        rendered = render_example(example)
    except ValueError:  # a body that does not parse back, or a value JSON cannot hold
        return dict.fromkeys(RENDERED_COLUMNS)
    call_tools = [step.tool for step in example.trace.steps]
    return {
        "chat_messages": list(rendered.messages),
        "chat_tools": list(rendered.tools),
        "chat_numeric": list(rendered.numeric),
        "variant_key": rendered.variant_key,
        "chat_stamp": rendered.stamp,
        "render_hash": render_hash(example.task.kind, call_tools, rendered.messages, rendered.tools,
                                   rendered.numeric, rendered.variant_key, rendered.stamp),
    }


def rendered_table(ids: Sequence[str], bodies: Sequence[str]) -> pa.Table:
    rows = [rendered_columns(b) for b in bodies]
    columns: dict[str, pa.Array] = {"example_id": pa.array(ids, pa.string())}
    for name, kind in RENDERED_ARROW:
        columns[name] = pa.array([r[name] for r in rows], kind)
    return pa.table(columns)


_BACKFILL_BATCH = 2048


def m005_render_chat(con: duckdb.DuckDBPyConnection) -> None:
    """Each example's chat rendering, stamp and render hash, beside it (issue 7: a trl-sft export
    of a million rows copies the rendering instead of parsing a million bodies).

    Rows already stored are rendered from their bodies here: read in row-id ranges, rendered
    into a temporary table, then set by one UPDATE (which re-inserts the rows: their storage
    order changes once, here).
    """
    for statement in M005_COLUMNS:
        con.execute(statement)
    top = first_row(con.execute("SELECT max(rowid) FROM example_rows"))
    if top is None or top[0] is None:
        return
    con.execute("CREATE TEMP TABLE _m005_rendered (example_id VARCHAR, chat_messages VARCHAR[], "
                "chat_tools VARCHAR[], chat_numeric INTEGER[], variant_key VARCHAR, chat_stamp VARCHAR, "
                "render_hash VARCHAR)")
    for start in range(0, int(top[0]) + 1, _BACKFILL_BATCH):
        found = con.execute(
            "SELECT example_id, body FROM example_rows WHERE rowid >= ? AND rowid < ?",
            [start, start + _BACKFILL_BATCH],
        ).fetchall()
        if not found:
            continue
        table = rendered_table([r[0] for r in found], [r[1] for r in found])
        con.register("_m005_batch", table)
        try:
            con.execute("INSERT INTO _m005_rendered SELECT * FROM _m005_batch")
        finally:
            con.unregister("_m005_batch")
    con.execute(
        "UPDATE example_rows AS e SET " + ", ".join(f"{c} = r.{c}" for c in RENDERED_COLUMNS)
        + " FROM _m005_rendered AS r WHERE e.example_id = r.example_id"
    )
    con.execute("DROP TABLE temp._m005_rendered")


# -- reads for exports -----------------------------------------------------------------------------


@dataclass
class ExportKeys:
    """What ``export_keys`` found: counts per drop reason, and the kept rows in storage order."""

    version_id: str
    read: int
    dropped: dict[str, int]
    rowids: pa.Array
    """Row ids (int64) of the kept rows, ascending: the export order."""
    splits: pa.Array
    """Each kept row's split: drawn (``filters.split``) or as the version stores it."""
    unready: pa.Array
    """Row ids of the kept rows without today's rendering stamp (their rendering failed the
    trl-sft row schema, could not be made, or was made by older code), ascending."""
    split_names: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return len(self.rowids)


def _split_sql(fractions: dict[str, float], seed: int, params: dict[str, Any]) -> tuple[str, str]:
    """(the split ``exporters.split_of`` draws as a CASE over ``u``, the expression of ``u``):
    u = the first 8 bytes of sha256("<seed>:<variant key>") as a big-endian integer / 2**64 (the
    nearest double divided by a power of two, as Python's int / int gives), compared with the
    running totals of the fractions, summed in the same order as in Python."""
    params["seed_prefix"] = f"{seed}:"
    u = ("(('0x' || substr(sha256($seed_prefix || e.variant_key), 1, 16))::UBIGINT::DOUBLE "
         "/ 18446744073709551616.0)")
    names = list(fractions)
    whens: list[str] = []
    total = 0.0
    for k, name in enumerate(names[:-1]):
        total += fractions[name]
        params[f"total{k}"], params[f"name{k}"] = total, name
        whens.append(f"WHEN u < $total{k} THEN $name{k}")
    params["last_name"] = names[-1]
    return (f"CASE {' '.join(whens)} ELSE $last_name END" if whens else "$last_name"), u


class RenderedMixin:
    """Store methods behind the fast trl-sft export and the storage-ordered Python export."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...
        path: Path

        def _version_by_id(self, version_id: str) -> Any: ...

    @contextmanager
    def _export_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in its own read transaction: row ids stay valid while a read streams."""
        cur = self.con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            yield cur
        finally:
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass
            cur.close()

    def _member_keys(self, version_id: str, select: str, params: dict[str, Any], action: str) -> pa.Table:
        """``select`` (which names the rows as ``{members}``: a version's member rows ``m``
        joined with their examples ``e``) over the members in ranges of ``MEMBER_CHUNK`` member
        row ids, so that DuckDB's join holds one range of members at a time (a version's members
        were inserted together and sit side by side); the rows come back sorted by ``r``, the
        example's row id."""
        span = first_row(self.con.execute(
            "SELECT min(rowid), max(rowid) FROM member_rows WHERE version_id = ?", [version_id]))
        low, high = (0, -1) if span is None or span[0] is None else (int(span[0]), int(span[1]))
        members = ("(SELECT example_id, score, split FROM member_rows WHERE version_id = $version_id "
                   "AND rowid BETWEEN $low AND $high) AS m "
                   "JOIN example_rows AS e ON e.example_id = m.example_id")
        sql = select.replace("{members}", members)
        parts: list[pa.Table] = []
        try:
            for start in range(low, max(high, low) + 1, MEMBER_CHUNK):
                bounds = {"version_id": version_id, "low": start, "high": start + MEMBER_CHUNK - 1}
                parts.append(self.con.sql(sql, params={**params, **bounds}).to_arrow_table())
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, action) from exc
        table = pa.concat_tables(parts)
        return table.take(pc.sort_indices(table.column("r")))

    def _renderings_intact(self, version_id: str) -> bool:
        """True when every member's rendering columns still match their render hash."""
        row = first_row(self.con.execute(
            "SELECT count(*) FROM member_rows AS m JOIN example_rows AS e ON e.example_id = m.example_id "
            "WHERE m.version_id = ? AND e.render_hash IS DISTINCT FROM "
            f"(CASE WHEN {_UNRENDERED_SQL} THEN NULL ELSE {RENDER_HASH_SQL} END)",
            [version_id],
        ))
        return row is not None and int(row[0]) == 0

    def export_keys(self, version_id: str, filters: ExportFilters) -> ExportKeys:
        """One pass over a version's members: the SQL-expressible filters (min_score, kinds,
        tools, pass_rate_band, in that order), the seeded split, the kept rows' row ids in storage
        order. ``filters.dedup`` is not applied here (it normalises text in Python): ValueError.
        """
        if filters.dedup:
            raise ValueError("export_keys cannot dedup; select rows in Python for --dedup")
        self._version_by_id(version_id)
        params: dict[str, Any] = {"stamp": rendering_stamp()}
        reasons: list[str] = []
        joins = ""
        if filters.min_score is not None:
            reasons.append("WHEN m.score IS NULL OR m.score < $min_score THEN 'min_score'")
            params["min_score"] = filters.min_score
        if filters.kinds:
            reasons.append("WHEN NOT list_contains($kinds::VARCHAR[], e.kind) THEN 'kinds'")
            params["kinds"] = list(filters.kinds)
        if filters.tools:
            reasons.append("WHEN NOT list_has_any(json_extract_string(e.trace, '$.steps[*].tool'), "
                           "$tools::VARCHAR[]) THEN 'tools'")
            params["tools"] = list(filters.tools)
        if filters.pass_rate_band is not None:
            joins = (" LEFT JOIN (SELECT example_id, sum(passes)::DOUBLE / sum(attempts) AS rate "
                     "FROM difficulty WHERE attempts > 0 GROUP BY example_id) AS d "
                     "ON d.example_id = m.example_id")
            reasons.append("WHEN d.rate IS NULL THEN 'not_measured'")
            reasons.append("WHEN NOT (d.rate >= $lo AND d.rate <= $hi) THEN 'pass_rate_band'")
            params["lo"], params["hi"] = (float(x) for x in filters.pass_rate_band)
        reason = f"CASE {' '.join(reasons)} END" if reasons else "NULL::VARCHAR"
        if filters.split:
            split, u = _split_sql(filters.split, filters.split_seed, params)
        else:
            split, u = "stored_split", "NULL::DOUBLE"
        table = self._member_keys(
            version_id,
            f"SELECT r, reason, {split} AS split, ready FROM ("
            f"SELECT e.rowid AS r, {reason} AS reason, m.split AS stored_split, {u} AS u, "
            "e.chat_stamp IS NOT DISTINCT FROM $stamp AS ready FROM {members}" + joins + ")",
            params, "export: selecting rows",
        )
        reason_col = table.column("reason").combine_chunks()
        dropped = dict.fromkeys(DROP_REASONS, 0)
        for item in pc.value_counts(reason_col).to_pylist():
            if item["values"] is not None:
                dropped[item["values"]] = int(item["counts"])
        kept = table.filter(pc.is_null(reason_col))
        unready = kept.filter(pc.invert(kept.column("ready"))).column("r")
        return ExportKeys(
            version_id=version_id, read=table.num_rows, dropped=dropped,
            rowids=kept.column("r").combine_chunks().cast(pa.int64()),
            splits=kept.column("split").combine_chunks().cast(pa.string()),
            unready=unready.combine_chunks().cast(pa.int64()),
            split_names=list(filters.split) if filters.split else [],
        )

    def iter_rendered(self, keys: ExportKeys, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
        """The kept rows' renderings, in export order, one table of up to ``chunk_rows`` rows at
        a time: example_id, split, chat_messages, chat_tools, chat_numeric."""
        for chunk, splits in _chunks(self, keys.rowids, keys.splits, chunk_rows,
                                     "example_id, chat_messages, chat_tools, chat_numeric"):
            yield chunk.append_column("split", splits)

    def iter_unready_examples(self, keys: ExportKeys, *, batch_size: int = 1000) -> Iterator[Example]:
        """The kept rows of ``keys`` without today's rendering stamp, parsed, in export order."""
        for chunk, _ in _chunks(self, keys.unready, keys.unready, batch_size, "body"):
            for body in chunk.column("body").to_pylist():
                yield Example.model_validate_json(body)

    def iter_version_examples(
        self, version_id: str, *, batch_size: int = 1000
    ) -> Iterator[tuple[Example, float | None, str]]:
        """(example, score, split) of one version in export order (the order the store holds the
        examples), parsing one batch of bodies at a time."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._version_by_id(version_id)
        keys = self._member_keys(version_id, "SELECT e.rowid AS r, m.score, m.split FROM {members}", {},
                                 "export: reading the version")
        extra = pa.table({"score": keys.column("score"), "split": keys.column("split")})
        rowids = keys.column("r").combine_chunks().cast(pa.int64())
        for chunk, members in _chunks(self, rowids, extra, batch_size, "body"):
            scores, splits = members.column("score").to_pylist(), members.column("split").to_pylist()
            for body, score, split in zip(chunk.column("body").to_pylist(), scores, splits, strict=True):
                yield Example.model_validate_json(body), score, split


def _chunks(store: RenderedMixin, rowids: pa.Array, extra: Any, chunk_rows: int,
            columns: str) -> Iterator[tuple[pa.Table, Any]]:
    """``columns`` of the rows at ``rowids`` (ascending), ``chunk_rows`` at a time, in that order,
    each with the matching slice of ``extra``."""
    with store._export_cursor() as cur:
        for start in range(0, len(rowids), chunk_rows):
            wanted = rowids.slice(start, chunk_rows)
            lo, hi = wanted[0].as_py(), wanted[-1].as_py()
            # The row-id range prunes the scan. When it holds only wanted rows (a version whose
            # examples were stored together) it is read as it is; else a semi join keeps them.
            dense = hi - lo + 1 == len(wanted)
            if not dense:
                cur.register("_export_rowids", pa.table({"r": wanted}))
            try:
                table = cur.sql(
                    f"SELECT rowid AS _r, {columns} FROM example_rows WHERE rowid BETWEEN ? AND ?"
                    + ("" if dense else " AND rowid IN (SELECT r FROM _export_rowids)"),
                    params=[lo, hi],
                ).to_arrow_table()
            except duckdb.Error as exc:
                raise translate_error(exc, store.path, "export: reading rows") from exc
            finally:
                if not dense:
                    cur.unregister("_export_rowids")
            if table.num_rows != len(wanted):
                raise StoreError(
                    f"export: {len(wanted) - table.num_rows} rows of {store.path} vanished while "
                    "reading them; export again"
                )
            got = table.column("_r")
            if not pc.all(pc.equal(got, wanted)).as_py():
                table = table.take(pc.sort_indices(got))
            yield table.drop_columns(["_r"]), extra.slice(start, chunk_rows)
