"""The drift audit: re-run a version's recorded calls today and say which answers would change.

A dataset's labels were true when its calls were recorded. APIs drift (a new row in a table, a
field renamed, an endpoint retired) and Firefly's critics note that a replay cache never notices.
``audit_examples`` re-executes each example's trace against live toolsets and compares:

* each **call** with its recorded outcome: ``same``, ``changed`` (the JSON pointers that
  differ, by ``diff_pointers``), ``now_error`` (it succeeded and fails today), ``now_ok`` (the
  reverse) or ``unavailable`` (its toolset is not connected, it timed out, or an argument it
  takes from an earlier step cannot be had today);
* each **answer pointer** (``Task.answer.pointers``) under the answer's normaliser: the value
  the pointer resolves to today against the value it resolved to when recorded (a ``no_call``
  task has no answer and no calls, so it is always ``same``).

A step whose output is a view of text is compared on today's raw output re-derived with the
parser id recorded with the step (``Step.parser``), never today's parsers: an upgraded parser
never shows up as drift; a recorded parser that no longer accepts today's output is a change
("the output changed shape").

Calls are re-chained, as the trace was built: an argument whose source is an earlier step's
output (``ArgumentSource(origin="step")``) takes today's value at that pointer, so a changed
upstream value changes the downstream call, as it would for an agent solving the task today;
the call records which arguments that changed (``rechained``). User-supplied arguments are sent
as recorded.

An example's status: ``changed`` when an answer pointer's value changed or its call failed
today, ``drifted`` when only calls it does not answer from changed (a volatile timestamp beside
a stable answer), ``same`` when nothing changed, ``skipped`` when it was not audited (the
``reason`` says why). Each distinct call (toolset, tool, arguments) runs once per audit,
whichever examples share it; ``summarise_tools`` counts drift per tool over those calls.

Writes: an example that calls a tool classified write or destructive, or one its ``tools`` do
not describe, is skipped unless ``allow_writes`` (re-executing it would write again), so an
audit is read-only by default.

Validators return records and never open the database: ``flows`` picks the examples, restarts
the toolsets from the run config stored with each example's run, and renders the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from generators import TOOL_CLOCK, CallOutcome, Toolset, resolve_pointer, view_as
from generators.views import ViewError
from schemas import BackchainError, Example, Step, canonical_json, values_equal

from ._replay import diff_pointers

CallStatus = Literal["same", "changed", "now_error", "now_ok", "unavailable"]
ExampleStatus = Literal["same", "drifted", "changed", "skipped"]
_MISSING = object()


@dataclass(frozen=True)
class CallDrift:
    """One step of one example, executed today and compared with its recording."""

    step: int
    toolset: str
    tool: str
    arguments: dict[str, Any]  # as sent today (re-chained values included)
    status: CallStatus
    differing: tuple[str, ...] = ()
    rechained: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class AnswerDrift:
    """One answer pointer: what it resolved to when recorded and what it resolves to today."""

    step: int
    pointer: str
    recorded: Any
    today: Any
    changed: bool
    reason: str = ""


@dataclass(frozen=True)
class AuditResult:
    """The audit of one example."""

    example_id: str
    status: ExampleStatus
    reason: str = ""
    calls: tuple[CallDrift, ...] = ()
    answers: tuple[AnswerDrift, ...] = ()

    @classmethod
    def skipped(cls, example_id: str, reason: str) -> AuditResult:
        return cls(example_id=example_id, status="skipped", reason=reason)


@dataclass(frozen=True)
class ToolDrift:
    """Drift of one tool over the distinct calls an audit made to it."""

    toolset: str
    tool: str
    calls: int = 0
    changed: int = 0
    now_error: int = 0
    now_ok: int = 0
    unavailable: int = 0

    @property
    def drifted(self) -> int:
        return self.changed + self.now_error + self.now_ok + self.unavailable


@dataclass(frozen=True)
class _Today:
    """A call's outcome today, or why there is none; ``view`` is its output as the recorded step's
    parser reads it (``_MISSING`` when that parser no longer accepts it: ``shape`` says why)."""

    outcome: CallOutcome | None
    error: str | None = None
    view: Any = None
    shape: str | None = None


def _as_recorded(step: Step, today: _Today) -> _Today:
    """Today's outcome with its output re-derived by the parser recorded with ``step``.

    A view of text is compared as the recorded parser version reads today's raw output, so a
    parser upgrade never shows up as drift; a parser that no longer accepts it means the output
    changed shape.
    """
    outcome = today.outcome
    if outcome is None:
        return today
    if outcome.parser == step.parser:
        return dataclasses.replace(today, view=outcome.output)
    try:
        return dataclasses.replace(today, view=view_as(step.parser, outcome.output, outcome.raw))
    except ViewError as exc:
        return dataclasses.replace(today, view=_MISSING, shape=f"the output changed shape ({exc})")


class _Calls:
    """Each distinct call once per audit, at most ``concurrency`` at a time."""

    def __init__(self, toolsets: Mapping[str, Toolset], timeout: float, concurrency: int) -> None:
        self.toolsets = toolsets
        self.timeout = timeout
        self.gate = asyncio.Semaphore(concurrency)
        self.running: dict[str, asyncio.Task[_Today]] = {}

    def get(self, toolset: str, tool: str, arguments: dict[str, Any]) -> asyncio.Task[_Today]:
        key = canonical_json([toolset, tool, arguments])
        if key not in self.running:
            self.running[key] = asyncio.ensure_future(self._call(toolset, tool, arguments))
        return self.running[key]

    async def _call(self, name: str, tool: str, arguments: dict[str, Any]) -> _Today:
        toolset = self.toolsets.get(name)
        if toolset is None:
            return _Today(None, f"toolset {name!r} is not connected today")
        async with self.gate:
            try:
                with TOOL_CLOCK:
                    outcome = await asyncio.wait_for(toolset.call(tool, dict(arguments)), self.timeout)
            except TimeoutError:
                return _Today(None, f"timed out after {self.timeout:g} s")
            except BackchainError as exc:  # a toolset that stopped working: unavailable today
                return _Today(None, str(exc))
        return _Today(outcome)


async def audit_examples(
    examples: Iterable[Example],
    toolsets: Mapping[str, Toolset],
    *,
    timeout: float = 30.0,
    concurrency: int = 4,
    allow_writes: bool = False,
) -> list[AuditResult]:
    """Audit each example against the connected ``toolsets`` (by name); one result each, in order."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    calls = _Calls(toolsets, timeout, concurrency)
    try:
        return list(await asyncio.gather(*(_audit_one(e, calls, allow_writes) for e in examples)))
    finally:
        for task in calls.running.values():
            task.cancel()


async def _audit_one(example: Example, calls: _Calls, allow_writes: bool) -> AuditResult:
    if not allow_writes:
        # a tool the example does not describe is treated as a writer: its class is unknown
        classes = {(t.toolset, t.name): t.side_effect for t in example.tools}
        writes = sorted({
            f"{s.tool} ({classes.get((s.toolset, s.tool), 'unclassified')})" for s in example.trace.steps
            if classes.get((s.toolset, s.tool)) != "read"
        })
        if writes:
            return AuditResult.skipped(
                example.example_id,
                f"calls {', '.join(writes)}: not re-executed without --allow-writes",
            )
    drifts: list[CallDrift] = []
    today: list[_Today] = []
    for k, step in enumerate(example.trace.steps):
        arguments, rechained, broken = _arguments_today(step, example.trace.steps, today)
        if broken:
            drifts.append(CallDrift(k, step.toolset, step.tool, arguments, "unavailable", error=broken))
            today.append(_Today(None, broken))
            continue
        result = _as_recorded(step, await calls.get(step.toolset, step.tool, arguments))
        today.append(result)
        drifts.append(_compare(k, step, arguments, tuple(rechained), result))
    answers = tuple(_answer_drift(example, today))
    changed = [a for a in answers if a.changed]
    drifting = [d for d in drifts if d.status != "same"]
    if changed:
        status: ExampleStatus = "changed"
        reason = f"answer at step {changed[0].step} {changed[0].pointer}: {changed[0].reason}"
    elif drifting:
        status = "drifted"
        reason = "; ".join(f"{d.tool}: {_call_reason(d)}" for d in drifting[:3])
    else:
        status, reason = "same", ""
    return AuditResult(example.example_id, status, reason, tuple(drifts), answers)


def _arguments_today(
    step: Step, steps: Sequence[Step], today: Sequence[_Today]
) -> tuple[dict[str, Any], list[str], str | None]:
    """The step's arguments with step-sourced values read from today's outputs."""
    arguments = dict(step.arguments)
    rechained: list[str] = []
    for name, source in sorted(step.sources.items()):
        if source.origin != "step" or source.step is None or name not in arguments:
            continue
        upstream = today[source.step] if source.step < len(today) else _Today(None, "not run")
        if upstream.outcome is None or upstream.outcome.is_error:
            why = upstream.error or (upstream.outcome.error if upstream.outcome else None) or "failed"
            return arguments, rechained, f"argument {name} comes from step {source.step}, which failed today ({why})"
        try:
            value = resolve_pointer(upstream.view, source.pointer or "")
        except KeyError:
            return arguments, rechained, (
                f"argument {name}: step {source.step}'s output has no {source.pointer} today"
            )
        if canonical_json(value) != canonical_json(arguments[name]):
            arguments[name] = value
            rechained.append(name)
    return arguments, rechained, None


def _compare(k: int, step: Step, arguments: dict[str, Any], rechained: tuple[str, ...], result: _Today) -> CallDrift:
    def drift(status: CallStatus, differing: tuple[str, ...] = (), error: str | None = None) -> CallDrift:
        return CallDrift(k, step.toolset, step.tool, arguments, status, differing, rechained, error)

    outcome = result.outcome
    if outcome is None:
        return drift("unavailable", error=result.error)
    if outcome.is_error and not step.is_error:
        return drift("now_error", ("/",), outcome.error)
    if step.is_error and not outcome.is_error:
        return drift("now_ok", ("/",))
    if result.shape is not None:
        return drift("changed", ("/",), result.shape)
    differing = tuple(diff_pointers(step.output, result.view))
    return drift("changed" if differing else "same", differing, outcome.error if outcome.is_error else None)


def _answer_drift(example: Example, today: Sequence[_Today]) -> Iterable[AnswerDrift]:
    answer = example.task.answer
    if answer is None:  # a no_call task: nothing is read from the calls
        return
    for ptr in answer.pointers:
        steps = example.trace.steps
        if ptr.step >= len(steps):
            yield AnswerDrift(ptr.step, ptr.pointer, None, None, True, "the trace has no such step")
            continue
        recorded = _resolve(steps[ptr.step].output, ptr.pointer)
        result = today[ptr.step]
        if result.outcome is None or result.outcome.is_error:
            why = result.error or (result.outcome.error if result.outcome else None) or "failed"
            yield AnswerDrift(ptr.step, ptr.pointer, _plain(recorded), None, True, f"the call fails today ({why})")
            continue
        now = _MISSING if result.shape is not None else _resolve(result.view, ptr.pointer)
        if now is _MISSING and result.shape is not None:
            yield AnswerDrift(ptr.step, ptr.pointer, _plain(recorded), None, True, result.shape)
        elif now is _MISSING:
            yield AnswerDrift(ptr.step, ptr.pointer, _plain(recorded), None, True, "no longer in the output")
        elif recorded is _MISSING or not values_equal(recorded, now, answer.normaliser):
            yield AnswerDrift(ptr.step, ptr.pointer, _plain(recorded), now, True,
                              f"{_short(_plain(recorded))} -> {_short(now)}")
        else:
            yield AnswerDrift(ptr.step, ptr.pointer, recorded, now, False)


def _resolve(document: Any, pointer: str) -> Any:
    try:
        return resolve_pointer(document, pointer)
    except KeyError:
        return _MISSING


def _plain(value: Any) -> Any:
    return None if value is _MISSING else value


def _short(value: Any, limit: int = 60) -> str:
    text = canonical_json(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call_reason(drift: CallDrift) -> str:
    if drift.status == "changed":
        shown = ", ".join(drift.differing[:3]) + (" …" if len(drift.differing) > 3 else "")
        return f"{shown} changed"
    if drift.status == "now_ok":
        return "failed when recorded, succeeds today"
    return f"{drift.status.replace('_', ' ')}: {drift.error or ''}".rstrip(": ")


def summarise_tools(results: Iterable[AuditResult]) -> list[ToolDrift]:
    """Per-tool drift counts over the distinct calls the audit made, sorted by toolset and tool."""
    seen: dict[str, CallDrift] = {}
    for result in results:
        for drift in result.calls:
            seen.setdefault(canonical_json([drift.toolset, drift.tool, drift.arguments]), drift)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for drift in seen.values():
        tally = counts.setdefault((drift.toolset, drift.tool), dict.fromkeys(
            ("calls", "changed", "now_error", "now_ok", "unavailable"), 0))
        tally["calls"] += 1
        if drift.status in tally:
            tally[drift.status] += 1
    return [ToolDrift(toolset, tool, **tally) for (toolset, tool), tally in sorted(counts.items())]
