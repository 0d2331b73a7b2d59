"""Task kinds, each built from real explored calls and traces.

    single          one call
    multi_step      a chain: later arguments are earlier outputs
    parallel        independent calls answered together in one assistant turn
    multi_turn      one user value is withheld; the assistant asks, the user answers
    error_recovery  the user's own call with one realistic slip (a typo of the user's
                    value, another format, a missing field) that really failed,
                    then the same call done right
    no_call         answerable without tools: arithmetic on two values of the same
                    field (same kind, same unit) from real outputs

Every builder returns (trace, draft task) pairs written by the template writer;
an LLM writer may rephrase them later. The mix is a weight per kind; a kind
that cannot be built from what exploration found (no failed call, say) gives
its share to multi_step and single, and the shortfall is reported, not hidden.

A probe (a call exploration repeated with a slip to record an error path) is
error_recovery material only: one that unexpectedly succeeded is never a single
call, a chain link or a number for no_call.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import (
    Answer,
    AnswerPointer,
    DialogueTurn,
    Normaliser,
    Step,
    Task,
    TaskKind,
    Tool,
    Trace,
    dates_in,
    value_hint,
    value_in_text,
)

from ._answers import choose_answer
from ._backchain import template_task
from ._explore_report import ExploredCall
from ._phraser import Phraser, thing_of, year_event
from ._phrasing import capitalise, number_text, value_text, with_unit
from ._pool import iter_scalars
from ._roles import _pair_of, _unit_partner
from ._trace_values import FieldStats, field_of, is_echo, resolve_pointer, user_values

KINDS: tuple[TaskKind, ...] = ("single", "multi_step", "parallel", "multi_turn", "error_recovery", "no_call")
DEFAULT_MIX: dict[str, float] = {
    "single": 1.0, "multi_step": 3.0, "parallel": 1.0, "multi_turn": 1.0, "error_recovery": 1.0, "no_call": 0.5,
}

Draft = tuple[Trace, Task]


@dataclass
class KindPlan:
    """How many tasks of each kind were asked for and how many could be built."""

    wanted: dict[str, int] = field(default_factory=dict)
    built: Counter[str] = field(default_factory=Counter)

    def shortfall(self) -> dict[str, int]:
        return {k: n - self.built[k] for k, n in self.wanted.items() if self.built[k] < n}


def allocate(mix: Mapping[str, float], total: int) -> dict[str, int]:
    """Largest-remainder split of ``total`` tasks over the kinds' weights."""
    weights = {k: float(w) for k, w in mix.items() if w > 0}
    s = sum(weights.values())
    if total <= 0 or s <= 0:
        return {}
    exact = {k: total * w / s for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return {k: n for k, n in counts.items() if n}


def is_probe(call: ExploredCall) -> bool:
    """A call exploration made to record an error path (its slipped argument says so)."""
    return any(s.how.startswith("probe") for s in call.sources.values())


def _regroup(steps: Iterable[Step], group: int | None) -> list[Step]:
    return [s.model_copy(update={"group": group}) for s in steps]


def _user_only(call: ExploredCall) -> bool:
    return not call.parents and not call.observation.is_error and not is_probe(call)


def _step_of(call: ExploredCall) -> Step:
    return Step.from_observation(call.observation, dict(call.sources))


def field_stats(calls: Sequence[ExploredCall]) -> FieldStats:
    stats = FieldStats.from_outputs(
        (c.observation.toolset, c.observation.tool, c.observation.arguments, c.observation.output,
         c.observation.is_error or is_probe(c)) for c in calls)
    stats.volatile = {(c.observation.toolset, c.observation.tool, f) for c in calls for f in c.volatile}
    return stats


def chain_drafts(traces: Sequence[Trace], tools: Sequence[Tool] | None = None,
                 stats: FieldStats | None = None) -> list[Draft]:
    """single and multi_step tasks from chains (kind follows the number of steps)."""
    out: list[Draft] = []
    for trace in traces:
        if (stats is not None and _through_constant(trace, stats)) or _one_value_twice(trace):
            continue
        answer = choose_answer(trace, tools, stats)
        if answer is not None:
            out.append((trace, template_task(trace, answer, tools=tools)))
    return out


def _through_constant(trace: Trace, stats: FieldStats) -> bool:
    """A later call takes a value that is the same in every output of the earlier tool:
    the chain carries nothing from the earlier step (a dataset's fixed year fed to a holiday list)."""
    for step in trace.steps:
        for source in step.sources.values():
            if source.origin == "step" and source.step is not None and source.pointer is not None:
                earlier = trace.steps[source.step]
                if stats.is_constant(earlier.toolset, earlier.tool, source.pointer):
                    return True
    return False


def _one_value_twice(trace: Trace) -> bool:
    """One earlier value fed to two parameters of a call ('from that time zone to that time zone')."""
    for step in trace.steps:
        fed = [(s.step, s.pointer) for s in step.sources.values() if s.origin == "step"]
        if len(fed) != len(set(fed)):
            return True
    return False


def _join_questions(first: str, second: str, rng: random.Random) -> str:
    q2 = second[0].lower() + second[1:] if not second[:2].isupper() else second
    frames = [f"{first} Also, {q2}", f"Two things. {first} And {q2}", f"{first} {second}",
              f"I have two questions. {first} {second}"]
    return rng.choice(frames)


def parallel_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int,
                    tools: Sequence[Tool] | None = None, stats: FieldStats | None = None) -> list[Draft]:
    """Two independent successful calls, asked about in one request and made in one turn."""

    singles = [c for c in calls if _user_only(c)]
    rng.shuffle(singles)
    out: list[Draft] = []
    used: set[str] = set()
    for i, a in enumerate(singles):
        if len(out) >= limit:
            break
        for b in singles[i + 1:]:
            if b.observation.observation_id in used or a.observation.observation_id in used:
                continue
            if a.observation.arguments == b.observation.arguments and a.observation.tool == b.observation.tool:
                continue
            steps = _regroup([_step_of(a), _step_of(b)], 0)
            parts = [Trace(steps=[s.model_copy(update={"group": None})]) for s in steps]
            first = choose_answer(parts[0], tools, stats)
            if first is None:
                continue
            same_tool = steps[0].tool == steps[1].tool
            second = choose_answer(parts[1], tools, stats, avoid=[field_of(first.pointers[0].pointer)] if same_tool
                                   else ())
            if second is None:
                continue
            answers = [first, second]
            drafts = [template_task(p, ans, tools=tools) for p, ans in zip(parts, answers)]
            values = [ans.values()[0] for ans in answers]
            # A value asked for in one half must not be given away by the other.
            if any(value_in_text(v, drafts[1 - k].user_request, lenient=True) for k, v in enumerate(values)):
                continue
            pointers = [AnswerPointer(step=k, pointer=ans.pointers[0].pointer) for k, ans in enumerate(answers)]
            normaliser = answers[0].normaliser if answers[0].normaliser == answers[1].normaliser else Normaliser()
            task = Task(
                kind="parallel",
                user_request=_join_questions(drafts[0].user_request, drafts[1].user_request, rng),
                user_values={**drafts[0].user_values, **{f"{k}@1": v for k, v in drafts[1].user_values.items()}},
                answer=Answer(pointers=pointers, value=values, normaliser=normaliser),
                final_message=f"{drafts[0].final_message} {drafts[1].final_message}",
                writer="template",
            )
            used |= {a.observation.observation_id, b.observation.observation_id}
            out.append((Trace(steps=steps), task))
            break
    return out


_ASK = ["Which {n} do you mean?", "Sure, which {n} should I use?", "Happy to help. For which {n}?",
        "Could you tell me the {n}?"]
_TELL = ["{v}.", "{V}, please.", "I mean {v}.", "The {n} is {v}."]


def multi_turn_drafts(traces: Sequence[Trace], rng: random.Random, limit: int,
                      tools: Sequence[Tool] | None = None, stats: FieldStats | None = None) -> list[Draft]:
    """Withhold one value the user supplies; the assistant asks for it; the user gives it."""

    phraser = Phraser(tools)
    out: list[Draft] = []
    for trace in rng.sample(list(traces), len(traces)):
        if len(out) >= limit:
            break
        answer = choose_answer(trace, tools, stats)
        if answer is None:
            continue
        first = trace.steps[0]

        params = list(first.arguments)
        partnered = {u for v in params if (u := _unit_partner(v, params, first.arguments)) is not None}
        elsewhere = {p: {s.arguments[p] for s in trace.steps if p in s.arguments} for p in first.arguments}
        candidates = [
            (p, v) for p, v in user_values(trace).items()
            if "@" not in p and isinstance(v, (str, int, float)) and not isinstance(v, bool)
            # the phraser withholds a parameter wherever it is used: only where it holds this one value
            and elsewhere.get(p, {v}) == {v}
            and first.sources.get(p) is not None and first.sources[p].how != "schema-default"
            # one of two values that travel together (a latitude, a quantity's unit) cannot be withheld alone
            and _pair_of(p, params) is None and p not in partnered and _unit_partner(p, params, first.arguments) is None
        ]
        if not candidates:
            continue
        rng.shuffle(candidates)
        for param, value in candidates:
            draft = template_task(trace, answer, withheld=param, tools=tools)
            tool = phraser.tool(first)
            schema = ((tool.input_schema.get("properties") or {}).get(param) or {}) if tool else {}
            hint = value_hint(param, schema)
            # The withheld value must not be stated anyway. Conservative on purpose;
            # the provenance check decides for real.
            if not value_in_text(value, draft.user_request, hint=hint, lenient=True):
                break
        else:
            continue
        _, role = phraser.param(first, param)
        noun = role.noun if role.noun != "limit" else "number"
        shown = value_text(value, None, hint=role.hint) if role.hint else value_text(value)
        tell = rng.choice(_TELL)
        task = draft.model_copy(update={
            "kind": "multi_turn",
            "dialogue": [
                DialogueTurn(role="assistant", content=rng.choice(_ASK).format(n=noun)),
                DialogueTurn(role="user", content=tell.format(n=noun, v=shown, V=capitalise(shown))),
            ],
        })
        out.append((trace, Task.model_validate(task.model_dump())))
    return out


def slip_of(failed: Mapping[str, Any], fixed: Mapping[str, Any]) -> str | None:
    """The one parameter in which a failed call differs from the call done right, else None.

    Differences allowed: a missing parameter, or a value that is the right one
    mistyped (one edit or swapped neighbours) or written another way (case,
    spacing, a date in another format). More than one difference is no slip.
    """

    diffs = [p for p in set(failed) | set(fixed) if failed.get(p, _MISSING) != fixed.get(p, _MISSING)]
    if len(diffs) != 1:
        return None
    param = diffs[0]
    if param not in failed:
        return param  # a missing field
    if param not in fixed:
        return None  # an extra argument is not a slip of the user's value
    bad, good = failed[param], fixed[param]
    if isinstance(bad, str) and isinstance(good, str):
        if _near(bad, good) or bad.strip().casefold() == good.strip().casefold():
            return param
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", good.strip()):
            try:
                import datetime as _dt

                if _dt.date.fromisoformat(good.strip()) in dates_in(bad):
                    return param
            except ValueError:
                return None
    if isinstance(good, (int, float)) and isinstance(bad, str):
        return param if bad.strip().replace(",", "") in (str(good), number_text(good)) else None
    return None


_MISSING = object()


def _near(a: str, b: str) -> bool:
    """One insertion, deletion, substitution, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def error_recovery_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int,
                          tools: Sequence[Tool] | None = None, stats: FieldStats | None = None) -> list[Draft]:
    """The user's call made with one slip that really failed, then the same call done right.

    The request is written from the call done right, so every value the user
    gives is the right one; the failed call differs from it in exactly one
    argument, a slip of the user's own value (``slip_of``).
    """
    failed = [c for c in calls if c.observation.is_error and not c.parents
              and "timed out" not in (c.observation.error or "")]
    good = [c for c in calls if _user_only(c)]
    rng.shuffle(failed)
    out: list[Draft] = []
    for bad in failed:
        if len(out) >= limit:
            break
        fixes = [g for g in good if g.observation.tool == bad.observation.tool
                 and g.observation.toolset == bad.observation.toolset
                 and slip_of(bad.observation.arguments, g.observation.arguments) is not None]
        if not fixes:
            continue
        fix = fixes[0]
        ok = Trace(steps=[_step_of(fix)])
        answer = choose_answer(ok, tools, stats)
        if answer is None:
            continue
        draft = template_task(ok, answer, tools=tools)
        moved = Answer(
            pointers=[AnswerPointer(step=1, pointer=p.pointer) for p in answer.pointers],
            value=answer.value, normaliser=answer.normaliser,
        )
        task = draft.model_copy(update={"kind": "error_recovery", "answer": moved})
        out.append((Trace(steps=[_step_of(bad), _step_of(fix)]), Task.model_validate(task.model_dump())))
    return out


def _differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> set[str]:
    """The parameters two calls' arguments disagree on (one given and not the other counts)."""
    return {p for p in set(a) | set(b) if a.get(p) != b.get(p)}


def _decimals(value: float | int) -> int:
    text = number_text(value, group=False)
    return len(text.split(".")[1]) if "." in text else 0


_DIFF_FRAMES = [
    "{A} and {B}. What's the difference between the two?",
    "{A}, while {b}. How much higher is the first?",
    "Without looking anything up: {a} and {b}. What's the difference?",
]
_SUM_FRAMES = [
    "{A} and {B}. How many is that in total?",
    "No need to look anything up: {a} and {b}. What's the total?",
]


def no_call_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int,
                   tools: Sequence[Tool] | None = None, stats: FieldStats | None = None) -> list[Draft]:
    """Arithmetic on two values of one field (same meaning, same unit) from two real outputs.

    Both values and what they describe are stated, so no tool is needed; the
    result is computed here, never judged, and the no_call check recomputes it.
    """
    phraser = Phraser(tools)
    by_field: dict[tuple[str, str, str], list[tuple[ExploredCall, str, float | int]]] = {}
    for c in calls:
        if c.observation.is_error or is_probe(c) or c.parents:
            continue
        trace = Trace(steps=[_step_of(c)])
        for pointer, key, value in iter_scalars(c.observation.output):
            if not key or isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) >= 1e6:
                continue
            if "/" in pointer.strip("/") or is_echo(trace, value):
                continue
            if stats is not None and stats.is_constant(c.observation.toolset, c.observation.tool, pointer):
                continue
            by_field.setdefault((c.observation.toolset, c.observation.tool, pointer), []).append((c, key, value))
    fields = [f for f, rows in by_field.items() if len({r[2] for r in rows}) >= 2]
    rng.shuffle(fields)
    out: list[Draft] = []
    for f in fields:
        if len(out) >= limit:
            break
        rows = by_field[f]
        rng.shuffle(rows)
        # Two quantities compare only when they answer the same question about two things: the calls
        # differ in one argument (the route, the country), not also in the date or year they ask about.
        pair = next(((r, q) for i, r in enumerate(rows) for q in rows[i + 1:] if r[2] != q[2]
                     and len(_differing(r[0].observation.arguments, q[0].observation.arguments)) == 1), None)
        if pair is None:
            continue
        (ca, key, a), (cb, _, b) = pair
        step_a, step_b = _step_of(ca), _step_of(cb)
        meaning = phraser.field(step_a, f[2], a)
        if meaning.kind not in ("number", "count"):
            continue
        if a < b:
            (step_a, a), (step_b, b) = (step_b, b), (step_a, a)
        subj_a = phraser.subject(Trace(steps=[step_a]), 0)
        # the second quantity is said by what differs ("... from EWR to LAX on July 4, 2013 and 13 to SFO")
        other = _differing(step_a.arguments, step_b.arguments)
        subj_b = phraser.subject(Trace(steps=[step_b.model_copy(update={
            "arguments": {p: v for p, v in step_b.arguments.items() if p in other}})]), 0)
        if not subj_a or not subj_b or subj_a == subj_b:
            continue
        shown_a, shown_b = value_text(a, meaning), value_text(b, meaning)
        total = meaning.kind == "count" and rng.random() < 0.5
        digits = max(_decimals(a), _decimals(b))
        result = round(a + b, digits) if total else round(a - b, digits)
        if isinstance(a, int) and isinstance(b, int):
            result = int(result)
        done = year_event(meaning.noun)
        thing_a, thing_b = thing_of(subj_a), thing_of(subj_b)
        if done and thing_a and thing_b:  # "tail number N14228 was built in 1999 and tail number N619AA in 1990"
            sentence_a = f"{thing_a} was {done} in {shown_a}"
            sentence_b = f"{thing_b} in {shown_b}"
        elif meaning.kind == "count" and meaning.count_of:
            sentence_a = f"there are {shown_a} {meaning.count_of} {subj_a}"
            sentence_b = f"{shown_b} {subj_b}"
        else:
            sentence_a = f"the {meaning.noun} {subj_a} is {shown_a}"
            sentence_b = f"{subj_b} it is {shown_b}"
        frame = rng.choice(_SUM_FRAMES if total else _DIFF_FRAMES)
        request = frame.format(A=capitalise(sentence_a), B=sentence_b, a=sentence_a, b=sentence_b)
        shown = with_unit(number_text(result), meaning.unit)
        if total:
            final = f"Together that is {shown} ({number_text(a)} + {number_text(b)})."
        else:
            final = f"The difference is {shown} ({number_text(a)} - {number_text(b)})."
        task = Task(
            kind="no_call", user_request=capitalise(request), user_values={key: a, f"{key}@2": b}, answer=None,
            final_message=final, writer="template",
        )
        out.append((Trace(steps=[]), task))
    return out


def build_drafts(
    calls: Sequence[ExploredCall],
    traces: Sequence[Trace],
    *,
    total: int,
    mix: Mapping[str, float] | None = None,
    seed: int = 0,
    tools: Sequence[Tool] | None = None,
) -> tuple[list[Draft], KindPlan]:
    """Up to ``total`` drafts in the requested kind mix, built from real calls and traces.

    ``tools``: the tools' descriptions and schemas, which the sentences are built from.
    """
    rng = random.Random(seed)
    plan = KindPlan(wanted=allocate(mix or DEFAULT_MIX, total))
    stats = field_stats(calls)
    probes = {c.observation.observation_id for c in calls if is_probe(c)}
    traces = [t for t in traces if not any(s.observation_id in probes for s in t.steps)]
    chains = chain_drafts(traces, tools, stats)
    pools: dict[str, list[Draft]] = {
        "single": [d for d in chains if d[1].kind == "single"],
        "multi_step": [d for d in chains if d[1].kind == "multi_step"],
        "parallel": parallel_drafts(calls, rng, plan.wanted.get("parallel", 0), tools, stats),
        "multi_turn": multi_turn_drafts(traces, rng, plan.wanted.get("multi_turn", 0), tools, stats),
        "error_recovery": error_recovery_drafts(calls, rng, plan.wanted.get("error_recovery", 0), tools, stats),
        "no_call": no_call_drafts(calls, rng, plan.wanted.get("no_call", 0), tools, stats),
    }
    chosen: list[Draft] = []
    for kind, n in plan.wanted.items():
        picked = pools[kind][:n]
        chosen += picked
        plan.built[kind] += len(picked)
        del pools[kind][:n]
    # Fill what a kind could not supply with the chains left over.
    spare = pools["multi_step"] + pools["single"]
    missing = total - len(chosen)
    for trace, task in spare[:max(missing, 0)]:
        chosen.append((trace, task))
        plan.built[task.kind] += 1
    return chosen, plan


__all__ = ["DEFAULT_MIX", "KINDS", "Draft", "KindPlan", "allocate", "build_drafts", "is_probe", "resolve_pointer",
           "slip_of"]
