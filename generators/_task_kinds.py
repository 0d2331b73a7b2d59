"""Task kinds, each built from real explored calls and traces.

    single          one call
    multi_step      a chain: later arguments are earlier outputs
    parallel        independent calls answered together in one assistant turn
    multi_turn      one user value is withheld; the assistant asks, the user answers
    error_recovery  a real failed call, then a successful call of the same tool
    no_call         answerable without tools: arithmetic on values from real outputs

Every builder returns (trace, draft task) pairs written by the template writer;
an LLM writer may rephrase them later. The mix is a weight per kind; a kind
that cannot be built from what exploration found (no failed call, say) gives
its share to multi_step and single, and the shortfall is reported, not hidden.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from schemas import Answer, AnswerPointer, DialogueTurn, Normaliser, Step, Task, TaskKind, Trace

from ._backchain import (
    _pointer_label,
    choose_answer,
    label,
    render_value,
    template_task,
    user_values,
)
from ._explore import ExploredCall, iter_scalars

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


def _regroup(steps: Iterable[Step], group: int | None) -> list[Step]:
    return [s.model_copy(update={"group": group}) for s in steps]


def _user_only(call: ExploredCall) -> bool:
    return not call.parents and not call.observation.is_error


def _step_of(call: ExploredCall) -> Step:
    obs = call.observation
    return Step(
        toolset=obs.toolset, tool=obs.tool, arguments=obs.arguments, sources=dict(call.sources),
        observation_id=obs.observation_id, output=obs.output, is_error=obs.is_error,
    )


def chain_drafts(traces: Sequence[Trace]) -> list[Draft]:
    """single and multi_step tasks from chains (kind follows the number of steps)."""
    out: list[Draft] = []
    for trace in traces:
        answer = choose_answer(trace)
        if answer is not None:
            out.append((trace, template_task(trace, answer)))
    return out


def parallel_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int) -> list[Draft]:
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
            chosen = [choose_answer(p) for p in parts]
            answers = [a for a in chosen if a is not None]
            if len(answers) < 2:
                continue
            drafts = [template_task(p, ans) for p, ans in zip(parts, answers)]
            values = [ans.values()[0] for ans in answers]
            # A value asked for in one half must not be given away by the other.
            if any(render_value(v).casefold() in drafts[1 - k].user_request.casefold() for k, v in enumerate(values)):
                continue
            pointers = [AnswerPointer(step=k, pointer=ans.pointers[0].pointer) for k, ans in enumerate(answers)]
            normaliser = answers[0].normaliser if answers[0].normaliser == answers[1].normaliser else Normaliser()
            labels = [_pointer_label(p.pointer) for p in pointers]
            second = drafts[1].user_request
            task = Task(
                kind="parallel",
                user_request=f"{drafts[0].user_request} Also, {second[0].lower()}{second[1:]}",
                user_values={**drafts[0].user_values, **{f"{k}@1": v for k, v in drafts[1].user_values.items()}},
                answer=Answer(pointers=pointers, value=values, normaliser=normaliser),
                final_message=f"The {labels[0]} is {render_value(values[0])}, and the {labels[1]} is "
                f"{render_value(values[1])}.",
                writer="template",
            )
            used |= {a.observation.observation_id, b.observation.observation_id}
            out.append((Trace(steps=steps), task))
            break
    return out


def multi_turn_drafts(traces: Sequence[Trace], rng: random.Random, limit: int) -> list[Draft]:
    """Withhold one value the user supplies; the assistant asks for it; the user gives it."""
    out: list[Draft] = []
    for trace in rng.sample(list(traces), len(traces)):
        if len(out) >= limit:
            break
        answer = choose_answer(trace)
        if answer is None:
            continue
        candidates = [
            (p, v) for p, v in user_values(trace).items()
            if "@" not in p and isinstance(v, (str, int, float)) and not isinstance(v, bool)
            and trace.steps[0].sources.get(p) is not None and trace.steps[0].sources[p].how != "schema-default"
        ]
        if not candidates:
            continue
        rng.shuffle(candidates)
        for param, value in candidates:
            draft = template_task(trace, answer, withheld=param)
            # The withheld value must not be stated anyway ("item 1" states a month of 1).
            # Conservative on purpose; the provenance check decides for real.
            if not re.search(rf"(?<![\w.]){re.escape(render_value(value))}(?!\w)", draft.user_request, re.I):
                break
        else:
            continue
        task = draft.model_copy(update={
            "kind": "multi_turn",
            "dialogue": [
                DialogueTurn(role="assistant", content=f"Which {label(param)} do you mean?"),
                DialogueTurn(role="user", content=f"The {label(param)} is {render_value(value)}."),
            ],
        })
        out.append((trace, Task.model_validate(task.model_dump())))
    return out


def error_recovery_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int) -> list[Draft]:
    """A real failed call followed by a successful call of the same tool (the correction)."""
    # Both calls take their arguments from the user: a failed call fed by an
    # earlier output would need that output's step in the trace too.
    failed = [c for c in calls if c.observation.is_error and not c.parents
              and "timed out" not in (c.observation.error or "")]
    good = [c for c in calls if _user_only(c)]
    rng.shuffle(failed)
    out: list[Draft] = []
    for bad in failed:
        if len(out) >= limit:
            break
        same_tool = [g for g in good if g.observation.tool == bad.observation.tool
                     and g.observation.toolset == bad.observation.toolset]
        if not same_tool:
            continue
        # The closest correction: the successful call sharing most argument values.
        fix = max(same_tool, key=lambda g: sum(
            g.observation.arguments.get(k) == v for k, v in bad.observation.arguments.items()))
        ok = Trace(steps=[_step_of(fix)])
        answer = choose_answer(ok)
        if answer is None:
            continue
        draft = template_task(ok, answer)
        moved = Answer(
            pointers=[AnswerPointer(step=1, pointer=p.pointer) for p in answer.pointers],
            value=answer.value, normaliser=answer.normaliser,
        )
        task = draft.model_copy(update={"kind": "error_recovery", "answer": moved})
        out.append((Trace(steps=[_step_of(bad), _step_of(fix)]), Task.model_validate(task.model_dump())))
    return out


def no_call_drafts(calls: Sequence[ExploredCall], rng: random.Random, limit: int) -> list[Draft]:
    """Arithmetic on two numbers from real outputs: stated in the request, so no tool is needed."""
    numbers: list[tuple[str, float | int]] = []
    for c in calls:
        if c.observation.is_error:
            continue
        for _, key, value in iter_scalars(c.observation.output):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key and abs(value) < 1e6:
                numbers.append((key, value))
    rng.shuffle(numbers)
    out: list[Draft] = []
    for (ka, a), (kb, b) in zip(numbers[0::2], numbers[1::2]):
        if len(out) >= limit:
            break
        total = round(a + b, 6)
        if isinstance(a, int) and isinstance(b, int):
            total = int(total)
        request = (f"Without looking anything up: if one {label(ka)} is {render_value(a)} and one "
                   f"{label(kb)} is {render_value(b)}, what do the two numbers add up to?")
        task = Task(
            kind="no_call", user_request=request, user_values={ka: a, (kb if kb != ka else f"{kb}@2"): b}, answer=None,
            final_message=f"{render_value(a)} + {render_value(b)} = {render_value(total)}.",
            writer="template",
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
) -> tuple[list[Draft], KindPlan]:
    """Up to ``total`` drafts in the requested kind mix, built from real calls and traces."""
    rng = random.Random(seed)
    plan = KindPlan(wanted=allocate(mix or DEFAULT_MIX, total))
    chains = chain_drafts(traces)
    pools: dict[str, list[Draft]] = {
        "single": [d for d in chains if d[1].kind == "single"],
        "multi_step": [d for d in chains if d[1].kind == "multi_step"],
        "parallel": parallel_drafts(calls, rng, plan.wanted.get("parallel", 0)),
        "multi_turn": multi_turn_drafts(traces, rng, plan.wanted.get("multi_turn", 0)),
        "error_recovery": error_recovery_drafts(calls, rng, plan.wanted.get("error_recovery", 0)),
        "no_call": no_call_drafts(calls, rng, plan.wanted.get("no_call", 0)),
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
