"""The machinery every export shares: staging, streaming sinks, row checks, the manifest.

    rows ─> format.row() ─> RowChecker (JSON Schema) ─> Sink per split ─> staged files
                                                                             │
              format.extra_files(), RL sidecars ─> staged files ─> manifest ─┴─> commit (rename)

Nothing lands where the user looks until everything is complete: files are written into a
scratch directory beside the target (``Staging``) and renamed into place at the end, data
first and the manifest last, so a failure (a row that does not validate, a store that stops
answering) leaves the previous export, if any, untouched and no partial file behind.

Rows stream. A sink buffers ``BATCH`` rows and writes them: parquet through pyarrow's
``ParquetWriter`` (one row group per batch), JSON Lines as compact JSON text, keys in row
order, non-ASCII kept. Only the current batch is in memory, whatever the number of rows.
``ParquetSink.add_table`` takes rows already in Arrow (the fast trl-sft export, exporters/_fast.py)
and cuts them into the same row groups, so the file is the same bytes either way.
Parquet files carry the format's ``datasets.Features`` in the schema metadata exactly as
``Dataset.to_parquet`` writes them, so ``load_dataset("parquet")`` restores ``Json`` columns.
Writing with pyarrow directly rather than through ``Dataset.from_generator`` + ``to_parquet``
halves the work: those write an Arrow cache first, encoding every example in Python, then
read it back to write parquet (measured: bench/export.py). JSON Lines are written by the
standard library rather than ``Dataset.to_json``, which goes through pandas and rounds floats
to 10 decimals (datasets 5.2 / pandas 3.1: ``1.23456789012345`` became ``1.2345678901``).

Every row is checked against its format's JSON Schema (``RowChecker``): a fast check
(``schemas.compile_schema``: jsonschema-rs, see bench/fastschema.py) decides, and for a row that
fails, ``jsonschema`` names the field.

What datasets will load differently (its JSON decoder is not exact for some floats) is
recorded per value in the manifest's ``load_drift``; values without a float or a long integer
literal in their text cannot drift and are not decoded again. ``drift_of`` answers the same
question for a JSON text on its own (the fast path has texts, not values).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Json
from datasets.utils.json import ujson_dumps, ujson_loads
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from schemas import (
    Example,
    ExportedFile,
    ExportError,
    ExportFilters,
    ExportManifest,
    ExportSelection,
    LoadDrift,
    UnsupportedSchema,
    VersionInfo,
    compile_schema,
    json_schema,
)

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions, compact_json

MANIFEST_SUFFIX = ".manifest.json"
BATCH = 2000
"""Rows buffered per write (one parquet row group each)."""

Row = tuple[Example, float | None, str]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    format: str
    path: Path
    row_count: int
    sha256: str | None
    """sha256 of the data file when the export is one data file, else None (see ``files``)."""
    manifest_path: Path
    load_drift: tuple[LoadDrift, ...] = field(default=())
    """Values ``datasets.load_dataset`` will return changed (see the manifest's ``load_drift``)."""
    files: tuple[ExportedFile, ...] = field(default=())
    splits: tuple[tuple[str, int], ...] = field(default=())


# -- staging ------------------------------------------------------------------------------------


class Staging:
    """A scratch directory beside ``out``; ``commit`` renames what was staged into place."""

    def __init__(self, out: Path) -> None:
        self.root = out.parent
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=self.root)
        except OSError as exc:
            raise ExportError(f"cannot write to {self.root}: {exc.strerror or exc}") from exc
        self.scratch = Path(self._tmp.name)
        self._files: list[str] = []
        self._dirs: list[str] = []

    def path(self, rel: str) -> Path:
        """Where to write the file that will land at ``root/rel``."""
        target = self.scratch / "out" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self._files:
            self._files.append(rel)
        return target

    def directory(self, rel: str) -> Path:
        """A directory that replaces ``root/rel`` as a whole (an hf DatasetDict)."""
        target = self.scratch / "out" / rel
        target.mkdir(parents=True, exist_ok=True)
        if rel not in self._dirs:
            self._dirs.append(rel)
        return target

    def work(self, name: str) -> Path:
        """A scratch directory that is never committed."""
        target = self.scratch / "work" / name
        target.mkdir(parents=True, exist_ok=True)
        return target

    def staged_files(self) -> list[str]:
        """Every staged file (inside staged directories too), relative to ``root``, sorted."""
        out: set[str] = set(self._files)
        for rel in self._dirs:
            base = self.scratch / "out" / rel
            out |= {f"{rel}/{p.relative_to(base).as_posix()}" for p in base.rglob("*") if p.is_file()}
        return sorted(out)

    def staged(self, rel: str) -> Path:
        return self.scratch / "out" / rel

    def commit(self, last: str | None = None) -> None:
        """Rename directories, then files, into place; ``last`` (the manifest) goes last."""
        try:
            for rel in self._dirs:
                dest = self.root / rel
                if dest.is_dir():
                    os.replace(dest, self.work("replaced") / rel.replace("/", "_"))
                elif dest.exists():
                    raise ExportError(f"{dest} is a file; an hf export writes a directory there")
                os.replace(self.scratch / "out" / rel, dest)
            for rel in sorted(self._files, key=lambda r: r == last):
                dest = self.root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.scratch / "out" / rel, dest)
        except OSError as exc:
            raise ExportError(f"cannot write into {self.root}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- row checks ---------------------------------------------------------------------------------


class RowChecker:
    """Checks rows against a format's JSON Schema; ExportError names the example and field."""

    def __init__(self, schema_name: str, format_name: str) -> None:
        self.schema_name = schema_name
        self.format_name = format_name
        schema = json_schema(schema_name)
        self._validator = Draft202012Validator(schema)
        try:
            self._fast = compile_schema(schema)
        except UnsupportedSchema:  # never half-check: fall back to jsonschema for every row
            self._fast = self._validator.is_valid

    def check(self, row: Any, example: Example) -> None:
        if self._fast(row):
            return
        example_id = example.example_id
        error = _first_error(self._validator, row)
        if error is None:  # the fast check and jsonschema disagree: trust jsonschema
            return
        raise ExportError(
            f"example {example_id}: the {self.format_name} row does not match "
            f"schemas/json/{self.schema_name}.json at {_path(error.absolute_path)}: "
            f"{_shorten(error.message)}"
        )


def build_row(fmt: ExportFormat, example: Example, score: float | None, split: str, index: int,
              version: VersionInfo, options: ExportOptions) -> dict[str, Any]:
    try:
        return fmt.row(example, score, split, index, version, options)
    except ValueError as exc:
        raise ExportError(f"example {example.example_id}: cannot build a {fmt.name} row: {exc}") from exc


def build_rows(fmt: ExportFormat, example: Example, score: float | None, split: str, index: int,
               version: VersionInfo, options: ExportOptions) -> list[dict[str, Any]]:
    try:
        return fmt.rows(example, score, split, index, version, options)
    except ValueError as exc:
        raise ExportError(f"example {example.example_id}: cannot build a {fmt.name} row: {exc}") from exc


# -- sinks --------------------------------------------------------------------------------------


def _storage_type(t: pa.DataType) -> pa.DataType:
    if isinstance(t, pa.BaseExtensionType):
        return t.storage_type
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, _storage_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _storage_type(f.type)) for f in t])
    return t


class ParquetSink:
    """Streams rows into a parquet file with the features' schema (and its datasets metadata)."""

    def __init__(self, path: Path, features: Features) -> None:
        self.path = path
        self.schema = features.arrow_schema
        self.storage = pa.schema(
            [pa.field(f.name, _storage_type(f.type)) for f in self.schema], metadata=self.schema.metadata
        )
        """The schema without extension types: what ``add_table`` takes."""
        self._cast = self.storage != self.schema
        self._writer = pq.ParquetWriter(path, self.schema)
        self._buffer: list[dict[str, Any]] = []
        self._tables: list[pa.Table] = []
        self._table_rows = 0
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= BATCH:
            self._flush()

    def add_table(self, table: pa.Table) -> None:
        """Rows already in Arrow (``storage`` schema). They are written in the same row groups of
        ``BATCH`` rows, each one contiguous table, as rows given one by one to ``add``: the file
        is the same bytes whichever way the rows came (exporters/_fast.py relies on it)."""
        if self._buffer:
            raise RuntimeError("a ParquetSink takes rows one way: add() or add_table(), not both")
        if table.num_rows:
            self._tables.append(table)
            self._table_rows += table.num_rows
        if self._table_rows >= BATCH:
            self._flush_tables(final=False)

    def _flush_tables(self, *, final: bool) -> None:
        if not self._tables:
            return
        joined = pa.concat_tables(self._tables)
        whole = joined.num_rows if final else joined.num_rows - joined.num_rows % BATCH
        for start in range(0, whole, BATCH):
            self._write(joined.slice(start, BATCH).combine_chunks())
        rest = joined.slice(whole)
        self._tables = [rest] if rest.num_rows else []
        self._table_rows = rest.num_rows

    def _write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(self.schema) if self._cast else table)
        self.rows += table.num_rows

    def _flush(self) -> None:
        if self._buffer:
            self._write(pa.Table.from_pylist(self._buffer, schema=self.storage))
            self._buffer = []

    def close(self) -> None:
        self._flush()
        self._flush_tables(final=True)
        self._writer.close()


class JsonlSink:
    """Streams rows into a JSON Lines file: compact JSON, keys in row order, non-ASCII kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w", encoding="utf-8", newline="\n")
        self._buffer: list[str] = []
        self.rows = 0

    def add_line(self, line: str) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= BATCH:
            self._flush()

    def add(self, row: dict[str, Any]) -> None:
        self.add_line(compact_json(row))

    def _flush(self) -> None:
        self._file.write("\n".join(self._buffer) + "\n" if self._buffer else "")
        self.rows += len(self._buffer)
        self._buffer = []

    def close(self) -> None:
        self._flush()
        self._file.close()


def split_file_name(name: str, split: str | None) -> str:
    """``train.parquet`` for no split; ``data.parquet`` + test -> ``data-test.parquet``."""
    if split is None:
        return name
    suffix = Path(name).suffix
    return f"{name[: len(name) - len(suffix)]}-{split}{suffix}"


# -- the default data writer: one row per example, one file per split --------------------------


def write_rows(
    rows: Iterable[Row],
    fmt: ExportFormat,
    stage: Staging,
    out: Path,
    version: VersionInfo,
    options: ExportOptions = DEFAULT_OPTIONS,
    split_names: list[str] | None = None,
    prefix: str = "",
) -> tuple[list[DataFile], list[LoadDrift]]:
    """Write ``rows`` as ``fmt`` into ``stage``: one file, or one per split of ``split_names``.

    ``prefix``: a directory (ending in '/') inside the output's directory to write the files in.
    """
    suffix = out.suffix.lower()
    checker = RowChecker(fmt.schema_name, fmt.name)
    json_columns = fmt.json_columns
    nested = fmt.nested_json_columns
    drift = DriftLog()
    names = [None] if split_names is None else list(split_names)
    sinks: dict[str | None, ParquetSink | JsonlSink] = {}
    counts: dict[str | None, int] = {}
    try:
        for name in names:
            path = stage.path(prefix + split_file_name(out.name, name))
            sinks[name] = ParquetSink(path, fmt.features) if suffix == ".parquet" else JsonlSink(path)
            counts[name] = 0
        for example, score, split in rows:
            key = split if split_names is not None else None
            if key not in sinks:
                raise ExportError(f"example {example.example_id}: split {split!r} is not one of {names}")
            for row in build_rows(fmt, example, score, split, counts[key], version, options):
                checker.check(row, example)
                counts[key] += 1
                _add(sinks[key], row, example, json_columns, nested, drift)
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        for sink in sinks.values():
            with contextlib.suppress(Exception):
                sink.close()
    return [DataFile(prefix + split_file_name(out.name, n), n, counts[n]) for n in names], drift


def _add(sink: ParquetSink | JsonlSink, row: dict[str, Any], example: Example, json_columns: tuple[str, ...],
         nested: tuple[tuple[str, str], ...], drift: DriftLog) -> None:
    """One checked row into its sink: ``Json`` values as JSON text in parquet, drift recorded."""
    if isinstance(sink, ParquetSink):
        for column in json_columns:
            row[column] = as_json_text(row[column], column, example, ".parquet", drift)
        for column, inner in nested:
            row[column] = {**row[column], inner: as_json_text(
                row[column][inner], f"{column}/{inner}", example, ".parquet", drift)}
        sink.add(row)
    else:
        line = _jsonl_line(row, example)
        if (json_columns or nested) and _may_drift(line):
            for column in json_columns:
                as_json_text(row[column], column, example, ".jsonl", drift)
            for column, inner in nested:
                as_json_text(row[column][inner], f"{column}/{inner}", example, ".jsonl", drift)
        sink.add_line(line)


def _jsonl_line(row: dict[str, Any], example: Example) -> str:
    try:
        return compact_json(row)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise ExportError(
            f"example {example.example_id}: the row holds a value JSON cannot represent ({exc})"
        ) from exc


# -- Json columns and what datasets loads back ----------------------------------------------------

_RISKY = re.compile(r"[0-9][.eE]|[0-9]{16}")
"""A float literal or a long integer: the only JSON text datasets' decoder may read back changed."""
_EXACT: dict[tuple[str, str], None] = {}
"""JSON texts already found to load back exactly (per file type): tool lists and tool outputs
repeat across rows, so most values are decoded once. Bounded; cleared when full."""
_EXACT_LIMIT = 20_000
LOAD_DRIFT_LIMIT = 1000
"""Drifting values listed in a manifest; ``load_drift_total`` counts them all."""


def _may_drift(text: str) -> bool:
    return _RISKY.search(text) is not None


class DriftLog(list[LoadDrift]):
    """The first LOAD_DRIFT_LIMIT drifting values, and how many there were in all."""

    total = 0

    def add(self, entry: LoadDrift) -> None:
        self.total += 1
        if len(self) < LOAD_DRIFT_LIMIT:
            self.append(entry)


def as_json_text(value: Any, column: str, example: Example, file_type: str, drift: list[LoadDrift]) -> Any:
    """JSON text for a ``Json`` / ``List(Json())`` column, written by the standard library.

    datasets' own encoder would round floats to 10 decimals; text it can parse is stored as
    given. Values that datasets will nevertheless load changed are recorded in ``drift``.
    """
    try:
        if isinstance(value, list):
            texts = [compact_json(item) for item in value]
            for i, (item, text) in enumerate(zip(value, texts, strict=True)):
                if _may_drift(text):
                    _record_drift(item, text, f"{column}/{i}", example, file_type, drift)
            return texts
        text = compact_json(value)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise ExportError(
            f"example {example.example_id}: {column} holds a value JSON cannot represent ({exc})"
        ) from exc
    if _may_drift(text):
        _record_drift(value, text, column, example, file_type, drift)
    return text


_DRIFTS: dict[tuple[str, str], tuple[tuple[str, Any, Any], ...]] = {}
"""drift_of's answers by (file type, text); bounded like _EXACT."""


def drift_of(text: str, file_type: str) -> tuple[tuple[str, Any, Any], ...]:
    """What ``datasets`` loads changed in the JSON ``text``: (path inside the value, written,
    loaded) per value; empty for a text that loads back exactly. The same test as the rows'
    own (``_record_drift``), for a text given without its value (exporters/_fast.py)."""
    if not _may_drift(text):
        return ()
    key = (file_type, text)
    found = _DRIFTS.get(key)
    if found is None:
        found = tuple(_differences(json.loads(text), _loaded_by_datasets(text, file_type), ""))
        if len(_DRIFTS) >= _EXACT_LIMIT:
            _DRIFTS.clear()
        _DRIFTS[key] = found
    return found


def _loaded_by_datasets(text: str, file_type: str) -> Any:
    """What ``load_dataset`` returns for a ``Json`` value written as ``text``.

    Parquet: the feature's own encode/decode. JSON Lines: the json loader parses each line,
    re-encodes the JSON fields (10 decimals) and the feature decodes them.
    """
    feature = Json()
    try:
        if file_type == ".parquet":
            return feature.decode_example(feature.encode_example(text))
        return feature.decode_example(ujson_dumps(ujson_loads(text)))
    except ValueError as exc:
        return f"<datasets cannot read this value: {exc}>"


def _record_drift(
    value: Any, text: str, field_path: str, example: Example, file_type: str, drift: list[LoadDrift]
) -> None:
    key = (file_type, text)
    if key in _EXACT:
        return
    loaded = _loaded_by_datasets(text, file_type)
    found = False
    for path, written, got in _differences(value, loaded, field_path):
        found = True
        entry = LoadDrift(example_id=example.example_id, field=path, written=written, loaded=got)
        if isinstance(drift, DriftLog):
            drift.add(entry)
        else:
            drift.append(entry)
    if not found:
        if len(_EXACT) >= _EXACT_LIMIT:
            _EXACT.clear()
        _EXACT[key] = None


def _differences(written: Any, loaded: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Leaves where ``loaded`` is not exactly ``written`` (value and JSON type)."""
    if isinstance(written, dict) and isinstance(loaded, dict) and written.keys() == loaded.keys():
        for key in written:
            yield from _differences(written[key], loaded[key], f"{path}/{_escape(key)}")
    elif isinstance(written, list) and isinstance(loaded, list) and len(written) == len(loaded):
        for i, (w, got) in enumerate(zip(written, loaded, strict=True)):
            yield from _differences(w, got, f"{path}/{i}")
    elif type(written) is not type(loaded) or written != loaded:
        yield path, written, loaded


# -- the manifest ------------------------------------------------------------------------------


def file_entry(stage: Staging, rel: str, role: str, rows: int | None = None,
               split: str | None = None) -> ExportedFile:
    path = stage.staged(rel)
    return ExportedFile(path=rel, role=role, sha256=sha256_of(path), bytes=path.stat().st_size,  # type: ignore[arg-type]
                        rows=rows, split=split)


def write_manifest(
    stage: Staging,
    out: Path,
    *,
    fmt_name: str,
    usage: str,
    version: VersionInfo,
    files: list[ExportedFile],
    data: list[DataFile],
    drift: list[LoadDrift],
    filters: ExportFilters | None,
    selection: ExportSelection | None,
    options: ExportOptions,
) -> tuple[str, ExportManifest]:
    """Stage ``<out>.manifest.json``; return its relative path and the manifest."""
    data_entries = [f for f in files if f.role == "data"]
    single = data_entries[0].sha256 if len(data_entries) == 1 else None
    splits: dict[str, int] = {}
    for d in data:
        if d.split is not None:
            splits[d.split] = splits.get(d.split, 0) + d.rows
    manifest = ExportManifest(
        version_id=version.version_id,
        dataset=version.dataset,
        version=version.version,
        content_hash=version.content_hash,
        format=fmt_name,
        file=out.name,
        row_count=sum(d.rows for d in data),
        sha256=single,
        files=files,
        splits=splits,
        filters=filters or ExportFilters(),
        selection=selection,
        train_on_tool_outputs=options.train_on_tool_outputs,
        multi_turn=options.multi_turn,
        tools_module=options.tools_module,
        observations=options.observations,
        usage=usage,
        created_by="backchain export",
        load_drift=list(drift),
        load_drift_total=drift.total if isinstance(drift, DriftLog) else len(drift),
    )
    rel = out.name + MANIFEST_SUFFIX
    stage.path(rel).write_text(
        json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return rel, manifest


# -- small helpers -----------------------------------------------------------------------------


def _first_error(validator: Draft202012Validator, row: Any) -> ValidationError | None:
    """The first schema violation, narrowed to the field that causes it."""
    error = next(iter(validator.iter_errors(row)), None)
    while error is not None and error.context:
        branch = _discriminated_branch(error)
        if branch is None:
            break
        inside = [e for e in error.context if e.relative_schema_path[0] == branch]
        if not inside:
            break
        error = best_match(inside)
    return error


def _discriminated_branch(error: ValidationError) -> int | None:
    """For a ``oneOf`` with an OpenAPI-style discriminator (pydantic emits one for the message
    unions), the index of the branch the instance's tag selects."""
    schema, instance = error.schema, error.instance
    if error.validator != "oneOf" or not isinstance(schema, dict) or not isinstance(instance, dict):
        return None
    discriminator = schema.get("discriminator") or {}
    target = discriminator.get("mapping", {}).get(instance.get(discriminator.get("propertyName")))
    for index, branch in enumerate(schema.get("oneOf", [])):
        if target is not None and branch.get("$ref") == target:
            return index
    return None


def _path(parts: Iterable[Any]) -> str:
    return "/".join(_escape(str(p)) for p in parts) or "(the row itself)"


def _escape(key: str) -> str:
    """RFC 6901 escaping, so a key holding '/' cannot be misread as two levels."""
    return key.replace("~", "~0").replace("/", "~1")


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def closing(rows: Iterable[Any]) -> Iterator[None]:
    """Close a generator of rows (say, one holding a database cursor) even when export fails."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)
        if callable(close):
            close()

