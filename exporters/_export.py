"""export_rows: examples in, one training file plus its manifest out, never half a file.

    rows ─> format.row() ─> JSON Schema check ─> Dataset.from_generator ─> .parquet / .jsonl
                                  │                   (Arrow, on disk)        │
                                  └─> ExportError                   <out>.manifest.json

Rows stream: ``Dataset.from_generator`` writes them to an Arrow cache as they come, and the file
is written from that cache. Everything lands in a scratch directory next to ``out`` first and is
renamed into place only when complete, so a failure (a row that does not validate, a store that
stops answering) leaves the previous file, if any, untouched and no partial file behind.

Parquet is written by ``Dataset.to_parquet`` (the features travel in the file's metadata, so
``load_dataset("parquet")`` restores them). JSON Lines are written from the same Arrow data with
the standard library rather than ``Dataset.to_json``: that goes through pandas, which rounds
floats to 10 decimals and re-decodes ``Json`` values with an inexact float parser (measured with
datasets 5.2 / pandas 3.1: ``1.23456789012345`` became ``1.2345678901``). The lines are compact
JSON, keys in row order, non-ASCII kept, so exporting twice gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, Json
from datasets.exceptions import DatasetGenerationError
from datasets.utils.json import ujson_dumps, ujson_loads
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from schemas import (
    BackchainError,
    ConfigError,
    Example,
    ExportError,
    ExportManifest,
    LoadDrift,
    VersionInfo,
    json_schema,
)

from ._base import ExportFormat, compact_json
from ._trl_sft import TrlSftFormat
from ._verl import VerlFormat

FORMATS: dict[str, ExportFormat] = {f.name: f for f in (TrlSftFormat(), VerlFormat())}
"""Export formats by name (``--format``)."""

FILE_TYPES = (".parquet", ".jsonl")
MANIFEST_SUFFIX = ".manifest.json"
_BATCH = 1000


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    format: str
    path: Path
    row_count: int
    sha256: str
    manifest_path: Path
    load_drift: tuple[LoadDrift, ...] = field(default=())
    """Values ``datasets.load_dataset`` will return changed (see the manifest's ``load_drift``)."""


def export_rows(
    rows: Iterable[tuple[Example, float | None, str]],
    *,
    fmt: str,
    out: Path,
    version: VersionInfo,
) -> ExportResult:
    """Write ``rows`` (example, score, split), in the order given, as format ``fmt`` to ``out``.

    The file type follows the extension of ``out`` (``.parquet`` or ``.jsonl``); a manifest is
    written to ``out`` + ``.manifest.json``. Every row is checked against the format's JSON
    Schema first. Raises ConfigError for an unknown format or extension, ExportError for a row
    that fails its schema or a path that cannot be written.
    """
    writer = _writer(fmt)
    out = Path(out)
    file_type = out.suffix.lower()
    if file_type not in FILE_TYPES:
        raise ConfigError(
            f"cannot tell which file type to write for {out}: name it *.parquet or *.jsonl"
        )
    if out.is_dir():
        example_path = out / f"train{file_type}"
        raise ExportError(f"{out} is a directory; give a file path such as {example_path}")
    manifest_path = out.with_name(out.name + MANIFEST_SUFFIX)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent)
    except OSError as exc:
        raise ExportError(f"cannot write to {out.parent}: {exc.strerror or exc}") from exc

    drift: list[LoadDrift] = []
    with work as scratch, _quiet_progress(), _closing(rows):
        tmp_file = Path(scratch) / out.name
        generate = _checked_rows(rows, writer, file_type, version, drift)
        cache_dir = Path(scratch) / "cache"
        dataset = _build_dataset(generate, writer, cache_dir=cache_dir, version=version)
        try:
            if file_type == ".parquet":
                dataset.to_parquet(tmp_file)
            else:
                _write_jsonl(dataset, tmp_file, writer.json_columns)
            digest = _sha256(tmp_file)
            manifest = ExportManifest(
                version_id=version.version_id,
                dataset=version.dataset,
                version=version.version,
                content_hash=version.content_hash,
                format=writer.name,
                file=out.name,
                row_count=dataset.num_rows,
                sha256=digest,
                created_by="backchain export",
                load_drift=drift,
            )
            tmp_manifest = Path(scratch) / manifest_path.name
            tmp_manifest.write_text(
                json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            os.replace(tmp_file, out)
            os.replace(tmp_manifest, manifest_path)
        except OSError as exc:
            raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from exc
        row_count = dataset.num_rows
        del dataset  # release the memory-mapped cache before the scratch directory goes

    return ExportResult(
        format=writer.name,
        path=out,
        row_count=row_count,
        sha256=digest,
        manifest_path=manifest_path,
        load_drift=tuple(drift),
    )


def _writer(fmt: str) -> ExportFormat:
    try:
        return FORMATS[fmt]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(f"unknown export format {fmt!r}; known formats: {known}") from None


def _checked_rows(
    rows: Iterable[tuple[Example, float | None, str]],
    writer: ExportFormat,
    file_type: str,
    version: VersionInfo,
    drift: list[LoadDrift],
) -> Callable[[], Iterator[dict[str, Any]]]:
    """The generator function datasets pulls rows from: built, validated, JSON columns as text."""
    validator = Draft202012Validator(json_schema(writer.schema_name))

    def generate() -> Iterator[dict[str, Any]]:
        for index, (example, score, split) in enumerate(rows):
            try:
                row = writer.row(example, score, split, index, version)
            except ValueError as exc:
                raise ExportError(
                    f"example {example.example_id}: cannot build a {writer.name} row: {exc}"
                ) from exc
            error = _first_error(validator, row)
            if error is not None:
                raise ExportError(
                    f"example {example.example_id}: the {writer.name} row does not match "
                    f"schemas/json/{writer.schema_name}.json at {_path(error.absolute_path)}: "
                    f"{_shorten(error.message)}"
                )
            for column in writer.json_columns:
                row[column] = _as_json_text(row[column], column, example, file_type, drift)
            yield row

    return generate


def _build_dataset(
    generate: Callable[[], Iterator[dict[str, Any]]],
    writer: ExportFormat,
    *,
    cache_dir: Path,
    version: VersionInfo,
) -> Dataset:
    rows = generate()
    first = next(rows, None)  # datasets refuses a generator that yields nothing
    if first is None:
        return Dataset.from_dict({name: [] for name in writer.features}, features=writer.features)
    try:
        return Dataset.from_generator(
            lambda: itertools.chain([first], rows),
            features=writer.features,
            cache_dir=str(cache_dir),
            # a fresh cache_dir per export, so nothing is reused; naming the fingerprint spares
            # datasets from hashing the generator (and everything it closes over)
            fingerprint=f"backchain-{writer.name}-{version.version_id}",
        )
    except DatasetGenerationError as exc:
        # datasets wraps whatever the generator raised; give the caller the real error
        cause = exc.__cause__
        if isinstance(cause, BackchainError):
            raise cause from None
        raise ExportError(f"writing the {writer.name} rows failed: {cause or exc}") from exc


def _as_json_text(
    value: Any, column: str, example: Example, file_type: str, drift: list[LoadDrift]
) -> Any:
    """JSON text for a ``Json`` / ``List(Json())`` column, written by the standard library.

    datasets' own encoder would round floats to 10 decimals; text it can parse is stored as
    given. Values that datasets will nevertheless load changed are recorded in ``drift``.
    """
    try:
        if isinstance(value, list):
            texts = [compact_json(item) for item in value]
            for i, (item, text) in enumerate(zip(value, texts, strict=True)):
                _record_drift(item, text, f"{column}/{i}", example, file_type, drift)
            return texts
        text = compact_json(value)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise ExportError(
            f"example {example.example_id}: {column} holds a value JSON cannot represent ({exc})"
        ) from exc
    _record_drift(value, text, column, example, file_type, drift)
    return text


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
    loaded = _loaded_by_datasets(text, file_type)
    for path, written, got in _differences(value, loaded, field_path):
        drift.append(
            LoadDrift(example_id=example.example_id, field=path, written=written, loaded=got)
        )


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


def _write_jsonl(dataset: Dataset, path: Path, json_columns: tuple[str, ...]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for batch in dataset.with_format("arrow").iter(batch_size=_BATCH):
            for row in batch.to_pylist():
                for column in json_columns:
                    row[column] = _parse_json_column(row[column])
                f.write(compact_json(row) + "\n")


def _parse_json_column(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [None if item is None else json.loads(item) for item in value]
    return json.loads(value)


def _first_error(validator: Draft202012Validator, row: dict[str, Any]) -> ValidationError | None:
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _closing(rows: Iterable[Any]) -> Iterator[None]:
    """Close a generator of rows (say, one holding a database cursor) even when export fails."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)
        if callable(close):
            close()


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """No tqdm bars from datasets while exporting: the CLI reports the result itself."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
