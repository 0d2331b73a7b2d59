"""The base every export format subclasses, and the pieces formats share.

A format turns one sealed example into one plain-JSON row (``row``) and declares the
``datasets.Features`` the file is written with. It never calls tools or models: everything a row
holds was recorded when the example was built.

    conversation(example)   the one chat message list every chat format is built from
    function_tools(example) the tools offered, as {"type": "function", "function": {...}}
    expected_calls(example) the calls the trace made, in order
    ground_truth(example)   what a rule reward checks: the answer, its values, normaliser, calls

Formats that write more than their rows (a reward module, a dataset_info.json entry, a second
file of answers) return those from ``extra_files``; the exporter stages them with the data and
lists them in the manifest.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from datasets import Features, Json, List

from schemas import Example, Step, VersionInfo


@dataclass(frozen=True)
class ExportOptions:
    """How rows are shaped, beyond the format itself."""

    train_on_tool_outputs: float | None = None
    """Weight for tool messages as training targets (formats with ``tool_weights``); off: None."""


DEFAULT_OPTIONS = ExportOptions()


@dataclass(frozen=True)
class ExtraFile:
    """A file a format writes beside its data (path relative to the data file's directory)."""

    path: str
    content: bytes
    role: str


@dataclass(frozen=True)
class DataFile:
    """A data file the exporter wrote for a format: where, which split, how many rows."""

    path: str
    split: str | None
    rows: int


@dataclass(frozen=True)
class FinishContext:
    """What ``extra_files`` may use: the version, the data files written, the options."""

    version: VersionInfo
    data_files: Sequence[DataFile]
    options: ExportOptions = DEFAULT_OPTIONS
    stem: str = "data"
    existing: dict[str, bytes] = field(default_factory=dict)
    """Current content of files an extra file would update in place (dataset_info.json)."""


class ExportFormat(ABC):
    """A format: name, the JSON Schema its rows obey, the features they are written with."""

    name: ClassVar[str]
    schema_name: ClassVar[str]
    """Key of the row model in ``schemas.RECORD_MODELS`` (its file in schemas/json/)."""
    features: ClassVar[Features]
    file_types: ClassVar[tuple[str, ...]] = (".parquet", ".jsonl")
    rl: ClassVar[bool] = False
    """An RL format: the rubric reward spec and the replay table go out beside the data."""
    tool_weights: ClassVar[bool] = False
    """Tool messages can carry a training weight (``--train-on-tool-outputs``)."""
    usage: ClassVar[str] = ""
    """How the consumer loads the files ({file} is the data file's name); goes into the manifest."""

    @abstractmethod
    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        """The row for one example, as plain JSON values (nested objects, not JSON text)."""

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        """Files written beside the data; none unless a format needs them."""
        return []

    @property
    def json_columns(self) -> tuple[str, ...]:
        """Columns stored with datasets' ``Json`` feature, alone or as a list of them."""
        return tuple(
            name
            for name, feature in self.features.items()
            if isinstance(feature, Json)
            or (isinstance(feature, List) and isinstance(feature.feature, Json))
        )


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text with no spaces, non-ASCII kept, NaN and infinities refused (ValueError).

    Keys keep their given order unless ``sort_keys``: a tool's output reads as it came back.
    """
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=sort_keys
    )


def tool_output_text(step: Step) -> str:
    """What a tool message shows: a string output as-is, any other JSON value as compact JSON."""
    return step.output if isinstance(step.output, str) else compact_json(step.output)


def function_tools(example: Example) -> list[dict[str, Any]]:
    """The tools offered, as chat templates take them: ``{"type": "function", "function": ...}``."""
    return [{"type": "function", "function": tool.openai_schema()} for tool in example.tools]


def expected_calls(example: Example) -> list[dict[str, Any]]:
    """The calls the trace made, in order: ``{"name", "arguments"}``."""
    return [{"name": step.tool, "arguments": step.arguments} for step in example.trace.steps]


def ground_truth(example: Example) -> dict[str, Any]:
    """What a rule reward checks a rollout against, the same for verl and TRL rows::

        {"kind", "answer": <Answer.value>, "answer_values": [one value per answer pointer],
         "normaliser": {"kind", "tolerance"}, "expected_calls": [{"name", "arguments"}]}

    ``answer_values`` is what ``validators.attempt_reward`` checks value by value (a parallel
    task answers one value per call); ``answer``, ``answer_values`` and ``normaliser`` are null
    for a no_call task, which is solved by answering without calling a tool.
    """
    answer = example.task.answer
    return {
        "kind": example.task.kind,
        "answer": answer.value if answer else None,
        "answer_values": answer.values() if answer else None,
        "normaliser": answer.normaliser.model_dump(mode="json") if answer else None,
        "expected_calls": expected_calls(example),
    }


def failed_turns(example: Example) -> set[int]:
    """Indices (into ``trace.turns()``) of assistant turns whose calls all failed: the wrong
    attempt of an error_recovery task, which no format should teach."""
    steps = example.trace.steps
    return {k for k, turn in enumerate(example.trace.turns()) if all(steps[i].is_error for i in turn)}


def conversation(example: Example) -> list[dict[str, Any]]:
    """The example as chat messages, the one shape every chat format is built from.

    The user's request, any further dialogue turns (multi_turn), then one
    assistant message per turn (parallel calls share a turn and its
    ``tool_calls``), each followed by its tool messages, then the final answer.
    """
    messages: list[dict[str, Any]] = [{"role": "user", "content": example.task.user_request}]
    messages += [{"role": t.role, "content": t.content} for t in example.task.dialogue]
    steps = example.trace.steps
    for turn in example.trace.turns():
        calls = [
            {"type": "function", "function": {"name": steps[i].tool, "arguments": steps[i].arguments}}
            for i in turn
        ]
        messages.append({"role": "assistant", "tool_calls": calls})
        messages += [{"role": "tool", "name": steps[i].tool, "content": tool_output_text(steps[i])} for i in turn]
    messages.append({"role": "assistant", "content": example.task.final_message})
    return messages
