"""Deterministic checks: the facts the recorded observations decide.

Each check takes an example (and the run's replay report) and returns
(passed, reason). They run before any judge question, cheapest first, and a
judge never overrules them. A rubric leaf names a check by its key in `CHECKS`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, UnknownType

from generators import resolve_pointer
from schemas import Answer, Example, call_key, json_schema

from ._replay import ReplayReport
from ._text import answer_in_text, normalise_text, value_in_text, values_equal


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    reason: str = ""


@dataclass
class CheckContext:
    """What checks may consult beyond the example itself.

    ``decided``: checks that are not run but taken as passed, check name ->
    why. The RL reward uses it for facts the filter decided when the row was
    accepted and that a rollout cannot change (replay needs live tools).
    """

    replay: ReplayReport | None = None
    toolset_versions: dict[str, str | None] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)


Check = Callable[[Example, CheckContext], CheckResult]


def _where(example: Example, k: int) -> str:
    return f"step {k + 1} ({example.trace.steps[k].tool})"


@functools.cache
def _example_validator() -> Draft202012Validator:
    return Draft202012Validator(json_schema("example"))


def check_record_schema(example: Example, ctx: CheckContext) -> CheckResult:
    """The stored JSON of the example validates against schemas/json/example.json.

    Pydantic built the record; this checks what consumers of the JSON will read,
    so a drift between the models and the published schema cannot go unnoticed.
    """
    error = next(iter(_example_validator().iter_errors(example.model_dump(mode="json"))), None)
    if error is None:
        return CheckResult(True)
    path = "/".join(str(p) for p in error.absolute_path)
    return CheckResult(False, f"example JSON at /{path}: {error.message}")


def check_writer(example: Example, ctx: CheckContext) -> CheckResult:
    """The writer's reply was usable (valid JSON of the asked shape)."""
    err = example.task.writer_error
    return CheckResult(err is None, f"{example.task.writer} writer: {err}" if err else "")


def check_arguments_schema(example: Example, ctx: CheckContext) -> CheckResult:
    """Every call's arguments validate against its tool's input schema."""
    tools = {(t.toolset, t.name): t for t in example.tools}
    for k, step in enumerate(example.trace.steps):
        tool = tools.get((step.toolset, step.tool))
        if tool is None:
            return CheckResult(False, f"{_where(example, k)}: tool is not among the offered tools")
        try:
            error = next(iter(Draft202012Validator(tool.input_schema).iter_errors(step.arguments)), None)
        except SchemaError as exc:
            return CheckResult(False, f"{_where(example, k)}: tool schema is invalid: {exc.message}")
        except (UnknownType, TypeError) as exc:  # jsonschema does not pre-check schemas
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return CheckResult(False, f"{_where(example, k)}: tool schema is invalid: {detail}")
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path)
            return CheckResult(False, f"{_where(example, k)}: arguments{'/' + path if path else ''}: {error.message}")
    return CheckResult(True)


def _recovered(example: Example, k: int) -> bool:
    """An error_recovery step that failed and was followed by a successful call of the same tool."""
    steps = example.trace.steps
    return (
        example.task.kind == "error_recovery"
        and steps[k].is_error
        and any(s.tool == steps[k].tool and not s.is_error for s in steps[k + 1:])
    )


def check_calls_succeeded(example: Example, ctx: CheckContext) -> CheckResult:
    """No call returned an error, except a failed call an error_recovery task then corrects."""
    for k, step in enumerate(example.trace.steps):
        if step.is_error and not _recovered(example, k):
            return CheckResult(False, f"{_where(example, k)}: the call returned an error")
    if example.task.kind == "error_recovery" and not any(s.is_error for s in example.trace.steps):
        return CheckResult(False, "an error_recovery task has no failed call to recover from")
    return CheckResult(True)


def check_provenance(example: Example, ctx: CheckContext) -> CheckResult:
    """Every argument is in the user's text or is an earlier step's recorded output.

    The user's text is the request plus any later user turns (multi_turn). A
    failed call that an error_recovery task corrects is exempt: it is the mistake.
    """
    request = example.task.user_text()
    steps = example.trace.steps
    for k, step in enumerate(steps):
        if _recovered(example, k):
            continue
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if source is None:
                return CheckResult(False, f"{_where(example, k)}: argument {param!r} has no recorded source")
            if source.origin == "user":
                if source.how == "schema-default" or value_in_text(value, request):
                    continue
                return CheckResult(
                    False, f"{_where(example, k)}: argument {param}={value!r} is not in the user request"
                )
            if source.step is None or source.pointer is None or not 0 <= source.step < k:
                return CheckResult(False, f"{_where(example, k)}: argument {param!r} points at no earlier step")
            try:
                earlier = resolve_pointer(steps[source.step].output, source.pointer)
            except KeyError:
                return CheckResult(
                    False, f"{_where(example, k)}: argument {param!r}: pointer {source.pointer} does not resolve"
                )
            if earlier != value:
                return CheckResult(
                    False,
                    f"{_where(example, k)}: argument {param}={value!r} differs from step "
                    f"{source.step + 1} output {earlier!r}",
                )
    return CheckResult(True)


def check_leakage(example: Example, ctx: CheckContext) -> CheckResult:
    """No answer value is already in what the user says."""
    answer = example.task.answer
    if answer is None:
        return CheckResult(True)
    text = example.task.user_text()
    for value in answer.values():
        if value_in_text(value, text):
            return CheckResult(False, f"the answer {value!r} appears in the user request")
    return CheckResult(True)


def check_answer_pointers(example: Example, ctx: CheckContext) -> CheckResult:
    """Each answer pointer resolves in the recorded outputs to its answer value.

    A no_call task has no answer pointers and must have no calls.
    """
    answer = example.task.answer
    steps = example.trace.steps
    if answer is None:
        if steps:
            return CheckResult(False, "a no_call task must not have calls")
        return CheckResult(True)
    values = answer.values()
    if len(values) != len(answer.pointers):
        return CheckResult(False, f"{len(answer.pointers)} answer pointers but {len(values)} values")
    for ptr, expected in zip(answer.pointers, values):
        if ptr.step >= len(steps):
            return CheckResult(False, f"answer pointer names step {ptr.step + 1}, the trace has {len(steps)}")
        try:
            found = resolve_pointer(steps[ptr.step].output, ptr.pointer)
        except KeyError:
            return CheckResult(False, f"answer pointer {ptr.pointer} does not resolve in step {ptr.step + 1}")
        if not values_equal(expected, found, answer.normaliser):
            return CheckResult(False, f"answer {expected!r} != recorded {found!r} at {ptr.pointer}")
    return CheckResult(True)


def check_answer_stated(example: Example, ctx: CheckContext) -> CheckResult:
    """The final message states every expected answer value (under the task's normaliser).

    The answer checker: it reads only the final message, so it runs unchanged
    on an RL rollout's completion. A no_call task needs a non-empty reply.
    """
    final = example.task.final_message
    answer = example.task.answer
    if answer is None:
        return CheckResult(bool(final.strip()), "" if final.strip() else "the final message is empty")
    for value in answer.values():
        single = Answer(pointers=answer.pointers[:1], value=value, normaliser=answer.normaliser)
        if not answer_in_text(single, final):
            return CheckResult(False, f"the final message does not state the answer {value!r}")
    return CheckResult(True)


# Checks that read only the final message: on a rollout they judge the completion.
COMPLETION_CHECKS = frozenset({"answer_stated"})

_SHINGLE = 8  # words in a row shared with a tool description count as copying it


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def check_no_tool_names(example: Example, ctx: CheckContext) -> CheckResult:
    """The request neither names a tool nor copies a tool's description.

    It should ask for an outcome in the user's words, not for a function.
    """
    text = normalise_text(example.task.user_text())
    for step in example.trace.steps:
        name = step.tool.casefold()
        if ("_" in name or len(name) > 3) and re.search(rf"(?<![a-z0-9_]){re.escape(name)}(?![a-z0-9_])", text):
            return CheckResult(False, f"the request names the tool {step.tool!r}")
    words = re.findall(r"\w+", text)
    said = _shingles(words)
    for tool in example.tools:
        described = re.findall(r"\w+", normalise_text(tool.description))
        if len(described) >= _SHINGLE and said & _shingles(described):
            return CheckResult(False, f"the request copies the description of the tool {tool.name!r}")
    return CheckResult(True)


def check_replay(example: Example, ctx: CheckContext) -> CheckResult:
    """Re-executed calls return the same values wherever the task depends on them."""
    if ctx.replay is None:
        return CheckResult(False, "no replay was run")
    steps = example.trace.steps
    used: dict[int, set[str]] = {}
    for step in steps:
        for source in step.sources.values():
            if source.origin == "step" and source.step is not None and source.pointer is not None:
                used.setdefault(source.step, set()).add(source.pointer)
    for ptr in example.task.answer.pointers if example.task.answer else ():
        used.setdefault(ptr.step, set()).add(ptr.pointer)
    for k, step in enumerate(steps):
        key = call_key(step.toolset, ctx.toolset_versions.get(step.toolset), step.tool, step.arguments)
        result = ctx.replay.results.get(key)
        if result is None:
            return CheckResult(False, f"{_where(example, k)}: was not replayed")
        if result.error:
            return CheckResult(False, f"{_where(example, k)}: {result.error}")
        for pointer in used.get(k, ()):
            if any(d == "/" or pointer == d or pointer.startswith(d + "/") or d.startswith(pointer + "/")
                   for d in result.differing):
                return CheckResult(
                    False, f"{_where(example, k)}: volatile: {pointer} changed when the call was replayed"
                )
    return CheckResult(True)


CHECKS: dict[str, Check] = {
    "answer_pointers": check_answer_pointers,
    "answer_stated": check_answer_stated,
    "arguments_schema": check_arguments_schema,
    "calls_succeeded": check_calls_succeeded,
    "leakage": check_leakage,
    "no_tool_names": check_no_tool_names,
    "provenance": check_provenance,
    "record_schema": check_record_schema,
    "replay": check_replay,
    "writer": check_writer,
}
