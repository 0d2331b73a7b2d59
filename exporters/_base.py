"""The base every export format subclasses, and the pieces formats share.

A format turns one sealed example into one plain-JSON row (``row``) and declares the
``datasets.Features`` the file is written with. It never calls tools or models: everything a row
holds was recorded when the example was built.

    conversation(example)   the one chat message list every chat format is built from
    function_tools(example) the tools offered, as {"type": "function", "function": {...}}
                            (both are schemas.chat_messages / chat_tools: see schemas/_rendering.py)
    expected_calls(example) the calls the trace made, in order
    ground_truth(example)   what a rule reward checks: the answer, its values, normaliser, calls

Formats that write more than their rows (a reward module, a dataset_info.json entry, a second
file of answers) return those from ``extra_files``; the exporter stages them with the data and
lists them in the manifest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from datasets import Features, Json, List

from schemas import Example, VersionInfo, chat_messages, chat_tools
from schemas import compact_json as compact_json
from schemas import tool_output_text as tool_output_text

# The chat rendering lives in schemas/_rendering.py: the store renders every example once, for
# the fast trl-sft export, with the very functions every format here builds its rows from.
conversation = chat_messages
function_tools = chat_tools


@dataclass(frozen=True)
class ExportOptions:
    """How rows are shaped, beyond the format itself."""

    train_on_tool_outputs: float | None = None
    """Weight for tool messages as training targets (formats with ``tool_weights``); off: None."""
    multi_turn: bool = False
    """verl: rows for verl's tool agent loop, a tools.yaml and the replay-backed tool (``--multi-turn``)."""
    tools_module: bool = False
    """trl-grpo: a tools module of replay-backed functions and an environment class (``--tools-module``)."""
    observations: bool = False
    """trl-sft: observation-prediction rows, a tool's recorded output as the target (``--observations``)."""


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
    target_dir: Path = Path(".")
    """The directory the export lands in, absolute (for files that must name other files by path)."""


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
    directory_marker: ClassVar[str] = ""
    """A format that writes a directory: the file an earlier export of it left there (so a
    re-export may replace it); any other non-empty directory is refused."""

    @abstractmethod
    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        """The row for one example, as plain JSON values (nested objects, not JSON text)."""

    def rows(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> list[dict[str, Any]]:
        """The rows for one example: one (``row``), unless a format makes several or none
        (observation rows: one per tool output); ``index`` is the first row's position."""
        return [self.row(example, score, split, index, version, options)]

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        """Files written beside the data; none unless a format needs them."""
        return []

    def sidecar_paths(self, stem: str) -> tuple[str, str]:
        """Where an RL format's reward spec and replay table go, relative to the output's directory."""
        return f"{stem}.reward_spec.json", f"{stem}.replay.parquet"

    @property
    def json_columns(self) -> tuple[str, ...]:
        """Columns stored with datasets' ``Json`` feature, alone or as a list of them."""
        return tuple(
            name
            for name, feature in self.features.items()
            if isinstance(feature, Json)
            or (isinstance(feature, List) and isinstance(feature.feature, Json))
        )

    @property
    def nested_json_columns(self) -> tuple[tuple[str, str], ...]:
        """(column, field) of ``Json`` fields inside a struct column (verl's extra_info.tools_kwargs)."""
        return tuple(
            (name, inner)
            for name, feature in self.features.items()
            if isinstance(feature, dict)
            for inner, sub in feature.items()
            if isinstance(sub, Json)
        )


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


#: Appended to the usage of an SFT format with no per-message loss mask (TRL 1.16's SFTTrainer and
#: verl's MultiTurnSFTDataset train every assistant message; LLaMA-Factory masks only whole histories).
NO_TURN_MASK = (" error_recovery rows: this format cannot mark one turn untrained, so their failed call is a "
                "training target; use --format openai (weight 0 on it) or --kinds without error_recovery.")


def failed_turns(example: Example) -> set[int]:
    """Indices (into ``trace.turns()``) of assistant turns whose calls all failed: the wrong
    attempt of an error_recovery task, which no format should teach."""
    steps = example.trace.steps
    return {k for k, turn in enumerate(example.trace.turns()) if all(steps[i].is_error for i in turn)}
