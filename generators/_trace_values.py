"""Values of a recorded trace: JSON pointers into outputs, what the user supplied, echoes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas import Trace

from ._pool import iter_scalars


def render_value(value: Any) -> str:
    """A value as JSON would show it (strings bare): for prompts and keys, not for sentences."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup; raises KeyError when the pointer does not resolve."""
    if pointer == "":
        return document
    current = document
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                raise KeyError(pointer)
            current = current[int(token)]
        elif isinstance(current, dict):
            if token not in current:
                raise KeyError(pointer)
            current = current[token]
        else:
            raise KeyError(pointer)
    return current


def field_of(pointer: str) -> str:
    """'/destinations/3/dest' -> '/destinations/*/dest' (list items are one field)."""
    return re.sub(r"/\d+(?=/|$)", "/*", pointer)


def user_values(trace: Trace) -> dict[str, Any]:
    """Arguments the user must state, by parameter name (``name@k`` when names repeat)."""
    values: dict[str, Any] = {}
    for k, step in enumerate(trace.steps):
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if source is not None and source.origin == "step":
                continue
            key = param if param not in values or values[param] == value else f"{param}@{k}"
            values[key] = value
    return values


# --- which fields are worth asking for -----------------------------------------------------------

@dataclass
class FieldStats:
    """Distinct values each output field took across a tool's successful observations.

    A field with one value in every observation of a tool whose arguments varied
    ("year": 2013 in every flight row) is constant: asking for it teaches nothing.
    Built from explored calls (drafting) or stored observations (checking).
    """

    values: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    calls: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    volatile: set[tuple[str, str, str]] = field(default_factory=set)  # (toolset, tool, field) seen to change on an identical call

    @classmethod
    def from_outputs(cls, rows: Iterable[tuple[str, str, Mapping[str, Any] | Any, Any, bool]]) -> FieldStats:
        """From (toolset, tool, arguments, output, is_error) rows."""
        stats = cls()
        for toolset, tool, arguments, output, is_error in rows:
            if is_error:
                continue
            stats.calls.setdefault((toolset, tool), set()).add(json.dumps(arguments, sort_keys=True, default=str))
            for pointer, _, value in iter_scalars(output):
                stats.values.setdefault((toolset, tool, field_of(pointer)), set()).add(
                    json.dumps(value, sort_keys=True))
        return stats

    def is_constant(self, toolset: str, tool: str, pointer: str, *, min_calls: int = 3) -> bool:
        """One value across at least ``min_calls`` calls with different arguments."""
        if len(self.calls.get((toolset, tool), ())) < min_calls:
            return False
        return len(self.values.get((toolset, tool, field_of(pointer)), {"", " "})) == 1


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return bool(a == b)


def is_echo(trace: Trace, value: Any) -> bool:
    """The value is an argument of some call: the answer would repeat the question."""
    return any(_same_value(value, v) for step in trace.steps for _, _, v in iter_scalars(step.arguments))


def already_given(trace: Trace, k: int, pointer: str, value: Any) -> tuple[int, str] | None:
    """(earlier step, pointer) whose output already holds the value step ``k`` answers at ``pointer``.

    Such a call is not needed: the earlier output answers it ("the time zone of EWR" from
    airport_info, then timezone_at on its coordinates). The same value under a field of the same
    name counts, and a distinctive string (six characters or more) under any name; a bare small
    number elsewhere may be there by chance. Only a chain's link counts: step ``k`` takes an
    argument from an earlier output.
    """
    if not 0 < k < len(trace.steps) or isinstance(value, bool) or value in (None, ""):
        return None
    if not any(source.origin == "step" for source in trace.steps[k].sources.values()):
        return None  # not a link of a chain (a parallel call): both calls are asked for
    name = field_of(pointer).rsplit("/", 1)[-1]
    distinctive = isinstance(value, str) and len(value.strip()) >= 6
    for j in range(k):
        if trace.steps[j].is_error:
            continue
        for earlier, _, other in iter_scalars(trace.steps[j].output):
            if isinstance(other, bool) or other != value:
                continue
            if distinctive or field_of(earlier).rsplit("/", 1)[-1] == name:
                return j, earlier
    return None
