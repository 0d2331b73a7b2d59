"""Answering a rollout's tool calls from an export's replay table, synchronously and fast.

    tools = ReplayTools.load("out/train.replay.parquet")   # one table per process (cached)
    answer = tools.answer("country_info", {"country": "France"})
    answer.text        what the model reads: the recorded output (a string as it came back,
                       any other JSON value as compact JSON, exactly as the SFT rows show it)
    answer.source      "recorded", or "miss": no recorded call matched

Matching is the replay table's own, shared with ``generators.ReplaySimulator``
(``schemas.ReplayIndex``, ``schemas.normalised_key``: keys sorted, strings NFC and stripped,
integral floats as integers); the earliest recorded outcome of a volatile call answers. The
miss policy is the documented one: a call nobody recorded answers an error text,
``Error: no recorded observation for TOOL({arguments})``, and never goes to a live tool. A
rollout that wants another policy on a miss (``nearest``, or ``live`` with a toolset its own code
starts and closes) drives ``generators.ReplaySimulator`` itself; this runtime never makes a call,
and reads the table through ``schemas`` only (exporters do not import generators, the package
that holds toolsets).

Speed: a lookup is one normalisation and one sha256 of the canonical arguments, plus a dict
hit; the text of every recorded output is made once. bench/replay_lookup.py measures it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from schemas import ConfigError, RecordedCall, ReplayIndex, Tool, compact_json, read_replay_table

MISS_PREFIX = "Error: "


class RecordedLookup(Protocol):
    """What answers need: every recorded outcome of a call, earliest first (``schemas.ReplayIndex``,
    or a ``generators.ReplaySimulator``)."""

    def recorded(self, tool: str, arguments: Mapping[str, Any], *,
                 toolset: str | None = None) -> list[RecordedCall]: ...


@dataclass(frozen=True)
class ToolAnswer:
    """What a replayed call returns to the model, and where it came from."""

    text: str
    is_error: bool
    source: Literal["recorded", "miss"]
    observation_id: str | None = None


class ReplayTools:
    """An export's recorded calls, answering by tool name and arguments (see the module docstring)."""

    def __init__(self, simulator: RecordedLookup, tools: Sequence[Tool] = ()) -> None:
        self.simulator = simulator
        """The recorded calls (a ``schemas.ReplayIndex`` when loaded from a table)."""
        self.tools: list[Tool] = list(tools)
        """The tools the exported rows offer (the table's ``backchain.tools`` metadata)."""
        self._texts: dict[str, str] = {}

    @classmethod
    def load(cls, path: str | Path) -> ReplayTools:
        """The replay table at ``path``, read once per process and file version."""
        resolved = Path(path).resolve()
        try:
            stat = resolved.stat()
        except OSError as exc:
            raise ConfigError(f"replay table {resolved}: cannot read it ({exc.strerror}); it is the export's "
                              "<stem>.replay.parquet") from exc
        return _load(str(resolved), stat.st_mtime_ns, stat.st_size)

    def answer(self, tool: str, arguments: Mapping[str, Any], *, toolset: str | None = None) -> ToolAnswer:
        """The recorded answer to ``tool(arguments)``, or the miss policy's error text."""
        try:
            found = self.simulator.recorded(tool, arguments, toolset=toolset)
        except TypeError as exc:  # not JSON arguments
            return ToolAnswer(f"{MISS_PREFIX}{tool}: the arguments are not a JSON object ({exc})", True, "miss")
        if found:
            call = found[0]
            return ToolAnswer(self._text(call.observation_id, call.output, call.is_error, call.error),
                              call.is_error, "recorded", call.observation_id)
        return ToolAnswer(f"{MISS_PREFIX}no recorded observation for {_describe(tool, arguments)}", True, "miss")

    def text(self, tool: str, arguments: Mapping[str, Any], *, toolset: str | None = None) -> str:
        """Only what the model reads."""
        return self.answer(tool, arguments, toolset=toolset).text

    def _text(self, observation_id: str, output: Any, is_error: bool, error: str | None) -> str:
        text = self._texts.get(observation_id)
        if text is None:
            if is_error and output is None:
                text = error or "the tool reported an error"
            else:
                text = output if isinstance(output, str) else compact_json(output)
            self._texts[observation_id] = text
        return text


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int, _size: int) -> ReplayTools:
    calls, tools = read_replay_table(path)
    return ReplayTools(ReplayIndex(calls, tools), tools)


def _describe(tool: str, arguments: Any) -> str:
    try:
        text = compact_json(arguments)
    except (TypeError, ValueError):
        text = repr(arguments)
    return f"{tool}({text if len(text) <= 300 else text[:299] + '…'})"
