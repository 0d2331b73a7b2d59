"""The replay table: a sealed version's recorded calls as one parquet file, for RL environments.

A training format row is one example; a replay-table row is one *observation*, so this export
does not fit ``ExportFormat`` and has its own entry point, ``export_replay_table``
(``backchain export DATASET@REF --format replay --out calls.parquet``). Load it back with
``generators.ReplaySimulator.from_parquet``.

Rows: every observation that a step of one of the version's examples points to
(``Step.observation_id``), once, in the order the examples first reach them (examples in export
order, the order the store holds them; each batch's new observations by id), so exporting the
same version twice gives the same file.
Columns (``schemas.REPLAY_COLUMNS``, the shape both the writer here and every reader share)::

    toolset, toolset_version, tool      strings (toolset_version may be null)
    arguments_json, output_json         canonical JSON text; the output is what the tool said (its
                                        text when it answered in text, not the view pointers read;
                                        "null" when there was none)
    normalised_key                      schemas.normalised_key(toolset, tool, arguments)
    is_error, error                     what the call returned when it failed
    observation_id, started_at          the stored observation's id and time (UTC)

The tools the examples offer (``Example.tools``, one per toolset and name) travel in the
file's key-value metadata under ``backchain.tools`` as a JSON list of ``schemas.Tool``, so
``list_tools()`` of the loaded simulator offers what the model was offered.

Streaming: examples are read in batches (``Store.iter_version_examples``), each batch's observations
are fetched with one query over the public ``observations`` view and written as one parquet
row group. Only the ids of observations already written are kept, to write each once. The
file and its manifest (``ExportManifest``, format ``replay``) are written in a scratch
directory beside ``out`` and renamed into place when complete, as every export is.

RL exports (verl, trl-grpo) write the same table for the rows they export, as
``<stem>.replay.parquet`` beside the data (``write_replay_table`` with the filtered examples).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import (
    REPLAY_COLUMNS,
    TOOLS_METADATA_KEY,
    ConfigError,
    Example,
    ExportError,
    ExportFilters,
    Tool,
    VersionInfo,
    canonical_json,
    normalised_key,
    shown_output,
)

from ._base import DEFAULT_OPTIONS, DataFile
from ._manifest import ExportResult, file_entry, write_manifest
from ._staging import Staging, closing

if TYPE_CHECKING:
    from store import Store

REPLAY_FORMAT = "replay"
REPLAY_SCHEMA = pa.schema(
    [
        ("toolset", pa.string()), ("toolset_version", pa.string()), ("tool", pa.string()),
        ("arguments_json", pa.string()), ("normalised_key", pa.string()),
        ("output_json", pa.string()), ("is_error", pa.bool_()), ("error", pa.string()),
        ("observation_id", pa.string()), ("started_at", pa.timestamp("us", tz="UTC")),
    ]
)
REPLAY_USAGE = (
    "from generators import ReplaySimulator; sim = ReplaySimulator.from_parquet('{file}', miss='error'); "
    "outcome = await sim.call(tool, arguments)"
)

_OBSERVATIONS_SQL = (
    "SELECT observation_id, toolset, toolset_version, tool, arguments, output, raw, is_error, error, "
    "started_at FROM observations "
    "WHERE observation_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) ORDER BY observation_id"
)


def export_replay_table(
    store: Store, version: VersionInfo, out: Path, *, batch_size: int = 500,
    filters: ExportFilters | None = None,
) -> ExportResult:
    """Write the observations behind ``version``'s examples to ``out`` (a .parquet file).

    With ``filters``, only the examples they keep (a split does not apply: one table).
    Raises ConfigError for another extension, ExportError when a step's observation is not in
    the store or the file cannot be written.
    """
    from ._filters import SelectionCounts, select_rows

    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise ConfigError(f"the replay table is parquet: name the output {out.with_suffix('.parquet')}")
    if out.is_dir():
        raise ExportError(f"{out} is a directory; give a file path such as {out / 'replay.parquet'}")
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    if filters is not None and filters.split:
        raise ConfigError("the replay table is one table of calls: --split does not apply to --format replay")
    counts = SelectionCounts()
    if filters is None:
        source = store.iter_version_examples(version.version_id, batch_size=batch_size)
    else:
        source = select_rows(store, version, filters, counts, batch_size=batch_size)
    examples = (example for example, _score, _split in source)
    with Staging(out) as stage:
        rows = write_replay_table(store, examples, stage.path(out.name), version, batch_size=batch_size)
        files = [file_entry(stage, out.name, "data", rows)]
        manifest_rel, _ = write_manifest(
            stage, out, fmt_name=REPLAY_FORMAT, usage=REPLAY_USAGE.format(file=out.name), version=version,
            files=files, data=[DataFile(out.name, None, rows)], drift=[], filters=filters,
            selection=counts.model() if filters is not None else None, options=DEFAULT_OPTIONS,
        )
        stage.commit(last=manifest_rel)
    return ExportResult(
        format=REPLAY_FORMAT, path=out, row_count=rows, sha256=files[0].sha256,
        manifest_path=out.with_name(manifest_rel), files=tuple(files),
    )


def write_replay_table(
    store: Store, examples: Iterable[Example], path: Path, version: VersionInfo, *, batch_size: int = 500
) -> int:
    """Write the observations the ``examples`` point to, once each, to ``path``; return the rows."""
    tools: dict[tuple[str, str], Tool] = {}
    written: set[str] = set()
    rows = 0
    try:
        with pq.ParquetWriter(path, REPLAY_SCHEMA) as writer:
            for batch in _batches(examples, batch_size):
                for example in batch:
                    for tool in example.tools:
                        tools.setdefault((tool.toolset, tool.name), tool)
                table = _observation_rows(store, batch, written)
                if table.num_rows:
                    rows += table.num_rows
                    writer.write_table(table)
            writer.add_key_value_metadata({
                TOOLS_METADATA_KEY: canonical_json([t.model_dump(mode="json") for t in tools.values()]),
                b"backchain.version_id": version.version_id,
            })
    except OSError as exc:
        raise ExportError(f"cannot write {path.name}: {exc.strerror or exc}") from exc
    return rows


def _batches(examples: Iterable[Example], size: int) -> Iterator[list[Example]]:
    batch: list[Example] = []
    with closing(examples):  # release the store's cursor even when writing fails
        for example in examples:
            batch.append(example)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def _observation_rows(store: Store, batch: list[Example], written: set[str]) -> pa.Table:
    """The batch's observations not written yet, as replay-table rows."""
    wanted: dict[str, tuple[str, int]] = {}  # observation id -> (example id, step) for errors
    for example in batch:
        for k, step in enumerate(example.trace.steps):
            if step.observation_id not in written:
                wanted.setdefault(step.observation_id, (example.example_id, k))
    if not wanted:
        return REPLAY_SCHEMA.empty_table()
    _columns, found = store.query(_OBSERVATIONS_SQL, [sorted(wanted)])
    missing = sorted(set(wanted) - {row[0] for row in found})
    if missing:
        example_id, step_index = wanted[missing[0]]
        raise ExportError(
            f"example {example_id}: step {step_index}'s observation {missing[0]} is not in the "
            f"observations of {store.path} ({len(missing)} missing in all); the replay table needs "
            "every step's observation, so export from the database the version was made in"
        )
    columns: dict[str, list[Any]] = {name: [] for name in REPLAY_COLUMNS}
    for obs_id, toolset, version, tool, arguments, output, raw, is_error, error, started_at in found:
        args = json.loads(arguments)
        columns["toolset"].append(toolset)
        columns["toolset_version"].append(version)
        columns["tool"].append(tool)
        columns["arguments_json"].append(canonical_json(args))
        columns["normalised_key"].append(normalised_key(toolset, tool, args))
        # What the tool said (its text, when it answered in text), as a tool message shows it: an
        # RL environment answers a rollout's call with it, never with backchain's view of it.
        said = shown_output(None if output is None else json.loads(output), None if raw is None else json.loads(raw))
        columns["output_json"].append(canonical_json(said))
        columns["is_error"].append(bool(is_error))
        columns["error"].append(error)
        columns["observation_id"].append(obs_id)
        columns["started_at"].append(_utc(started_at))
        written.add(obs_id)
    return pa.Table.from_pydict(columns, schema=REPLAY_SCHEMA)


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value.astimezone(_dt.UTC)
