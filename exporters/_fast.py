"""The vectorized trl-sft parquet export: stored renderings into parquet, no body parsed.

    export_version(store, version, fmt="trl-sft", out="x.parquet", filters)
        plan_fast_export: trl-sft, .parquet, default options, no --dedup, every kept row rendered
        and stamped  ─> Store.export_keys (one pass over small columns: filters, seeded split)
                     ─> Store.iter_rendered (row-id range chunks, read ahead by a thread
                        while the previous chunk is written) ─> ParquetSink.add_table
        otherwise    ─> the Python path (select_rows ─> TrlSftFormat.row ─> RowChecker ─> sinks)

Which path runs is invisible except in speed: both write the same bytes (tests/exporters/
test_fast_export.py exports real versions holding every task kind through both and compares
the files and manifests). The Python path parses each stored body with pydantic (~1 ms with a
dozen tool schemas), builds the row, checks it and converts it to Arrow: a few thousand rows a
second. Here a row costs no Python at all: the store rendered every example once, when it wrote
it (``schemas.render_example``, store/_rendered.py), and a trl-sft row is exactly
``{"messages": chat_messages, "tools": chat_tools}``.

Why the bytes are the same
--------------------------
* Texts: the Python path writes ``compact_json`` of each of ``conversation(example)`` and
  ``function_tools(example)``, for the example pydantic parses from the stored body. The store
  rendered the same functions, through the same ``compact_json``, over the example pydantic
  parsed from the same canonical JSON text before storing it. Same parser, same input, same
  functions: same text, float digits and key order included.
* Rows and order: ``Store.export_keys`` applies min_score, kinds, tools and pass_rate_band with
  the Python filters' definitions (same SQL for pass rates, same comparisons) and draws the split
  as ``split_of`` does (sha256 of "<seed>:<variant key>", the first 8 bytes over 2**64); both
  paths read the version in storage order (``Store.iter_version_examples`` for the Python path).
* Files: the same ``ParquetSink`` (schema, ``datasets`` metadata, writer options) receives the
  same rows in row groups of exactly ``BATCH`` rows, each written as one contiguous Arrow table,
  as the Python path's buffer flushes them.

Why every exported row is still checked against the trl-sft JSON Schema
-----------------------------------------------------------------------
``render_example`` checks the row ``{"messages": chat_messages, "tools": chat_tools}`` against
``json_schema("export-trl-sft")`` (the compiled check, jsonschema's verdict) when the store
writes the example, and stamps a valid one with ``rendering_stamp()``: a hash of that very
schema and ``RENDERING_VERSION``. This path runs only when every kept row carries today's stamp,
and it writes exactly the two stamped lists as the row's two columns, nothing added, so every
row it writes is one that was validated against the schema the Python path would check it
against now. A row without today's stamp (it failed the check, could not be rendered, or was
rendered by older code or against an older schema) sends the whole export down the Python
path; first those rows alone are built and checked (up to ``PRECHECK_LIMIT`` of them), so an
invalid one fails at once with the usual one-line ExportError naming the example and the field
(jsonschema's report) and nothing is written. Stored renderings changed behind the store's back are what ``Store.verify`` detects
(each member's render hash), as it does for member rows.

load_drift
----------
The manifest lists values ``datasets``' JSON decoder will load changed. Only a text holding a
float or a 16+ digit integer can load changed; the store recorded which texts do
(``chat_numeric``). Those texts are gathered per chunk with Arrow, each distinct text is decoded
once (``_drift.drift_of``, the Python path's own test), and the entries are listed in row
order (messages, then tools), the first ``LOAD_DRIFT_LIMIT`` of them, all counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from schemas import ExportError, ExportFilters, ExportSelection, LoadDrift, VersionInfo

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions
from ._drift import LOAD_DRIFT_LIMIT, DriftLog, drift_of
from ._export import ParquetSink, RowChecker, build_row, split_file_name
from ._filters import DROP_REASONS
from ._staging import Staging

_TINY = 1e-12
"""A pass rate above 0 and below every measurable one (passes / attempts)."""

if TYPE_CHECKING:
    from store import Store
    from store._rendered import ExportKeys

CHUNK_ROWS = 8192
"""Rows read from the store at a time (one Arrow table); memory is bounded by this, not by N."""
PRECHECK_LIMIT = 10_000
"""Rows without a valid stored rendering that are checked before the Python path starts (an
invalid one fails at once). More than this (renderings stamped by older code) go straight to
the Python path, which checks every row anyway, rather than being parsed twice."""
_SCHEMA = "export-trl-sft"


@dataclass
class FastExport:
    """A planned fast export: the store, the kept rows' keys, what the manifest records."""

    store: Store
    keys: ExportKeys
    writer: ExportFormat
    out: Path

    filters: ExportFilters | None = None

    def selection(self) -> ExportSelection:
        dropped = dict.fromkeys(DROP_REASONS, 0)
        dropped.update(self.keys.dropped)
        return ExportSelection(rows_in_version=self.keys.read, rows_kept=self.keys.kept, dropped=dropped,
                               zero_variance=self._zero_variance(dropped["pass_rate_band"]))

    def _zero_variance(self, band_dropped: int) -> int:
        """Of the rows the band dropped, those measured at 0 or 1 (as ``select_rows`` counts them).

        ``export_keys`` counts by reason only, so ask it twice more with the band moved to just
        above 0 (it then drops exactly the rows measured at 0 that passed the earlier filters)
        and to just below 1; a band that keeps 0 (or 1) dropped none of them."""
        filters = self.filters
        if filters is None or filters.pass_rate_band is None or band_dropped == 0:
            return 0
        lo, hi = filters.pass_rate_band
        count = 0
        for edge, kept_by_band in (((_TINY, 1.0), lo <= 0.0), ((0.0, 1.0 - _TINY), hi >= 1.0)):
            if not kept_by_band:
                probe = filters.model_copy(update={"pass_rate_band": edge, "split": None})
                count += self.store.export_keys(self.keys.version_id, probe).dropped.get("pass_rate_band", 0)
        return count


    def write(self, stage: Staging) -> tuple[list[DataFile], list[LoadDrift], list[Any]]:
        """Stream the renderings into one parquet file, or one per split."""
        names: list[str | None] = list(self.keys.split_names) or [None]
        drift = DriftLog()
        sinks: dict[str | None, ParquetSink] = {}
        try:
            for name in names:
                sinks[name] = ParquetSink(stage.path(split_file_name(self.out.name, name)), self.writer.features)
            for chunk in _prefetched(self.store.iter_rendered(self.keys, chunk_rows=CHUNK_ROWS)):
                _record_drift(chunk, drift)
                rows = _rows(chunk, sinks[names[0]].storage)
                if names == [None]:
                    sinks[None].add_table(rows)
                    continue
                split = chunk.column("split")
                for name in names:
                    sinks[name].add_table(rows.filter(pc.equal(split, name)))
        except OSError as exc:
            raise ExportError(f"cannot write {self.out}: {exc.strerror or exc}") from exc
        finally:
            for sink in sinks.values():
                sink.close()
        data = [DataFile(split_file_name(self.out.name, n), n, sinks[n].rows) for n in names]
        return data, drift, []


def _prefetched(chunks: Iterator[pa.Table], depth: int = 2) -> Iterator[pa.Table]:
    """``chunks``, read ahead by a thread: DuckDB reads the next chunk while this one is checked
    for drift and written (both release the GIL), at most ``depth`` chunks waiting."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        queue.put(("chunk", chunk), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    break
            else:
                queue.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()  # in this thread: the store's cursor is closed where it was used

    reader = threading.Thread(target=produce, name="export-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let it see the stop; drain what it may still be putting
            try:
                queue.get(timeout=0.05)
            except Empty:
                pass
        reader.join()


def plan_fast_export(
    store: Store, version: VersionInfo, writer: ExportFormat, out: Path, filters: ExportFilters,
    options: ExportOptions,
) -> FastExport | None:
    """A fast export of ``version`` when it applies (see the module docstring), else None.

    Raises the Python path's ExportError when a kept row has no valid stored rendering and
    fails its schema, before anything is written.
    """
    if writer.schema_name != _SCHEMA or out.suffix.lower() != ".parquet" or filters.dedup:
        return None
    if options != DEFAULT_OPTIONS:
        return None
    keys = store.export_keys(version.version_id, filters)
    if len(keys.unready):
        if len(keys.unready) <= PRECHECK_LIMIT:
            _check_unready(store, keys, writer, version, options)
        return None
    return FastExport(store=store, keys=keys, writer=writer, out=out, filters=filters)


def _check_unready(store: Store, keys: ExportKeys, writer: ExportFormat, version: VersionInfo,
                   options: ExportOptions) -> None:
    """Build and check, in export order, the kept rows that carry no current stamp: an invalid
    one raises the ExportError the Python path would raise when it reached it."""
    checker = RowChecker(writer.schema_name, writer.name)
    for example in store.iter_unready_examples(keys):
        checker.check(build_row(writer, example, None, "", 0, version, options), example)


def _rows(chunk: pa.Table, storage: pa.Schema) -> pa.Table:
    """The chunk as the sink's storage schema: messages and tools, lists of JSON texts."""
    return pa.table(
        [chunk.column("chat_messages").cast(storage.field("messages").type),
         chunk.column("chat_tools").cast(storage.field("tools").type)],
        schema=storage,
    )


def _record_drift(chunk: pa.Table, drift: DriftLog) -> None:
    """Add the chunk's drifting values to ``drift`` (see the module docstring)."""
    numeric = chunk.column("chat_numeric").combine_chunks()
    positions = pc.list_flatten(numeric)
    if len(positions) == 0:
        return
    rows = pc.list_parent_indices(numeric)
    messages = chunk.column("chat_messages").combine_chunks()
    tools = chunk.column("chat_tools").combine_chunks()
    n_messages = pc.take(pc.list_value_length(messages), rows)
    in_messages = pc.less(positions, n_messages)
    # position p of row r is messages[r][p], else tools[r][p - len(messages[r])]
    at = pc.indices_nonzero(in_messages)
    from_messages = pc.take(pc.list_flatten(messages), pc.subtract(
        pc.add(pc.take(pc.take(messages.offsets, rows), at), pc.take(positions, at)), messages.offsets[0]))
    at_tools = pc.indices_nonzero(pc.invert(in_messages))
    from_tools = pc.take(pc.list_flatten(tools), pc.subtract(
        pc.add(pc.take(pc.take(tools.offsets, rows), at_tools),
               pc.subtract(pc.take(positions, at_tools), pc.take(n_messages, at_tools))), tools.offsets[0]))
    gathered = pa.concat_arrays([from_messages, from_tools])
    texts = pc.take(gathered, pc.sort_indices(pa.concat_arrays([at, at_tools])))
    found = {t: drift_of(t, ".parquet") for t in pc.unique(texts).to_pylist()}
    drifting = [t for t, diffs in found.items() if diffs]
    if not drifting:
        return
    order = pc.indices_nonzero(pc.is_in(texts, value_set=pa.array(drifting, pa.string())))
    ids = chunk.column("example_id").combine_chunks()
    listed = 0
    while listed < len(order) and len(drift) < LOAD_DRIFT_LIMIT:  # list the first ones, in order
        i = order[listed].as_py()
        row, position, text = rows[i].as_py(), positions[i].as_py(), texts[i].as_py()
        n = n_messages[i].as_py()
        field = f"messages/{position}" if position < n else f"tools/{position - n}"
        for path, written, loaded in found[text]:
            drift.add(LoadDrift(example_id=ids[row].as_py(), field=field + path, written=written,
                                loaded=loaded))
        listed += 1
    if listed < len(order):  # the list is full: count the rest
        counts = pc.value_counts(pc.take(texts, order.slice(listed))).to_pylist()
        drift.total += sum(int(c["counts"]) * len(found[c["values"]]) for c in counts)

