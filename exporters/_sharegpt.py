"""LLaMA-Factory ShareGPT rows with tools, and the dataset_info.json entry that registers them.

Row shape (``schemas.ShareGptRow``, schemas/json/export-sharegpt.json)::

    {"conversations": [
        {"from": "human", "value": <task.user_request>},
        ... dialogue of a multi_turn task: gpt (the question), human (the answer) ...
        {"from": "function_call", "value": "{\"name\":\"country_info\",\"arguments\":{...}}"},
        {"from": "observation", "value": <output: a string as-is, else compact JSON>},
        ...
        {"from": "gpt", "value": <task.final_message>}],
     "tools": "[{\"name\":...,\"description\":...,\"parameters\":{...}}]"}

The conventions, from LLaMA-Factory's data/README.md ("sharegpt format") and
src/llamafactory/data/formatter.py:

* human and observation sit at odd positions (1st, 3rd, ...), gpt and function_call at even
  ones; the converter rejects a conversation that breaks this, so every row is checked here too.
* A function_call value is JSON text of ``{"name", "arguments"}`` with ``arguments`` an
  *object* (``FunctionFormatter`` re-serialises ``tool_call["arguments"]``).
* Parallel calls: ``FunctionFormatter`` accepts a JSON *list* of such objects in one
  function_call turn ("parallel function call"); the one observation turn that follows holds
  the results as a JSON list in call order (each result a JSON value; a string output stays a
  string). Positions cannot hold two function_call turns in a row.
* ``tools`` is JSON text of the function definitions (name, description, parameters).

The entry written to ``dataset_info.json`` beside the file (merged into an existing one: other
entries are kept) names the file and maps columns and tags::

    "backchain_<dataset>_v<version>[_<split>]": {
        "file_name": "<file>", "formatting": "sharegpt",
        "columns": {"messages": "conversations", "tools": "tools"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt", "observation_tag": "observation",
                 "function_tag": "function_call"}}

LLaMA-Factory trains on every gpt and function_call turn and has no per-turn weight, so the
failed first call of an error_recovery task is a training target here; leave those tasks out
with ``--kinds`` where that is unwanted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from datasets import Features, List, Value

from schemas import ConfigError, Example, VersionInfo

from ._base import (
    DEFAULT_OPTIONS,
    NO_TURN_MASK,
    ExportFormat,
    ExportOptions,
    ExtraFile,
    FinishContext,
    compact_json,
    tool_output_text,
)

DATASET_INFO = "dataset_info.json"
TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
}


def dataset_name(version: VersionInfo, split: str | None) -> str:
    """The dataset_info.json key: ``backchain_<dataset>_v<version>[_<split>]``."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", f"backchain_{version.dataset}_v{version.version}")
    return base if split is None else f"{base}_{re.sub(r'[^A-Za-z0-9_]+', '_', split)}"


class ShareGptFormat(ExportFormat):
    """``sharegpt``: LLaMA-Factory ShareGPT rows plus their dataset_info.json entry."""

    name = "sharegpt"
    schema_name = "export-sharegpt"
    features = Features(
        {"conversations": List({"from": Value("string"), "value": Value("string")}), "tools": Value("string")}
    )
    usage = (
        "LLaMA-Factory: put {file} and dataset_info.json in your dataset_dir (or point dataset_dir "
        "at this directory) and train with dataset: {dataset}; the entry maps columns and tags." + NO_TURN_MASK
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        turns: list[dict[str, str]] = [{"from": "human", "value": example.task.user_request}]
        turns += [{"from": "gpt" if t.role == "assistant" else "human", "value": t.content}
                  for t in example.task.dialogue]
        steps = example.trace.steps
        for turn in example.trace.turns():
            calls = [{"name": steps[i].tool, "arguments": steps[i].arguments} for i in turn]
            if len(turn) == 1:
                turns.append({"from": "function_call", "value": compact_json(calls[0])})
                turns.append({"from": "observation", "value": tool_output_text(steps[turn[0]])})
            else:
                turns.append({"from": "function_call", "value": compact_json(calls)})
                turns.append({"from": "observation", "value": compact_json([steps[i].output for i in turn])})
        turns.append({"from": "gpt", "value": example.task.final_message})
        for i, t in enumerate(turns):
            wanted = ("human", "observation") if i % 2 == 0 else ("gpt", "function_call")
            if t["from"] not in wanted:
                raise ValueError(
                    f"turn {i + 1} would be {t['from']!r} where ShareGPT takes {' or '.join(wanted)} "
                    "(human and observation at odd positions, gpt and function_call at even ones)"
                )
        tools = [tool.openai_schema() for tool in example.tools]
        return {"conversations": turns, "tools": compact_json(tools)}

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        existing: dict[str, Any] = {}
        if DATASET_INFO in ctx.existing:
            try:
                existing = json.loads(ctx.existing[DATASET_INFO])
            except ValueError as exc:
                raise ConfigError(
                    f"{DATASET_INFO} beside the export is not valid JSON ({exc}); fix or move it, "
                    "then export again"
                ) from exc
            if not isinstance(existing, dict):
                raise ConfigError(f"{DATASET_INFO} beside the export is not a JSON object; fix or move it")
        for data in ctx.data_files:
            existing[dataset_name(ctx.version, data.split)] = {
                "file_name": data.path,
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "tools": "tools"},
                "tags": dict(TAGS),
            }
        text = json.dumps(existing, indent=2, ensure_ascii=False) + "\n"
        return [ExtraFile(DATASET_INFO, text.encode("utf-8"), "dataset_info")]
