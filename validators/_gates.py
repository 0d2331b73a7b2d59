"""Gates on what is asked (issue 18): each fails with a named reason.

Construction makes a task's answer right; these decide whether it is worth asking: not a
constant or echoed field, an id or a flag, not the same field twice, no intermediate value
given away, no call whose answer an earlier output already holds, no arithmetic the tools did
not do, plain words, grounded names and numbers, a withheld value kept hidden, the unit and the
direction kept, every link of a chain named, and an LLM rewrite that is not a copy.
"""

from __future__ import annotations

import re

from generators import Phraser, is_clock_hour, resolve_pointer
from generators._meaning import coordinate_axis, is_zone_param
from generators._roles import _names_item
from schemas import Example, normalise_text, numbers_in, unsupported_numbers, value_in_text

from ._check_base import CheckContext, CheckResult, _aliases, _param_hint, _where


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
    from generators._trace_values import is_echo

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
    from generators._trace_values import field_of

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


def check_every_call_needed(example: Example, ctx: CheckContext) -> CheckResult:
    """A later call of a chain is not redundant: an earlier output does not already hold its answer.

    "What time zone is EWR in?" answered by airport_info (which gives the time zone) and then by
    timezone_at on the airport's coordinates teaches a model to make a call it does not need
    (the rule: `generators._trace_values.already_given`; drafting skips such answers too).
    """
    from generators._trace_values import already_given

    steps = example.trace.steps
    for k, pointer, value in _answer_steps(example):
        if 0 <= k < len(steps) and (found := already_given(example.trace, k, pointer, value)) is not None:
            j, earlier = found
            return CheckResult(False, f"call not needed: {_where(example, k)} answers {value!r}, which "
                                      f"step {j + 1} ({steps[j].tool}) already gave at {earlier}")
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
    from schemas import unit_dimension

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


_EARLIER_TURN = re.compile(r"(?i)\b(?:you (?:mentioned|said|told me|suggested|gave)|as (?:you|I) said|I mentioned)\b")


def check_plain_words(example: Example, ctx: CheckContext) -> CheckResult:
    """Request, dialogue and answer contain no snake_case, camelCase, JSON pointer, "item N" or tool name,
    unless it is part of a value the user gives or a recorded output holds (a time zone 'America/New_York')."""
    from generators._pool import iter_scalars

    task = example.task
    allowed = [str(v) for v in task.user_values.values()]
    allowed += [str(v) for v in task.answer.values()] if task.answer else []
    allowed += [str(v) for s in example.trace.steps for _, _, v in iter_scalars(s.output)]
    allowed_text = " ".join(allowed).casefold()
    tool_names = {s.tool for s in example.trace.steps} | {t.name for t in example.tools}
    texts = [("request", task.user_request), *(("dialogue", t.content) for t in task.dialogue),
             ("answer", task.final_message)]
    if m := _EARLIER_TURN.search(task.user_request):  # the request is the first turn: nothing was said before it
        return CheckResult(False, f"the request refers to an earlier turn there was none of: {m.group(0)!r}")
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
    from generators._pool import iter_scalars

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
           "can", "please", "thanks", "thank", "sure", "also", "and", "there", "it's", "that", "this", "english"}


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


def check_direction_kept(example: Example, ctx: CheckContext) -> CheckResult:
    """A value the user gives as an origin is not asked as a destination, nor the other way round
    ("the most flights to EWR" when the call counts flights from EWR): a rewrite that flips a
    direction asks for another thing than the calls answer. Roles come from `Phraser.param`
    (origin/destination, source/target pairs); a value stated both ways is left to the judge."""
    text = example.task.user_text()
    phraser = Phraser(example.tools)
    gap = r"(?:(?!(?:from|to|into)\b)[a-z]+\s+){0,2}"  # "to the airport EWR", not "from JFK to LAX"
    for k, step in enumerate(example.trace.steps):
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if (source is not None and source.origin != "user") or not isinstance(value, str) or len(value.strip()) < 2:
                continue
            role = phraser.param(step, param)[1]
            if role.prep not in ("from", "to"):
                continue
            v = re.escape(value.strip())
            own = r"(?i:from)" if role.prep == "from" else r"(?i:to|into)"
            other = r"(?i:to|into)" if role.prep == "from" else r"(?i:from)"
            if re.search(rf"\b{other}\s+{gap}(?i:{v})\b", text) and not re.search(rf"\b{own}\s+{gap}(?i:{v})\b", text):
                return CheckResult(False, f"direction flipped: {_where(example, k)} takes {value!r} as its "
                                          f"{role.noun} ({param}), the request says {'to' if role.prep == 'from' else 'from'} "
                                          f"{value}")
    return CheckResult(True)


# A question's first words, and the kinds of answer that cannot answer it.
_ASKS: tuple[tuple[re.Pattern[str], str, frozenset[str]], ...] = (
    (re.compile(r"^where\b"), "where", frozenset({"number", "count", "date", "datetime", "time", "duration", "flag"})),
    (re.compile(r"^how (?:many|much)\b"), "how many",
     frozenset({"name", "text", "code", "id", "date", "datetime", "time", "flag"})),
    (re.compile(r"^(?:when|(?:at )?what time(?!\s+(?:zone|difference))|(?:on )?what date)\b"), "when",
     frozenset({"count", "name", "code", "id", "flag", "text"})),
    # "What countries have holidays ...?" asks for things by name, not for how many
    (re.compile(r"^(?:what|which) (?!(?:is|was|has|does|percentage|fraction|share|proportion|number|amount)s?\b)"
                r"[a-z]{2,}(?<!s)s\b(?! (?:is|was)\b)"),
     "which things", frozenset({"count", "number"})),
)


_ASK_START = re.compile(r"^(?:i'd like to know|i would like to know|i need to know|i want to know|please|could you|"
                        r"can you|tell me|find|look up|show me)\b")


def check_question_fits(example: Example, ctx: CheckContext) -> CheckResult:
    """The request's last question asks for the kind of thing the answer is: "Where is the area of
    the country ...?" is not answered by 9,629,091 km², nor "How many ...?" by a name, nor "When ...?"
    by a count. A rewrite that garbles the question this way is rejected. Parallel requests ask two
    things at once and are left to the other checks."""
    task = example.task
    if task.answer is None or task.kind == "parallel" or not task.answer.pointers:
        return CheckResult(True)
    # the last ask: a question, or "I'd like to know ..." (which no pattern below reads, so it passes);
    # "I'm planning a trip." asks nothing
    asks = [q for q in re.split(r"(?<=[?.!])\s+", task.user_request.strip())
            if q.endswith("?") or _ASK_START.match(q.casefold())]
    if not asks:
        return CheckResult(True)
    asked = re.sub(r"^(?:and|also|so|then|now|ok|okay)[, ]+", "", asks[-1].casefold()).strip()
    ptr = task.answer.pointers[-1]
    if not 0 <= ptr.step < len(example.trace.steps):
        return CheckResult(True)
    meaning = Phraser(example.tools).field(example.trace.steps[ptr.step], ptr.pointer)
    kind = "time" if is_clock_hour(meaning) else meaning.kind
    for pattern, word, wrong in _ASKS:
        if pattern.match(asked) and kind in wrong:
            return CheckResult(False, f"question does not fit the answer: the request asks {word}, the answer "
                                      f"is a {kind} ({meaning.noun})")
    return CheckResult(True)


_QUALIFIER_START = re.compile(r"\s(?:of|for|from|to|in|on|at|per|with|after|before|until|by|since)\s")
_LOOSE = frozenset({"distinct", "different", "converted", "unique", "total", "overall", "current", "given",
                    "resulting", "average", "mean", "local", "scheduled"})


def _qualifier_words(noun: str) -> set[str]:
    """What a field's noun says beyond its head noun, which a request may say in other words: 'departures
    from New York City airports' -> {york, city, airpo}; 'numeric code' -> {numer}; 'number of seats' -> {}."""
    noun = re.sub(r"^number of ", "", noun.casefold())
    m = _QUALIFIER_START.search(f" {noun} ")
    head, tail = (noun[:m.start()], noun[m.start():]) if m else (noun, "")
    adjectives = " ".join(w for w in head.split()[:-1] if w not in _LOOSE)
    return _named_words(f"{adjectives} {tail}")


def check_answer_named(example: Example, ctx: CheckContext) -> CheckResult:
    """The request says what the answer is, with every qualifier of its field: "How many flights from
    JFK to LAX depart on the second busiest carrier?" is not answered by that carrier's departures
    *from New York City airports*, nor "the code for the US Dollar" by its *numeric* code. The head
    noun may be said in other words (flights for departures); what qualifies it may not be dropped."""
    task = example.task
    if task.answer is None:
        return CheckResult(True)
    said = _named_words(task.user_text())
    phraser = Phraser(example.tools)
    for ptr in task.answer.pointers:
        if not 0 <= ptr.step < len(example.trace.steps):
            continue
        meaning = phraser.field(example.trace.steps[ptr.step], ptr.pointer)
        missing = _qualifier_words(meaning.noun) - said
        if missing:
            return CheckResult(False, f"answer not named: the request asks for no {meaning.noun!r} "
                                      f"({'/'.join(sorted(missing))}...)")
    return CheckResult(True)


# Words that name no particular thing: a link said only with these is not named.
_GENERIC_WORDS = frozenset({
    "number", "name", "names", "code", "codes", "value", "values", "date", "time", "year", "info", "information",
    "data", "result", "results", "first", "second", "third", "list", "item", "items", "details", "detail",
    "find", "look", "lookup", "search", "count", "total", "english", "official", "with", "from", "that", "this",
    "which", "what", "each", "some", "stats", "statistics", "tool", "query",
})


def _named_words(text: str) -> set[str]:
    """Stems (first five letters) of the words of ``text`` that name something."""
    words = re.findall(r"[a-z]{4,}", text.casefold().replace("_", " "))
    return {w[:5] for w in words if w not in _GENERIC_WORDS}


def check_link_named(example: Example, ctx: CheckContext) -> CheckResult:
    """A request whose later call takes a value from an earlier output names what that value is
    (the aircraft, the carrier, the holiday), in the words of the field, the parameter or the
    tool: "What year was the first departure ...?" for an aircraft's build year drops the hop and
    asks for another thing than the calls answer. The item of a list counts when the value
    identifies it ("the busiest destination" names the airport code taken from it; "the first
    departure" does not name its aircraft). A place's coordinates and time zone are
    the place the request names, so they are not checked; neither is a unit taken from an output."""
    steps = example.trace.steps
    if len(steps) < 2:
        return CheckResult(True)
    said = _named_words(example.task.user_text())
    phraser = Phraser(example.tools)
    for k, step in enumerate(steps):
        linked = [(p, s) for p, s in step.sources.items()
                  if s.origin == "step" and s.step is not None and s.pointer is not None and s.how != "unit-of"]
        placed = any(coordinate_axis(p) is not None for p in step.arguments)
        for param, source in linked:
            if source.step is None or source.pointer is None or source.step >= len(steps):
                continue  # (the filter above says so; mypy does not carry it)
            if is_zone_param(param) or (placed and coordinate_axis(param) is not None):
                continue  # coordinates and a time zone say where: the place the request names is the link
            source_step = steps[source.step]
            meaning = phraser.field(source_step, source.pointer)
            item = phraser.item(source_step, source.pointer)
            # the item stands for the value only when the value identifies it (a destination's code)
            by_item = item.noun if item is not None and _names_item(meaning, item.noun) else ""
            names = (_named_words(meaning.noun) | _named_words(phraser.param(step, param)[0].noun)
                     | _named_words(step.tool) | _named_words(by_item))
            if names and not names & said:
                return CheckResult(False, f"link not named: {_where(example, k)} takes {param} from step "
                                          f"{source.step + 1}'s {source.pointer}, and the request says nothing "
                                          f"of it (no {'/'.join(sorted(names))}...)")
    return CheckResult(True)


def check_not_copied(example: Example, ctx: CheckContext) -> CheckResult:
    """An LLM rewrite is not a copy of the writer prompt's worked example."""
    if example.task.writer != "llm":
        return CheckResult(True)
    from generators._writer import copied_example

    copied = copied_example(example.task)
    return CheckResult(copied is None, f"copies the writer's example: {copied!r}" if copied else "")
