"""Construction checks: the facts the recorded observations decide.

The record and every call's arguments validate against their schemas, the calls succeeded,
every argument has a provenance that resolves, the request does not leak the answer, the
answer pointers resolve and the final message states the answer, the request names no tool,
and replayed calls agree. A judge never overrules them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, UnknownType

from generators import resolve_pointer
from schemas import Answer, Example, answer_in_text, call_key, json_schema, normalise_text, value_in_text, values_equal

from ._check_base import CheckContext, CheckResult, _aliases, _answer_unit_and_hint, _param_hint, _where


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
        if _recovered(example, k):
            continue  # the slip of an error_recovery call (a field left out) is the point; provenance checks it
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


def _slip_ok(example: Example, k: int) -> str | None:
    """Why a failed call an error_recovery task corrects is not an honest slip, or None when it is.

    It must be the corrected call with one slip of the user's own value: every
    other argument the same (so it passes provenance with the correction), and
    the slipped one missing, mistyped, or written another way.
    """
    from generators._task_kinds import slip_of

    steps = example.trace.steps
    fix = next((s for s in steps[k + 1:] if s.tool == steps[k].tool and not s.is_error), None)
    if fix is None:
        return "no later call of the same tool corrects it"
    slipped = slip_of(steps[k].arguments, fix.arguments)
    if slipped is None:
        return "it is not the corrected call with one slip (a typo, another format or a missing field)"
    return None


def check_provenance(example: Example, ctx: CheckContext) -> CheckResult:
    """Every argument is in the user's text or is an earlier step's recorded output.

    The user's text is the request plus any later user turns (multi_turn). Values
    match in any spelling the normaliser accepts (a month 12 as "December", a date
    as "July 4, 2013", a code by the name an output pairs it with). A failed call
    that an error_recovery task corrects must be that call with one honest slip
    of the user's own value; its other arguments are checked like any other.
    """
    request = example.task.user_text()
    steps = example.trace.steps
    aliases = _aliases(example)
    for k, step in enumerate(steps):
        slipped: str | None = None
        if _recovered(example, k):
            why = _slip_ok(example, k)
            if why is not None:
                return CheckResult(False, f"{_where(example, k)}: the failed call is not an honest slip: {why}")
            from generators._task_kinds import slip_of

            fix = next(s for s in steps[k + 1:] if s.tool == step.tool and not s.is_error)
            slipped = slip_of(step.arguments, fix.arguments)
        for param, value in step.arguments.items():
            if param == slipped:
                continue
            source = step.sources.get(param)
            if source is None:
                return CheckResult(False, f"{_where(example, k)}: argument {param!r} has no recorded source")
            if source.origin == "user":
                if source.how == "schema-default" or value_in_text(
                        value, request, hint=_param_hint(example, step, param), aliases=aliases):
                    continue
                if source.how.startswith("probe") and _recovered(example, k):
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
            if source.how == "unit-of":  # the unit the earlier step recorded that value in
                recorded = _recorded_unit(example, source.step, source.pointer)
                if recorded is None or _unit_name(value) != recorded:
                    return CheckResult(
                        False,
                        f"{_where(example, k)}: argument {param}={value!r} is not the unit step "
                        f"{source.step + 1} recorded {source.pointer} in ({recorded or 'none known'})",
                    )
                continue
            if earlier != value:
                return CheckResult(
                    False,
                    f"{_where(example, k)}: argument {param}={value!r} differs from step "
                    f"{source.step + 1} output {earlier!r}",
                )
    return CheckResult(True)


def _recorded_unit(example: Example, k: int, pointer: str) -> str | None:
    """The unit step k recorded the value at ``pointer`` in (generators._meaning.unit_of)."""
    from generators._meaning import recorded_unit

    step = example.trace.steps[k]
    tool = next((t for t in example.tools if t.name == step.tool and t.toolset == step.toolset), None)
    return recorded_unit(step.output, pointer, tool)


def _unit_name(value: Any) -> str | None:
    from generators._phrasing import canonical_unit

    return canonical_unit(value) if isinstance(value, str) else None


def check_leakage(example: Example, ctx: CheckContext) -> CheckResult:
    """No answer value is already in what the user says."""
    answer = example.task.answer
    if answer is None:
        return CheckResult(True)
    text = example.task.user_text()
    # A code the user gives is how they ask for its name, not a leak of the name: aliases of
    # argument values do not count here.
    from generators._pool import iter_scalars

    given = {normalise_text(str(v)) for s in example.trace.steps for _, _, v in iter_scalars(s.arguments)}
    aliases = {k: {a for a in v if normalise_text(a) not in given} for k, v in _aliases(example).items()}
    for value in answer.values():
        if value_in_text(value, text, aliases=aliases, lenient=True):
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
    aliases = _aliases(example)
    for ptr, value in zip(answer.pointers, answer.values()):
        single = Answer(pointers=[ptr], value=value, normaliser=answer.normaliser)
        unit, hint = _answer_unit_and_hint(example, ptr.step, ptr.pointer)
        if not answer_in_text(single, final, aliases=aliases, unit=unit, hint=hint):
            return CheckResult(False, f"the final message does not state the answer {value!r}")
    return CheckResult(True)


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
