"""Replay: re-execute recorded calls and compare what comes back.

A tool whose identical call returns something different is volatile; the
JSON pointers that differed are kept, so a check can tell an unused timestamp
from a changed answer. Each distinct call is replayed once per run.

A step whose output is a view of text (``Step.parser``) is compared on the fresh raw output
re-derived with the *recorded* parser id, never today's parsers: an upgraded parser does not
make a tool look volatile. When the recorded parser no longer accepts the fresh output, the
output changed shape: the replay fails with that reason.

A replay is a tool call like any other: given a `CallRecorder` with a cache,
it is recorded under its own key (purpose ``replay:1``, not the exploration's),
so a rerun reuses the recorded replay instead of calling the tool again, and
the comparison, made again from the two recorded outputs, comes out the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generators import CallRecorder, Toolset, replay_purpose, timeout_error, view_as
from generators.views import ViewError
from schemas import Step, VolatileField, call_key


@dataclass(frozen=True)
class ReplayResult:
    """One replayed call: whether the output matched, and where it did not."""

    call_key: str
    tool: str
    differing: tuple[str, ...] = ()
    toolset: str = ""
    error: str | None = None
    #: The replay got no answer (transport failure after retries): set aside, not volatile.
    unreplayable: bool = False

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
    recorder: CallRecorder | None = None,
    transient_attempts: int = 3,
    backoff: float = 1.0,
) -> ReplayReport:
    """Re-execute each distinct (toolset, tool, arguments) once and compare outputs.

    ``recorded_at`` is when the newest of these calls was made; replay waits
    until ``min_age`` seconds have passed since then (unless the recorder's
    cache answers every replay, which then executes nothing). A replay that
    gets no answer (`CallOutcome.transient`) is tried ``transient_attempts``
    times, ``backoff`` s apart and doubling; if it never answers, the call is
    *unreplayable* (its examples are set aside with that reason), not volatile.
    """
    recorder = recorder or CallRecorder()
    purpose = replay_purpose(1)
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
        gone = getattr(toolset, "gone", None)
        if gone:  # its server died during the run: no answer, and none is coming
            return ReplayResult(key, step.tool, unreplayable=True, error=f"unreplayable: {gone}")
        for attempt in range(transient_attempts):
            replayed, transient = await recorder.call_outcome(step.toolset, toolset, step.tool,
                                                              dict(step.arguments), purpose=purpose, timeout=timeout)
            if not transient:
                break
            if attempt + 1 < transient_attempts:
                await asyncio.sleep(backoff * 2**attempt)
        if transient:
            # No answer (timeout, lost connection, 429, 5xx) says nothing about the output:
            # the call is unreplayable in this run, never volatile.
            what = ("timed out" if replayed.error == timeout_error(timeout)
                    else f"failed: {replayed.error}")
            return ReplayResult(key, step.tool, unreplayable=True,
                                error=f"unreplayable: replay {what} ({transient_attempts} attempts)")
        if replayed.is_error != step.is_error:
            return ReplayResult(
                key, step.tool, differing=("/",),
                error=None if not replayed.is_error else f"replay failed: {replayed.error}",
            )
        # The fresh output read by the recorded parser (not today's): a parser upgrade never
        # shows up as a change; a parser that no longer accepts it means the output changed shape.
        try:
            fresh = replayed.output if replayed.parser == step.parser else view_as(
                step.parser, replayed.output, replayed.raw)
        except ViewError as exc:
            return ReplayResult(key, step.tool, differing=("/",),
                                error=f"the output changed shape: {exc} (parser {step.parser})")
        return ReplayResult(key, step.tool, differing=tuple(diff_pointers(step.output, fresh)))

    # Volatile outputs often change by the second: replay no sooner than that.
    cached = recorder.cache is not None and all(
        recorder.cache.get_call(recorder.key(purpose, s.toolset, toolsets[s.toolset].version, s.tool,
                                             dict(s.arguments))) is not None
        for s in todo.values() if s.toolset in toolsets
    )
    if todo and recorded_at is not None and not cached:
        age = (_dt.datetime.now(_dt.UTC) - recorded_at).total_seconds()
        if age < min_age:
            await asyncio.sleep(min_age - age)
    results = await asyncio.gather(*(one(k, s) for k, s in todo.items()))
    report.results = {r.call_key: r for r in results}
    return report
