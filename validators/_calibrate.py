"""Judge calibration: plant known defects and measure which judge leaves notice them.

A judge leaf earns its place only if its score drops when the example gets
worse in the way its question asks about. `plant_defects` makes defective
copies of an accepted example, each worse in one known way:

- ``wrong_argument``: one call's argument no longer matches what the user asked
  (the recorded result stays, so the trace contradicts the request);
- ``leaked_answer``: the request already states the answer;
- ``extra_call``: an unneeded call (another example's) is added to the trace;
- ``missing_step``: a call the answer depends on is removed;
- ``mismatched_request``: the request is another example's, so it does not ask
  for what the trace does.

`calibrate` asks every judge question of a rubric about the original and each
copy and reports, per leaf, how often its score (p(yes), or 1 - p(yes) for a
pitfall leaf) drops by more than `DROP_MARGIN`: per defect kind, and overall.
A leaf's discrimination is its drop rate on the defect kind it catches best; a
leaf below `DISCRIMINATION_THRESHOLD` on every kind cannot discriminate and is
flagged. A chance judge drops about as often as it rises; compare the two
columns. With few examples the rates are noisy: use 20 or more.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Example, ModelError, Rubric, RubricNode, Step, Trace

from ._judge import ExampleJudge, LeafJudge

DEFECT_KINDS = ("wrong_argument", "leaked_answer", "extra_call", "missing_step", "mismatched_request")
DROP_MARGIN = 0.05  # a score change smaller than this is noise, not a verdict
DISCRIMINATION_THRESHOLD = 0.5  # below this drop rate on every defect kind, a leaf is flagged


@dataclass(frozen=True)
class Defect:
    """A defective copy of an example: which defect, what was changed."""

    kind: str
    example: Example
    change: str


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _other_value(value: Any, rng: random.Random, pool: Sequence[Any]) -> Any:
    """A plausible but different value of the same type."""
    candidates = [v for v in pool if type(v) is type(value) and v != value]
    if candidates:
        return rng.choice(candidates)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([1, 2, 7, 10]) * rng.choice([-1, 1])
    if isinstance(value, float):
        return round(value + rng.choice([1.5, 3.25, 10.0]) * rng.choice([-1, 1]), 4)
    if isinstance(value, str):
        return value[::-1] if value[::-1] != value else value + "x"
    return None


def _with_task(example: Example, **update: Any) -> Example:
    return example.model_copy(update={"task": example.task.model_copy(update=update)})


def _wrong_argument(example: Example, rng: random.Random, pool: dict[str, list[Any]]) -> Defect | None:
    targets = [(k, p) for k, s in enumerate(example.trace.steps) for p, src in s.sources.items()
               if src.origin == "user" and p in s.arguments]
    targets = targets or [(k, p) for k, s in enumerate(example.trace.steps) for p in s.arguments]
    if not targets:
        return None
    k, param = rng.choice(targets)
    old = example.trace.steps[k].arguments[param]
    new = _other_value(old, rng, pool.get(param, []))
    if new is None:
        return None
    step = example.trace.steps[k]
    steps = list(example.trace.steps)
    steps[k] = step.model_copy(update={"arguments": {**step.arguments, param: new}})
    changed = example.model_copy(update={"trace": Trace(steps=steps)})
    return Defect("wrong_argument", changed, f"call {k + 1} {step.tool}: {param}={_render(old)} -> {_render(new)}")


def _leaked_answer(example: Example, rng: random.Random) -> Defect | None:
    if example.task.answer is None:
        return None
    value = _render(example.task.answer.value)
    request = f"{example.task.user_request.rstrip()} I'm fairly sure it is {value}, right?"
    return Defect("leaked_answer", _with_task(example, user_request=request), f"request states {value}")


def _donor_step(example: Example, others: Sequence[Example], rng: random.Random) -> tuple[Step, Example] | None:
    own = {(s.tool, json.dumps(s.arguments, sort_keys=True)) for s in example.trace.steps}
    used = {s.tool for s in example.trace.steps}
    candidates = [(s, o) for o in others for s in o.trace.steps
                  if not s.is_error and (s.tool, json.dumps(s.arguments, sort_keys=True)) not in own]
    unrelated = [(s, o) for s, o in candidates if s.tool not in used]
    pick = unrelated or candidates
    return rng.choice(pick) if pick else None


def _extra_call(example: Example, others: Sequence[Example], rng: random.Random) -> Defect | None:
    donor = _donor_step(example, others, rng)
    if donor is None:
        return None
    step, source = donor
    extra = step.model_copy(update={"group": None, "sources": {
        p: src for p, src in step.sources.items() if src.origin == "user"}})
    tools = list(example.tools)
    if not any(t.name == step.tool for t in tools):
        tools += [t for t in source.tools if t.name == step.tool][:1]
    changed = example.model_copy(update={"trace": Trace(steps=[*example.trace.steps, extra]), "tools": tools})
    return Defect("extra_call", changed, f"added call {step.tool}({json.dumps(step.arguments, ensure_ascii=False)})")


def _missing_step(example: Example, rng: random.Random) -> Defect | None:
    steps = example.trace.steps
    if not steps or example.task.answer is None:
        return None
    # The first step feeds the later ones (or is the only call): without it the trace cannot answer.
    dropped = steps[0]
    rest = [s.model_copy(update={"sources": {p: src for p, src in s.sources.items() if src.origin == "user"}})
            for s in steps[1:]]
    changed = example.model_copy(update={"trace": Trace(steps=rest)})
    return Defect("missing_step", changed, f"removed call 1 {dropped.tool}")


def _mismatched_request(example: Example, others: Sequence[Example], rng: random.Random) -> Defect | None:
    tools = {s.tool for s in example.trace.steps}
    candidates = [o for o in others if o.task.user_request != example.task.user_request
                  and ({s.tool for s in o.trace.steps} != tools or o.task.answer != example.task.answer)]
    if not candidates:
        return None
    other = rng.choice(candidates)
    changed = _with_task(example, user_request=other.task.user_request, dialogue=list(other.task.dialogue))
    return Defect("mismatched_request", changed, f"request of example {other.example_id[:12]}")


def plant_defects(example: Example, others: Sequence[Example], *, seed: int = 0) -> list[Defect]:
    """Defective copies of ``example``, one per applicable kind (``others`` lend calls and requests)."""
    rng = random.Random(f"{seed}:{example.example_id}")
    others = [o for o in others if o.example_id != example.example_id]
    pool: dict[str, list[Any]] = {}
    for o in others:
        for s in o.trace.steps:
            for p, v in s.arguments.items():
                if v not in pool.setdefault(p, []):
                    pool[p].append(v)
    made = [
        _wrong_argument(example, rng, pool),
        _leaked_answer(example, rng),
        _extra_call(example, others, rng),
        _missing_step(example, rng),
        _mismatched_request(example, others, rng),
    ]
    return [d for d in made if d is not None]


def judge_leaves(rubric: Rubric) -> list[RubricNode]:
    """The rubric's judge questions, in tree order."""
    out: list[RubricNode] = []

    def walk(node: RubricNode) -> None:
        if node.question is not None:
            out.append(node)
        for child in node.children:
            walk(child)

    walk(rubric.root)
    return out


@dataclass
class LeafCalibration:
    """One judge leaf's record over the planted defects."""

    node_id: str
    question: str
    polarity: str
    pairs: int = 0
    drops: int = 0
    rises: int = 0
    delta_sum: float = 0.0
    by_defect: dict[str, list[int]] = field(default_factory=dict)  # kind -> [drops, pairs]

    @property
    def drop_rate(self) -> float:
        return self.drops / self.pairs if self.pairs else 0.0

    @property
    def rise_rate(self) -> float:
        return self.rises / self.pairs if self.pairs else 0.0

    @property
    def mean_delta(self) -> float:
        """Mean of (defective - original) score: negative when the leaf notices."""
        return self.delta_sum / self.pairs if self.pairs else 0.0

    def rate(self, kind: str) -> float | None:
        drops, pairs = self.by_defect.get(kind, [0, 0])
        return drops / pairs if pairs else None

    @property
    def best_defect(self) -> str | None:
        rated = [(r, k) for k in DEFECT_KINDS if (r := self.rate(k)) is not None]
        return max(rated)[1] if rated else None

    @property
    def discrimination(self) -> float:
        best = self.best_defect
        return (self.rate(best) or 0.0) if best else 0.0

    @property
    def flagged(self) -> bool:
        return self.discrimination < DISCRIMINATION_THRESHOLD

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "question": self.question, "polarity": self.polarity,
            "pairs": self.pairs, "drop_rate": round(self.drop_rate, 4), "rise_rate": round(self.rise_rate, 4),
            "mean_delta": round(self.mean_delta, 4), "discrimination": round(self.discrimination, 4),
            "best_defect": self.best_defect, "flagged": self.flagged,
            "by_defect": {k: {"drops": d, "pairs": n} for k, (d, n) in self.by_defect.items()},
        }


@dataclass
class CalibrationReport:
    """Per-leaf discrimination of a rubric's judge leaves on planted defects."""

    rubric_id: str
    rubric_hash: str
    judge: str
    examples: int
    planted: dict[str, int]
    leaves: list[LeafCalibration]
    judge_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rubric_id": self.rubric_id, "rubric_hash": self.rubric_hash, "judge": self.judge,
            "examples": self.examples, "planted": self.planted, "drop_margin": DROP_MARGIN,
            "threshold": DISCRIMINATION_THRESHOLD, "leaves": [leaf.to_json() for leaf in self.leaves],
            "judge_errors": self.judge_errors,
        }

    def render(self) -> str:
        lines = [
            f"rubric {self.rubric_id} ({self.rubric_hash[:12]}), judge {self.judge}",
            f"{self.examples} accepted examples; defects planted: "
            + ", ".join(f"{k} {n}" for k, n in self.planted.items()),
            f"a drop: the leaf's score fell by more than {DROP_MARGIN:g}; flagged: no defect kind "
            f"with a drop rate of {DISCRIMINATION_THRESHOLD:g} or more",
            "",
        ]
        head = ["leaf", "pairs", "drops", "rises", "mean Δ", *(k.replace("_", " ") for k in DEFECT_KINDS), "flag"]
        rows = []
        for leaf in self.leaves:
            per = [f"{r:.2f}" if (r := leaf.rate(k)) is not None else "-" for k in DEFECT_KINDS]
            rows.append([leaf.node_id, str(leaf.pairs), f"{leaf.drop_rate:.2f}", f"{leaf.rise_rate:.2f}",
                         f"{leaf.mean_delta:+.3f}", *per, "CANNOT DISCRIMINATE" if leaf.flagged else "ok"])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if self.judge_errors:
            lines += ["", f"{len(self.judge_errors)} judge error(s), those pairs left out; first: {self.judge_errors[0]}"]
        return "\n".join(lines) + "\n"


async def _scores(bound: ExampleJudge, example: Example, leaves: Sequence[RubricNode]) -> list[float | None]:
    """Each leaf's score on one example; None where the judge failed."""
    out: list[float | None] = []
    for leaf in leaves:
        assert leaf.question is not None
        try:
            js = await bound.score(example, leaf.question)
        except ModelError:
            out.append(None)
            continue
        out.append(js.p_yes if leaf.polarity == "positive" else 1.0 - js.p_yes)
    return out


async def calibrate(rubric: Rubric, examples: Sequence[Example], judge: LeafJudge, *, seed: int = 0,
                    judge_name: str = "") -> CalibrationReport:
    """Plant defects in each example, judge original and copies, and count per leaf who noticed."""
    leaves = judge_leaves(rubric)
    calibrations = [LeafCalibration(n.id, n.question or "", n.polarity) for n in leaves]
    planted = {k: 0 for k in DEFECT_KINDS}
    errors: list[str] = []

    async def one(example: Example) -> None:
        defects = plant_defects(example, examples, seed=seed)
        # One session for the original and its copies: they share most of the prompt, and on
        # llama.cpp (one slot, which reuses the previous request's prefix) they then run back
        # to back instead of between other examples' requests.
        async with judge.session() as bound:
            base = await _scores(bound, example, leaves)
            scored = [(defect, await _scores(bound, defect.example, leaves)) for defect in defects]
        for defect, got in scored:
            planted[defect.kind] += 1
            for cal, before, after in zip(calibrations, base, got):
                if before is None or after is None:
                    errors.append(f"{cal.node_id} on {example.example_id[:12]} ({defect.kind})")
                    continue
                delta = after - before
                cal.pairs += 1
                cal.delta_sum += delta
                cal.drops += delta < -DROP_MARGIN
                cal.rises += delta > DROP_MARGIN
                tally = cal.by_defect.setdefault(defect.kind, [0, 0])
                tally[0] += delta < -DROP_MARGIN
                tally[1] += 1

    await asyncio.gather(*(one(e) for e in examples))
    return CalibrationReport(rubric.id, rubric.rubric_hash, judge_name, len(examples),
                             {k: n for k, n in planted.items() if n}, calibrations, errors)
