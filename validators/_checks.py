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

from generators import FieldStats, Phraser, resolve_pointer
from schemas import Answer, Example, Step, call_key, json_schema

from ._replay import ReplayReport
from ._text import (
    answer_in_text,
    code_name_aliases,
    normalise_text,
    numbers_in,
    unsupported_numbers,
    value_hint,
    value_in_text,
    values_equal,
)


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
    #: Values each output field took across the run's observations (constant fields); None: not known.
    fields: FieldStats | None = None


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


def _param_hint(example: Example, step: Step, param: str) -> str | None:
    tool = next((t for t in example.tools if t.toolset == step.toolset and t.name == step.tool), None)
    props = (tool.input_schema.get("properties") or {}) if tool else {}
    schema = props.get(param) if isinstance(props.get(param), dict) else {}
    return value_hint(param, schema)


def _aliases(example: Example) -> dict[str, set[str]]:
    return code_name_aliases(s.output for s in example.trace.steps if not s.is_error)


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
    # A code the user gives is how they ask for its name, not a leak of the name: aliases of
    # argument values do not count here.
    from generators._explore import iter_scalars

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
        unit = _answer_unit(example, ptr.step, ptr.pointer)
        if not answer_in_text(single, final, aliases=aliases, unit=unit):
            return CheckResult(False, f"the final message does not state the answer {value!r}")
    return CheckResult(True)


def _answer_unit(example: Example, k: int, pointer: str) -> str | None:
    """The unit the answer was recorded in (from the output's schema, its field name or a sibling unit)."""
    steps = example.trace.steps
    if not 0 <= k < len(steps):
        return None
    try:
        return Phraser(example.tools).field(steps[k], pointer).unit
    except (KeyError, ValueError, IndexError):
        return None


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


# --- gates on what is asked (issue 18): each fails with a named reason ------------------------------

def _answer_steps(example: Example) -> list[tuple[int, str, object]]:
    answer = example.task.answer
    if answer is None:
        return []
    return [(p.step, p.pointer, v) for p, v in zip(answer.pointers, answer.values())]


def check_constant_field(example: Example, ctx: CheckContext) -> CheckResult:
    """The answer is not a field with one value in every observation of its tool ("year": 2013 everywhere).

    Needs the run's observations (``ctx.fields``); without them there is nothing to compare.
    """
    if ctx.fields is None:
        return CheckResult(True)
    steps = example.trace.steps
    for k, pointer, value in _answer_steps(example):
        if 0 <= k < len(steps) and ctx.fields.is_constant(steps[k].toolset, steps[k].tool, pointer):
            return CheckResult(False, f"constant field: {steps[k].tool} gives {value!r} at {pointer} in every "
                                      "observation, so the answer needs no call")
    return CheckResult(True)


def check_echo_field(example: Example, ctx: CheckContext) -> CheckResult:
    """The answer is not one of the calls' own arguments (an output that echoes the input)."""
    from generators._backchain import is_echo

    for _k, pointer, value in _answer_steps(example):
        if is_echo(example.trace, value):
            return CheckResult(False, f"echo field: the answer {value!r} at {pointer} is an argument of a call")
    return CheckResult(True)


def check_worth_asking(example: Example, ctx: CheckContext) -> CheckResult:
    """The answer is not an id, a hash or a flag (a boolean, an internal status word) nobody asks for."""
    steps = example.trace.steps
    phraser = Phraser(example.tools)
    for k, pointer, value in _answer_steps(example):
        if not 0 <= k < len(steps):
            continue
        kind = "flag" if isinstance(value, bool) else phraser.field(steps[k], pointer, value).kind
        if kind in ("id", "flag"):
            return CheckResult(False, f"not worth asking: the answer {value!r} at {pointer} is an {kind}")
    return CheckResult(True)


def check_same_field_twice(example: Example, ctx: CheckContext) -> CheckResult:
    """No two answers are the same field of the same tool with the same value or the same arguments
    ("the calendar days is 30, and the calendar days is 30")."""
    from generators._backchain import field_of

    steps = example.trace.steps
    asked: list[tuple[tuple[str, str, str], object, dict[str, object]]] = []
    for k, pointer, value in _answer_steps(example):
        if not 0 <= k < len(steps):
            continue
        key = (steps[k].toolset, steps[k].tool, field_of(pointer))
        for other_key, other_value, other_args in asked:
            if other_key == key and (other_value == value or other_args == steps[k].arguments):
                return CheckResult(False, f"same field twice: {steps[k].tool} {field_of(pointer)} is asked twice")
        asked.append((key, value, steps[k].arguments))
    return CheckResult(True)


def check_intermediate_hidden(example: Example, ctx: CheckContext) -> CheckResult:
    """A chain's request does not already give a value a later call takes from an earlier output."""
    text = example.task.user_text()
    steps = example.trace.steps
    aliases = _aliases(example)
    given = [v for s in steps for p, v in s.arguments.items()
             if (s.sources.get(p) is None or s.sources[p].origin == "user")]
    for k, step in enumerate(steps):
        for param, source in step.sources.items():
            if source.origin != "step" or param not in step.arguments:
                continue
            value = step.arguments[param]
            if isinstance(value, bool) or value in (None, "") or any(value == g for g in given):
                continue  # the user gives it anyway (an output that passes a user value along)
            if value_in_text(value, text, hint=_param_hint(example, step, param), aliases=aliases):
                return CheckResult(False, f"intermediate value given: the request already states {value!r}, "
                                          f"which {_where(example, k)} takes from step {(source.step or 0) + 1}")
    return CheckResult(True)


_OPS = (
    ("difference", re.compile(r"\b(?:difference|differ|minus|subtract|how much (?:more|less|higher|lower|longer|"
                              r"shorter|bigger|smaller|greater|warmer|colder|later|earlier|further|farther|deeper)|"
                              r"how many more|how many fewer)\b")),
    ("sum", re.compile(r"\b(?:sum|total|plus|add(?:ed)? up|altogether|combined|together|in all)\b")),
    ("ratio", re.compile(r"\b(?:ratio|times as|divided by|how many times)\b")),
    ("product", re.compile(r"\b(?:product|multiplied by|times)\b")),
)


def _same_kind(key_a: str, key_b: str) -> bool:
    from generators._phrasing import meaning_of, unit_dimension_of

    a, b = key_a.split("@")[0], key_b.split("@")[0]
    if a == b:
        return True
    ma, mb = meaning_of(a, "", 0.0), meaning_of(b, "", 0.0)
    return bool(ma.unit and mb.unit and unit_dimension_of(ma.unit) == unit_dimension_of(mb.unit)
                and unit_dimension_of(ma.unit) is not None)


def check_no_call_arithmetic(example: Example, ctx: CheckContext) -> CheckResult:
    """A no_call task's arithmetic is over two quantities of one kind, and its stated result is right.

    Computed, not judged: the operands are the task's two user values, the
    operation is the one the request names (difference, sum, ratio, product),
    and the final message must state the result (as written or with stated rounding).
    """
    task = example.task
    if task.kind != "no_call":
        return CheckResult(True)
    numbers = [(k, v) for k, v in task.user_values.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != 2:
        return CheckResult(False, f"no_call arithmetic: expected two numbers in the user values, got {len(numbers)}")
    (ka, a), (kb, b) = numbers
    for value in (a, b):
        if not value_in_text(value, task.user_request):
            return CheckResult(False, f"no_call arithmetic: the request does not state the operand {value!r}")
    if not _same_kind(ka, kb):
        return CheckResult(False, f"no_call arithmetic: {ka} and {kb} are quantities of different kinds")
    from generators._phrasing import meaning_of

    from ._text import unit_dimension

    unit = meaning_of(ka.split("@")[0], "", 0.0).unit
    for n in numbers_in(task.final_message):
        stated = unit_dimension(n.unit) if n.unit else None
        if stated is None or stated in ("ratio",):
            continue
        if (unit and unit_dimension(unit) not in (None, stated)) or (not unit and stated not in ("angle", "time")):
            return CheckResult(False, f"no_call arithmetic: the final message gives {n.unit!r} to values "
                                      f"{'in ' + unit if unit else 'without a unit'}")
    request = normalise_text(task.user_request)
    op = next((name for name, pattern in _OPS if pattern.search(request)), None)
    if op is None:
        return CheckResult(False, "no_call arithmetic: the request names no operation (sum, difference, ...)")
    if op == "ratio" and b == 0:
        return CheckResult(False, "no_call arithmetic: a ratio over zero")
    result = {"difference": a - b, "sum": a + b, "ratio": a / b if b else 0.0, "product": a * b}[op]
    candidates = [result, -result] if op == "difference" else [result]
    mentions = numbers_in(task.final_message)
    digits = max(_decimals(a), _decimals(b), 2 if op == "ratio" else 0)
    for target in candidates:
        for n in mentions:
            if abs(n.value - round(target, digits)) <= 10 ** -(digits + 6) or abs(n.value - target) < 1e-9:
                return CheckResult(True)
    return CheckResult(False, f"no_call arithmetic: the final message does not state the {op} of {a} and {b} "
                              f"({round(result, digits)})")


def _decimals(value: float | int) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


_IDENTIFIER = re.compile(
    r"(?<![\w/])(?:[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z]*|/[A-Za-z_][\w~]*(?:/[\w~*]+)+)"
    r"|\bitem \d+\b"
)


def check_plain_words(example: Example, ctx: CheckContext) -> CheckResult:
    """Request, dialogue and answer contain no snake_case, camelCase, JSON pointer, "item N" or tool name,
    unless it is part of a value the user gives or a recorded output holds (a time zone 'America/New_York')."""
    from generators._explore import iter_scalars

    task = example.task
    allowed = [str(v) for v in task.user_values.values()]
    allowed += [str(v) for v in task.answer.values()] if task.answer else []
    allowed += [str(v) for s in example.trace.steps for _, _, v in iter_scalars(s.output)]
    allowed_text = " ".join(allowed).casefold()
    tool_names = {s.tool for s in example.trace.steps} | {t.name for t in example.tools}
    texts = [("request", task.user_request), *(("dialogue", t.content) for t in task.dialogue),
             ("answer", task.final_message)]
    for where, text in texts:
        for m in _IDENTIFIER.finditer(text):
            token = m.group(0)
            if token.casefold() in allowed_text:
                continue
            return CheckResult(False, f"identifier in the {where}: {token!r}")
        for name in tool_names:
            if ("_" in name or len(name) > 3) and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) \
                    and name.casefold() not in allowed_text:
                return CheckResult(False, f"identifier in the {where}: the tool name {name!r}")
    return CheckResult(True)


def check_grounded(example: Example, ctx: CheckContext) -> CheckResult:
    """Every number, date and time the request and the answer state is in the recorded calls or the
    user's values (a rewrite that states "25.83" where the tool said 19.0 is rejected).

    A no_call task's result is computed, not recorded: its arithmetic check decides it.
    """
    from generators._explore import iter_scalars

    task = example.task
    values: list[object] = list(task.user_values.values())
    for step in example.trace.steps:
        values += [v for _, _, v in iter_scalars(step.arguments)]
        if not step.is_error:
            values += [v for _, _, v in iter_scalars(step.output)]
    if task.kind == "no_call":
        return CheckResult(True)  # nothing was recorded: the arithmetic check decides both texts
    user = task.user_text()
    texts = [("request", user), ("answer", task.final_message)]
    # Not the tools' descriptions: "New York City" in a description is no fact about this row.
    known = " ".join([user, *(str(v) for v in values)]).casefold()
    for where, text in texts:
        bad = unsupported_numbers(text, [user] if where == "answer" else [], values)
        if bad:
            return CheckResult(False, f"ungrounded {where}: {', '.join(bad[:3])} is in no recorded value")
        names = unsupported_names(text, known)
        if names:
            return CheckResult(False, f"ungrounded {where}: {', '.join(names[:3])} is in no recorded value")
    return CheckResult(True)


_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*)\b")
_COMMON = {"celsius", "fahrenheit", "kelvin", "utc", "gmt", "monday", "tuesday", "wednesday", "thursday", "friday",
           "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december", "i", "i'm", "i'd", "the", "what", "how", "could",
           "can", "please", "thanks", "thank", "sure", "also", "and", "there", "it's", "that", "this"}


def unsupported_names(text: str, known: str) -> list[str]:
    """Capitalised names inside a sentence that no recorded value, user text or tool description holds
    ("Delta Airlines" where the output says "DL"; "New York City" for coordinates in France)."""
    bad = []
    for m in _NAME.finditer(text):
        for word in m.group(1).split():
            w = word.casefold()
            if w in _COMMON or w in known:
                continue
            bad.append(m.group(1))
            break
    return bad


def check_withheld_hidden(example: Example, ctx: CheckContext) -> CheckResult:
    """A multi_turn request leaves out what the user supplies later: otherwise the assistant's
    question asks for something already said."""
    task = example.task
    if task.kind != "multi_turn":
        return CheckResult(True)
    later = " ".join(t.content for t in task.dialogue if t.role == "user")
    aliases = _aliases(example)
    for step in example.trace.steps:
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if source is None or source.origin != "user" or isinstance(value, bool):
                continue
            hint = _param_hint(example, step, param)
            if value_in_text(value, later, hint=hint, aliases=aliases) and \
                    value_in_text(value, task.user_request, hint=hint, aliases=aliases):
                return CheckResult(False, f"withheld value given: the request already states {value!r}, "
                                          "which the user supplies only later")
    return CheckResult(True)


def check_unit_kept(example: Example, ctx: CheckContext) -> CheckResult:
    """A value recorded with its unit ({"value": 762, "unit": "mile"}) is passed on in that unit."""
    from generators._phrasing import canonical_unit, words_of

    steps = example.trace.steps
    for k, step in enumerate(steps):
        for source in step.sources.values():
            if source.origin != "step" or source.step is None or source.pointer is None \
                    or not source.pointer.endswith("/value"):
                continue
            try:
                recorded = resolve_pointer(steps[source.step].output, source.pointer[: -len("value")] + "unit")
            except KeyError:
                continue
            unit_param = next((p for p in step.arguments if words_of(p) in (["unit"], ["from", "unit"], ["units"])),
                              None)
            if unit_param is None or not isinstance(recorded, str):
                continue
            given = step.arguments[unit_param]
            if isinstance(given, str) and canonical_unit(given) != canonical_unit(recorded):
                return CheckResult(False, f"unit changed: {_where(example, k)} reads a value recorded in "
                                          f"{recorded!r} as {given!r}")
    return CheckResult(True)


def check_not_copied(example: Example, ctx: CheckContext) -> CheckResult:
    """An LLM rewrite is not a copy of the writer prompt's worked example."""
    if example.task.writer != "llm":
        return CheckResult(True)
    from generators._writer import copied_example

    copied = copied_example(example.task)
    return CheckResult(copied is None, f"copies the writer's example: {copied!r}" if copied else "")


CHECKS: dict[str, Check] = {
    "answer_pointers": check_answer_pointers,
    "answer_stated": check_answer_stated,
    "arguments_schema": check_arguments_schema,
    "calls_succeeded": check_calls_succeeded,
    "constant_field": check_constant_field,
    "echo_field": check_echo_field,
    "grounded": check_grounded,
    "intermediate_hidden": check_intermediate_hidden,
    "leakage": check_leakage,
    "no_call_arithmetic": check_no_call_arithmetic,
    "no_tool_names": check_no_tool_names,
    "not_copied": check_not_copied,
    "plain_words": check_plain_words,
    "provenance": check_provenance,
    "record_schema": check_record_schema,
    "replay": check_replay,
    "same_field_twice": check_same_field_twice,
    "unit_kept": check_unit_kept,
    "withheld_hidden": check_withheld_hidden,
    "worth_asking": check_worth_asking,
    "writer": check_writer,
}
