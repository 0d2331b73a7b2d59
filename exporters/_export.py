"""Writing an export's rows: build, check, stream into one file per split.

    rows ─> format.row() ─> RowChecker (JSON Schema) ─> Sink per split ─> staged files
                                                                             │
              format.extra_files(), RL sidecars ─> staged files ─> manifest ─┴─> commit (rename)

Files are written into a scratch directory and renamed into place at the end (``_staging``),
the manifest last (``_manifest``); values ``datasets`` would load back changed are recorded
(``_drift``).

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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from schemas import Example, ExportError, LoadDrift, UnsupportedSchema, VersionInfo, compile_schema, json_schema

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions, compact_json
from ._drift import DriftLog, _escape, _may_drift, as_json_text
from ._staging import Staging

BATCH = 2000
"""Rows buffered per write (one parquet row group each)."""

Row = tuple[Example, float | None, str]


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


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
