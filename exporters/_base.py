"""The base every export format subclasses, and the pieces formats share.

A format turns one sealed example into one plain-JSON row (``row``) and declares the
``datasets.Features`` the file is written with. It never calls tools or models: everything a row
holds was recorded when the example was built.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from datasets import Features, Json, List

from schemas import Example, Step, VersionInfo


class ExportFormat(ABC):
    """A format: name, the JSON Schema its rows obey, the features they are written with."""

    name: ClassVar[str]
    schema_name: ClassVar[str]
    """Key of the row model in ``schemas.RECORD_MODELS`` (its file in schemas/json/)."""
    features: ClassVar[Features]

    @abstractmethod
    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo
    ) -> dict[str, Any]:
        """The row for one example, as plain JSON values (nested objects, not JSON text)."""

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
