"""An example as chat messages and tools: the one rendering every chat export starts from.

    chat_messages(example)   [{"role": "user", "content": ...}, {"role": "assistant",
                              "tool_calls": [...]}, {"role": "tool", ...}, ..., final answer]
    chat_tools(example)      [{"type": "function", "function": {name, description, parameters}}]
    variant_key(example)     what every variant of one task shares (a seeded split keeps them
                             together): the trace id, or a no_call task's user values
    render_example(example)  -> RenderedExample: the two lists above as compact JSON texts, which
                             of them hold numbers, the variant key, and a stamp when the trl-sft
                             row they make is valid

The chat formats (trl-sft, hf, openai, verl, verl-sft, sharegpt, trl-grpo) are all built from
``chat_messages`` and ``chat_tools`` (``exporters._base`` re-exports them as ``conversation``
and ``function_tools``). A trl-sft row is exactly ``{"messages": chat_messages(example),
"tools": chat_tools(example)}``, each message and tool stored as its compact JSON text; so the
store renders every example once, when it is written (store/_rendered.py), and the trl-sft
export copies those texts into parquet without parsing a body per row (exporters/_fast.py).

Same text as the export's own path, by construction: the export parses a stored body
(``Example.model_validate_json``) and renders that. ``render_example`` is given the example
parsed the same way from the same canonical JSON text (the store re-parses what it is about to
store, rather than rendering the object it was handed, whose dicts keep their original key
order), and the texts come from the same ``compact_json``: standard library JSON, no spaces,
non-ASCII kept, key order kept (a tool's output reads as it came back).

The stamp: ``render_example`` checks the row ``{"messages", "tools"}`` against the trl-sft row's
JSON Schema (``schemas/json/export-trl-sft.json``, checked by jsonschema-rs: ``_fastschema``) and stamps a valid
rendering with ``rendering_stamp()``, a hash of ``RENDERING_VERSION`` and that schema. A stored
rendering whose stamp is not today's (the schema or the rendering changed since it was written)
is never trusted: the export renders those rows again. Bump ``RENDERING_VERSION`` whenever
``chat_messages``, ``chat_tools``, ``variant_key`` or ``compact_json`` change what they write.

``numeric``: the positions (messages first, then tools) of the texts that hold a float or an
integer of 16 or more digits. Only such a value can load back changed through ``datasets``'
JSON decoder (see exporters/_drift.py, ``load_drift``), so the export decodes only those texts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._fastschema import compile_schema
from ._hashing import canonical_json, content_hash
from ._jsonschema import json_schema
from ._records import Example, Step

RENDERING_VERSION = 1
"""Bump when the rendering changes what it writes; stamps of older renderings stop matching."""

TRL_SFT_SCHEMA = "export-trl-sft"
"""The row a rendering is checked against (``schemas.TrlSftRow``)."""


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text with no spaces, non-ASCII kept, NaN and infinities refused (ValueError).

    Keys keep their given order unless ``sort_keys``: a tool's output reads as it came back.
    """
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=sort_keys
    )


def tool_output_text(step: Step) -> str:
    """What a tool message shows: the tool's own text when it answered in text (``Step.shown``:
    not the view derived from it), a string output as-is, any other JSON value as compact JSON."""
    shown = step.shown()
    return shown if isinstance(shown, str) else compact_json(shown)


def chat_tools(example: Example) -> list[dict[str, Any]]:
    """The tools offered, as chat templates take them: ``{"type": "function", "function": ...}``."""
    return [{"type": "function", "function": tool.openai_schema()} for tool in example.tools]


def chat_messages(example: Example) -> list[dict[str, Any]]:
    """The example as chat messages, the one shape every chat format is built from.

    The user's request, any further dialogue turns (multi_turn), then one
    assistant message per turn (parallel calls share a turn and its
    ``tool_calls``), each followed by its tool messages, then the final answer.
    """
    messages = example.task.opening()
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


def variant_key(example: Example) -> str:
    """What the variants of one task share: its trace id; for a no_call task (whose trace is
    empty, the same for all of them) its user values, which the variants of one draft share."""
    if example.trace.steps:
        return example.trace.trace_id
    return "no_call:" + canonical_json(example.task.user_values)


@functools.cache
def rendering_stamp() -> str:
    """The stamp of a valid rendering made by this code against today's trl-sft row schema."""
    return content_hash(["chat-rendering", RENDERING_VERSION, json_schema(TRL_SFT_SCHEMA)])


@functools.cache
def _row_check() -> Any:
    return compile_schema(json_schema(TRL_SFT_SCHEMA))


@dataclass(frozen=True)
class RenderedExample:
    """An example's chat rendering as stored text (see the module docstring)."""

    messages: tuple[str, ...]
    """``compact_json`` of each of ``chat_messages(example)``."""
    tools: tuple[str, ...]
    """``compact_json`` of each of ``chat_tools(example)``."""
    numeric: tuple[int, ...]
    """Positions in ``messages + tools`` of the texts holding a float or a 16+ digit integer."""
    variant_key: str
    stamp: str | None
    """``rendering_stamp()`` when ``{"messages", "tools"}`` is a valid trl-sft row, else None."""


def render_example(example: Example) -> RenderedExample:
    """Render and check one example (parse it from its stored JSON first: see the docstring).

    Raises ValueError for a value JSON cannot hold (NaN, infinity).
    """
    messages, tools = chat_messages(example), chat_tools(example)
    pieces: Sequence[Any] = [*messages, *tools]
    texts = [compact_json(piece) for piece in pieces]
    numeric = tuple(i for i, piece in enumerate(pieces) if _holds_inexact_number(piece))
    valid = _row_check()({"messages": messages, "tools": tools})
    return RenderedExample(
        messages=tuple(texts[: len(messages)]), tools=tuple(texts[len(messages):]), numeric=numeric,
        variant_key=variant_key(example), stamp=rendering_stamp() if valid else None,
    )


def _holds_inexact_number(value: Any) -> bool:
    """A float, or an integer of 16 digits or more, anywhere inside ``value``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return True
    if isinstance(value, int):
        return abs(value) >= 10**15
    if isinstance(value, dict):
        return any(_holds_inexact_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_inexact_number(v) for v in value)
    return False
