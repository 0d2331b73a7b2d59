"""Replay: re-execute recorded calls and compare what comes back.

A tool whose identical call returns something different is volatile; the
JSON pointers that differed are kept, so a check can tell an unused timestamp
from a changed answer. Each distinct call is replayed once per run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generators import TOOL_CLOCK, Toolset
from schemas import Step, VolatileField, call_key


@dataclass(frozen=True)
class ReplayResult:
    """One replayed call: whether the output matched, and where it did not."""

    call_key: str
    tool: str
    differing: tuple[str, ...] = ()
    toolset: str = ""
    error: str | None = None

    @property
    def same(self) -> bool:
        return self.error is None and not self.differing


@dataclass
class ReplayReport:
    results: dict[str, ReplayResult] = field(default_factory=dict)

    def volatile_fields(self) -> list[VolatileField]:
        """(toolset, tool, pointer) for every output field that changed on replay."""
        seen: dict[tuple[str, str, str], None] = {}
        for r in self.results.values():
            for pointer in r.differing:
                seen.setdefault((r.toolset, r.tool, pointer))
        return [VolatileField(toolset=t, tool=n, pointer=p) for t, n, p in sorted(seen)]

    @property
    def volatile_tools(self) -> dict[str, list[str]]:
        """Tool name -> pointers that differed on replay."""
        out: dict[str, list[str]] = {}
        for r in self.results.values():
            if r.differing:
                out.setdefault(r.tool, [])
                out[r.tool].extend(p for p in r.differing if p not in out[r.tool])
        return out


def diff_pointers(a: Any, b: Any, pointer: str = "") -> list[str]:
    """JSON pointers at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in a or key not in b:
                out.append(sub)
            else:
                out.extend(diff_pointers(a[key], b[key], sub))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [pointer or "/"]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(diff_pointers(x, y, f"{pointer}/{i}"))
        return out
    return [] if a == b and type(a) is type(b) else [pointer or "/"]


async def replay_steps(
    toolsets: Mapping[str, Toolset],
    steps: Iterable[Step],
    *,
    timeout: float = 30.0,
    recorded_at: _dt.datetime | None = None,
    min_age: float = 1.1,
) -> ReplayReport:
    """Re-execute each distinct (toolset, tool, arguments) once and compare outputs.

    ``recorded_at`` is when the newest of these calls was made; replay waits
    until ``min_age`` seconds have passed since then.
    """
    report = ReplayReport()
    todo: dict[str, Step] = {}
    for step in steps:
        toolset = toolsets.get(step.toolset)
        key = call_key(step.toolset, toolset.version if toolset else None, step.tool, step.arguments)
        todo.setdefault(key, step)

    async def one(key: str, step: Step) -> ReplayResult:
        result = await _replay_one(key, step)
        return dataclasses.replace(result, toolset=step.toolset)

    async def _replay_one(key: str, step: Step) -> ReplayResult:
        toolset = toolsets.get(step.toolset)
        if toolset is None:
            return ReplayResult(key, step.tool, error=f"toolset {step.toolset!r} is not connected")
        try:
            with TOOL_CLOCK:
                outcome = await asyncio.wait_for(toolset.call(step.tool, dict(step.arguments)), timeout)
        except asyncio.TimeoutError:
            return ReplayResult(key, step.tool, error=f"replay timed out after {timeout:g} s")
        if outcome.is_error != step.is_error:
            return ReplayResult(
                key, step.tool, differing=("/",),
                error=None if not outcome.is_error else f"replay failed: {outcome.error}",
            )
        return ReplayResult(key, step.tool, differing=tuple(diff_pointers(step.output, outcome.output)))

    # Volatile outputs often change by the second: replay no sooner than that.
    if todo and recorded_at is not None:
        age = (_dt.datetime.now(_dt.timezone.utc) - recorded_at).total_seconds()
        if age < min_age:
            await asyncio.sleep(min_age - age)
    results = await asyncio.gather(*(one(k, s) for k, s in todo.items()))
    report.results = {r.call_key: r for r in results}
    return report
