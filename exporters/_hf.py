"""A Hugging Face DatasetDict on disk (``save_to_disk``) with a dataset card.

    backchain export geo@3 --format hf --out out/geo-v3
    datasets.load_from_disk("out/geo-v3")  ->  DatasetDict({"train": ..., "test": ...})

One split per ``--split`` name, else per split the version stores. Row shape (``schemas.HfRow``,
schemas/json/export-hf.json): ``example_id``, ``kind``, ``messages`` and ``tools`` (as in the
trl-sft export, ``Json`` features), ``answer`` (the Answer record: pointers, value,
normaliser; ``Json``), ``score``, ``trace_id``.

Streaming: rows go, as they come, into one Arrow IPC stream per split in the scratch
directory (the format ``datasets`` memory-maps); each becomes a ``Dataset`` without being read
into memory, and ``DatasetDict.save_to_disk`` copies them into the target layout
(``dataset_dict.json``, ``<split>/data-00000-of-00001.arrow``, ``dataset_info.json``,
``state.json``). The fingerprint of every split is fixed (``backchain-<version id>-<split>``)
rather than random, so ``state.json`` and every other file are the same bytes on every export
of the same version (checked by tests/exporters; should a future ``datasets`` write something
variable, the manifest's per-file sha256 still pins the data files).

``README.md`` in the directory is the dataset card: version, content hash, counts per split
and kind, tool coverage (offered and called), score distribution, and how the version was
made (run, models, rubric hash, filters).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import Dataset, DatasetDict, DatasetInfo, Features, Json, List, NamedSplit, Value
from datasets.table import MemoryMappedTable

from schemas import Example, ExportFilters, VersionInfo

from ._base import (
    DEFAULT_OPTIONS,
    DataFile,
    ExportFormat,
    ExportOptions,
    conversation,
    function_tools,
)
from ._drift import DriftLog, as_json_text
from ._export import RowChecker, _storage_type, build_row
from ._staging import Staging

CARD = "README.md"
_BATCH = 2000


class HfFormat(ExportFormat):
    """``hf``: a DatasetDict saved with ``save_to_disk``, with a dataset card."""

    name = "hf"
    schema_name = "export-hf"
    features = Features(
        {
            "example_id": Value("string"),
            "kind": Value("string"),
            "messages": List(Json()),
            "tools": List(Json()),
            "answer": Json(),
            "score": Value("float64"),
            "trace_id": Value("string"),
        }
    )
    file_types = ("",)
    directory_marker = "dataset_dict.json"
    usage = "datasets.load_from_disk('{file}') -> DatasetDict; the dataset card is {file}/README.md."

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        answer = example.task.answer
        return {
            "example_id": example.example_id,
            "kind": example.task.kind,
            "messages": conversation(example),
            "tools": function_tools(example),
            "answer": answer.model_dump(mode="json") if answer is not None else None,
            "score": score,
            "trace_id": example.trace.trace_id,
        }

    def write_data(
        self,
        rows: Iterable[tuple[Example, float | None, str]],
        stage: Staging,
        out: Path,
        version: VersionInfo,
        options: ExportOptions,
        split_names: list[str] | None,
        provenance: dict[str, Any] | None = None,
        filters: ExportFilters | None = None,
    ) -> tuple[list[DataFile], list[Any], list[tuple[str, str, int | None, str | None]]]:
        checker = RowChecker(self.schema_name, self.name)
        schema = self.features.arrow_schema
        storage = pa.schema([pa.field(f.name, _storage_type(f.type)) for f in schema], metadata=schema.metadata)
        work = stage.work("hf-splits")
        writers: dict[str, tuple[Any, Any]] = {}
        buffers: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        counts: collections.Counter[str] = collections.Counter()
        stats = _CardStats()
        drift = DriftLog()

        def flush(split: str) -> None:
            if buffers[split]:
                table = pa.Table.from_pylist(buffers[split], schema=storage).cast(schema)
                writers[split][1].write_table(table)
                buffers[split] = []

        def open_split(split: str) -> None:
            sink = pa.OSFile(str(work / f"{split}.arrow"), "wb")
            writers[split] = (sink, pa.ipc.new_stream(sink, schema))

        try:
            for name in split_names or []:
                open_split(name)
            for example, score, split in rows:
                if split not in writers:
                    open_split(split)
                row = build_row(self, example, score, split, counts[split], version, options)
                checker.check(row, example)
                stats.add(example, score, split)
                for column in ("messages", "tools", "answer"):
                    row[column] = as_json_text(row[column], column, example, ".parquet", drift)
                buffers[split].append(row)
                counts[split] += 1
                if len(buffers[split]) >= _BATCH:
                    flush(split)
            for split in writers:
                flush(split)
        finally:
            for sink, writer in writers.values():
                writer.close()
                sink.close()

        order = split_names or sorted(writers, key=lambda s: (s != "train", s))
        target = stage.directory(out.name)
        info = DatasetInfo(features=self.features)
        parts = {}
        for split in order:
            table = MemoryMappedTable.from_file(str(work / f"{split}.arrow"))
            parts[split] = Dataset(table, info=info.copy(), split=NamedSplit(split),
                                   fingerprint=f"backchain-{version.version_id}-{split}")
        DatasetDict(parts).save_to_disk(str(target))
        del parts
        card = render_card(version, stats, order, provenance, filters)
        (target / CARD).write_text(card, encoding="utf-8")

        data: list[DataFile] = []
        extra: list[tuple[str, str, int | None, str | None]] = []
        for rel in sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()):
            in_split = rel.split("/")[0] if "/" in rel else None
            path = f"{out.name}/{rel}"
            if rel.endswith(".arrow"):
                shard_rows = MemoryMappedTable.from_file(str(target / rel)).num_rows
                data.append(DataFile(path, in_split, shard_rows))
            else:
                extra.append((path, "card" if rel == CARD else "metadata", None, in_split))
        data.sort(key=lambda d: (order.index(d.split) if d.split in order else len(order), d.path))
        return data, drift, extra


class _CardStats:
    """Counts for the dataset card, kept as the rows stream past."""

    def __init__(self) -> None:
        self.splits: collections.Counter[str] = collections.Counter()
        self.kinds: collections.Counter[str] = collections.Counter()
        self.offered: collections.Counter[str] = collections.Counter()
        self.called: collections.Counter[str] = collections.Counter()
        self.calls = 0
        self.scores = [0] * 10
        self.unscored = 0
        self.score_sum = 0.0
        self.score_min: float | None = None
        self.score_max: float | None = None

    def add(self, example: Example, score: float | None, split: str) -> None:
        self.splits[split] += 1
        self.kinds[example.task.kind] += 1
        for tool in example.tools:
            self.offered[tool.name] += 1
        for step in example.trace.steps:
            self.called[step.tool] += 1
            self.calls += 1
        if score is None:
            self.unscored += 1
            return
        self.scores[min(int(score * 10), 9) if score >= 0 else 0] += 1
        self.score_sum += score
        self.score_min = score if self.score_min is None else min(self.score_min, score)
        self.score_max = score if self.score_max is None else max(self.score_max, score)


def render_card(version: VersionInfo, stats: _CardStats, splits: list[str],
                provenance: dict[str, Any] | None, filters: ExportFilters | None) -> str:
    """The dataset card (README.md): YAML front matter, then the facts in Markdown tables."""
    total = sum(stats.splits.values())
    scored = total - stats.unscored
    lines = [
        "---",
        f"pretty_name: backchain {version.dataset} v{version.version}",
        "tags:",
        "- tool-calling",
        "- function-calling",
        "- synthetic",
        "- backchain",
        "task_categories:",
        "- text-generation",
        "---",
        "",
        f"# {version.dataset} v{version.version}",
        "",
        "Verified tool-calling examples made by backchain: real tool calls were recorded first, "
        "then each task was written backward from what they returned, so the expected calls and "
        "the answer are read off recorded outputs; a rubric tree scored what construction cannot "
        "guarantee.",
        "",
        "| | |",
        "|---|---|",
        f"| dataset | {version.dataset} |",
        f"| version | {version.version} |",
        f"| version id | `{version.version_id}` |",
        f"| content hash | `{version.content_hash}` |",
        f"| parent | `{version.parent_id or '-'}` |",
        f"| sealed | {version.created_at.isoformat()} |",
        f"| tags | {', '.join(version.tags) or '-'} |",
        f"| rows | {total} |",
        "",
        "## Splits",
        "",
        "| split | rows |",
        "|---|---|",
        *(f"| {s} | {stats.splits[s]} |" for s in splits),
        "",
        "## Task kinds",
        "",
        "| kind | rows |",
        "|---|---|",
        *(f"| {k} | {n} |" for k, n in sorted(stats.kinds.items())),
        "",
        "## Tool coverage",
        "",
        f"{len(stats.called)} of {len(stats.offered)} offered tools are called, {stats.calls} calls in all.",
        "",
        "| tool | examples offering it | calls |",
        "|---|---|---|",
        *(f"| {t} | {stats.offered[t]} | {stats.called[t]} |"
          for t in sorted(set(stats.offered) | set(stats.called))),
        "",
        "## Score distribution",
        "",
    ]
    if scored:
        lines += [
            f"{scored} scored rows: min {stats.score_min:.3f}, mean {stats.score_sum / scored:.3f}, "
            f"max {stats.score_max:.3f}; {stats.unscored} unscored.",
            "",
            "| score | rows |",
            "|---|---|",
            *(f"| [{i / 10:.1f}, {(i + 1) / 10:.1f}{']' if i == 9 else ')'} | {n} |"
              for i, n in enumerate(stats.scores)),
        ]
    else:
        lines.append(f"No row has a score ({stats.unscored} unscored).")
    lines += ["", "## How it was made", ""]
    made = {
        "run": version.run_id or "-",
        "message": version.message or "-",
    }
    for key in ("operation", "author", "flow_run_id", "rubric_hash", "config_hash", "derived_from", "predicate"):
        value = (provenance or {}).get(key)
        if value not in (None, "", []):
            made[key.replace("_", " ")] = value if isinstance(value, str) else json.dumps(value)
    models = (provenance or {}).get("models")
    if models:
        made["models"] = ", ".join(f"{k}: {v}" for k, v in sorted(models.items()))
    lines += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in made.items())]
    lines += [
        "",
        "The tools were called first and every call recorded (request, response, errors); the "
        "task (the user's request, the expected calls, the answer as pointers into the recorded "
        "outputs with a normaliser) was then written from the recorded trace and checked: schema, "
        "replay, provenance of every argument, leakage, and the rubric tree above.",
        "",
        "## Export",
        "",
        "Filters: `" + json.dumps((filters or ExportFilters()).model_dump(mode="json"), sort_keys=True) + "`",
        "",
        "Columns: `example_id`, `kind`, `messages` (chat messages with `tool_calls`, arguments as "
        "JSON objects), `tools` (function JSON Schemas), `answer` (pointers, value, normaliser), "
        "`score`, `trace_id` (variants of one trace share a split).",
        "",
        "```python",
        "from datasets import load_from_disk",
        "ds = load_from_disk(\"<this directory>\")",
        "```",
        "",
    ]
    return "\n".join(lines)
