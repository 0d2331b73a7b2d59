"""Judge calibration: plant known defects and measure which leaves, and the rubric, notice them.

A leaf earns its place only if it fails when the example gets worse in the way
it is about, and passes on clean rows. `plant_defects` makes defective copies
of an accepted example, each worse in one known way:

- ``wrong_argument``: one call's argument no longer matches what the user asked
  (the recorded result stays, so the trace contradicts the request);
- ``leaked_answer``: the request already states the answer;
- ``extra_call``: an unneeded call (another example's) is added to the trace;
- ``missing_step``: a call the answer depends on is removed;
- ``answer_not_stated``: the final answer no longer states the value;
- ``mismatched_request``: the request is another example's, so it does not ask
  for what the trace does.

`calibrate` runs every leaf of a rubric on the original and each copy: the
deterministic checks (replay taken as decided: judge-check re-executes no
tool) and every judge question. Per leaf it reports the *keep rate* (clean rows
it passes) and the *catch rate* (defective copies it fails), per defect kind
and overall, and for a judge leaf the threshold that would keep at least
`TARGET_KEEP` of clean rows and what it would catch there. For the rubric as a
whole (all gates together, the tree evaluated as a run evaluates it) it reports
``caught_rate`` (defective copies rejected) and ``kept_rate`` (clean rows
accepted). The older per-leaf *drop* statistics (the judge's score fell by more
than `DROP_MARGIN`) are kept: a chance judge drops about as often as it rises.
With few examples the rates are noisy: use 20 or more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Example, ModelError, ModelReplyError, Rubric, RubricNode, Step, Trace

from ._checks import CHECKS, CheckContext
from ._judge import ExampleJudge, JudgeScore, LeafJudge

DEFECT_KINDS = ("wrong_argument", "leaked_answer", "extra_call", "missing_step", "answer_not_stated",
                "mismatched_request")
DROP_MARGIN = 0.05  # a score change smaller than this is noise, not a verdict
DISCRIMINATION_THRESHOLD = 0.5  # below this drop rate on every defect kind, a leaf is flagged
TARGET_KEEP = 0.9  # a judge gate's threshold must keep at least this share of clean rows


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


def _answer_not_stated(example: Example, rng: random.Random) -> Defect | None:
    if example.task.answer is None:
        return None
    message = rng.choice([
        "I looked that up with the tools for you.",
        "Done: I checked it with the available tools.",
        "I ran the lookup you asked for.",
    ])
    return Defect("answer_not_stated", _with_task(example, final_message=message), f"final answer: {message!r}")


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
        _answer_not_stated(example, rng),
        _mismatched_request(example, others, rng),
    ]
    return [d for d in made if d is not None]


def judge_leaves(rubric: Rubric) -> list[RubricNode]:
    """The rubric's judge questions, in tree order."""
    return [n for n in rubric_leaves(rubric) if n.question is not None]


def rubric_leaves(rubric: Rubric) -> list[RubricNode]:
    """Every leaf of the rubric (checks and questions), in tree order."""
    out: list[RubricNode] = []

    def walk(node: RubricNode) -> None:
        if node.is_leaf:
            out.append(node)
        for child in node.children:
            walk(child)

    walk(rubric.root)
    return out


@dataclass
class LeafCalibration:
    """One leaf's record: passes on clean rows, failures on defective copies (and, for a judge
    leaf, how its score moved)."""

    node_id: str
    question: str
    polarity: str
    kind: str = "judge"
    critical: bool = False
    threshold: float = 0.5
    clean: int = 0
    kept: int = 0
    caught_by_defect: dict[str, list[int]] = field(default_factory=dict)  # kind -> [failed, copies]
    #: Judge leaves: the score on each clean row and on each copy (for the suggested threshold).
    clean_scores: list[float] = field(default_factory=list)
    defect_scores: list[float] = field(default_factory=list)
    pairs: int = 0
    drops: int = 0
    rises: int = 0
    delta_sum: float = 0.0
    by_defect: dict[str, list[int]] = field(default_factory=dict)  # kind -> [drops, pairs]

    @property
    def keep_rate(self) -> float:
        return self.kept / self.clean if self.clean else 0.0

    @property
    def copies(self) -> int:
        return sum(n for _, n in self.caught_by_defect.values())

    @property
    def catch_rate(self) -> float:
        return sum(c for c, _ in self.caught_by_defect.values()) / self.copies if self.copies else 0.0

    def catch(self, kind: str) -> float | None:
        caught, copies = self.caught_by_defect.get(kind, [0, 0])
        return caught / copies if copies else None

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
        return self.kind == "judge" and self.discrimination < DISCRIMINATION_THRESHOLD

    def suggested_threshold(self) -> tuple[float, float] | None:
        """(threshold, catch rate there): the highest threshold that keeps at least TARGET_KEEP
        of clean rows; None for a check, or without scores."""
        if self.kind != "judge" or not self.clean_scores or not self.defect_scores:
            return None
        best: tuple[float, float] | None = None
        for step in range(1, 20):
            t = step / 20
            keep = sum(x >= t for x in self.clean_scores) / len(self.clean_scores)
            if keep >= TARGET_KEEP:
                best = (t, sum(x < t for x in self.defect_scores) / len(self.defect_scores))
        return best

    def to_json(self) -> dict[str, Any]:
        suggested = self.suggested_threshold()
        return {
            "node_id": self.node_id, "kind": self.kind, "question": self.question, "polarity": self.polarity,
            "critical": self.critical, "threshold": self.threshold,
            "clean": self.clean, "keep_rate": round(self.keep_rate, 4),
            "copies": self.copies, "catch_rate": round(self.catch_rate, 4),
            "catch_by_defect": {k: {"caught": c, "copies": n} for k, (c, n) in self.caught_by_defect.items()},
            "suggested_threshold": None if suggested is None else {
                "threshold": suggested[0], "catch_rate": round(suggested[1], 4), "keep_at_least": TARGET_KEEP},
            "pairs": self.pairs, "drop_rate": round(self.drop_rate, 4), "rise_rate": round(self.rise_rate, 4),
            "mean_delta": round(self.mean_delta, 4), "discrimination": round(self.discrimination, 4),
            "best_defect": self.best_defect, "flagged": self.flagged,
            "by_defect": {k: {"drops": d, "pairs": n} for k, (d, n) in self.by_defect.items()},
        }


@dataclass
class CalibrationReport:
    """Per-leaf keep and catch rates on planted defects, and the rubric's as a whole."""

    rubric_id: str
    rubric_hash: str
    judge: str
    examples: int
    planted: dict[str, int]
    leaves: list[LeafCalibration]
    judge_errors: list[str] = field(default_factory=list)
    #: The whole rubric: clean rows accepted, and defective copies rejected (per kind: [rejected, copies]).
    clean_accepted: int = 0
    rejected_by_defect: dict[str, list[int]] = field(default_factory=dict)

    @property
    def kept_rate(self) -> float:
        return self.clean_accepted / self.examples if self.examples else 0.0

    @property
    def caught_rate(self) -> float:
        copies = sum(n for _, n in self.rejected_by_defect.values())
        return sum(r for r, _ in self.rejected_by_defect.values()) / copies if copies else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rubric_id": self.rubric_id, "rubric_hash": self.rubric_hash, "judge": self.judge,
            "examples": self.examples, "planted": self.planted, "drop_margin": DROP_MARGIN,
            "threshold": DISCRIMINATION_THRESHOLD, "target_keep": TARGET_KEEP,
            "caught_rate": round(self.caught_rate, 4), "kept_rate": round(self.kept_rate, 4),
            "caught_by_defect": {k: {"rejected": r, "copies": n} for k, (r, n) in self.rejected_by_defect.items()},
            "leaves": [leaf.to_json() for leaf in self.leaves], "judge_errors": self.judge_errors,
        }

    def render(self) -> str:
        copies = sum(n for _, n in self.rejected_by_defect.values())
        lines = [
            f"rubric {self.rubric_id} ({self.rubric_hash[:12]}), judge {self.judge}",
            f"{self.examples} accepted examples; defects planted: "
            + ", ".join(f"{k} {n}" for k, n in self.planted.items()),
            "",
            f"the rubric as a whole (all gates): caught {self.caught_rate:.0%} of {copies} defective copies, "
            f"kept {self.kept_rate:.0%} of {self.examples} clean rows",
            "  caught per defect: " + ", ".join(
                f"{k} {r}/{n}" for k, (r, n) in self.rejected_by_defect.items()),
            "",
            "per leaf: keep = clean rows it passes; catch = defective copies it fails; suggested = the highest "
            f"judge threshold keeping >= {TARGET_KEEP:.0%} of clean rows (catch there)",
        ]
        kinds = [k for k in DEFECT_KINDS if k in self.planted]
        head = ["leaf", "kind", "keep", "catch", *(k.replace("_", " ") for k in kinds), "suggested", "drops/rises"]
        rows = []
        for leaf in self.leaves:
            per = [f"{r:.2f}" if (r := leaf.catch(k)) is not None else "-" for k in kinds]
            suggested = leaf.suggested_threshold()
            rows.append([
                leaf.node_id + (" *" if leaf.critical else ""), leaf.kind, f"{leaf.keep_rate:.2f}",
                f"{leaf.catch_rate:.2f}", *per,
                f"{suggested[0]:.2f} ({suggested[1]:.2f})" if suggested else "-",
                f"{leaf.drop_rate:.2f}/{leaf.rise_rate:.2f}" + (" CANNOT DISCRIMINATE" if leaf.flagged else "")
                if leaf.kind == "judge" else "-",
            ])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        lines.append("(* a gate: critical)")
        if self.judge_errors:
            lines += ["", f"{len(self.judge_errors)} judge error(s), those pairs left out; first: {self.judge_errors[0]}"]
        return "\n".join(lines) + "\n"


async def _scores(bound: ExampleJudge, example: Example, leaves: Sequence[RubricNode]) -> list[float | None]:
    """Each judge leaf's score on one example; None where the judge failed."""
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


class _Recorded:
    """A judge that answers from scores already asked (calibrate's), so the whole-rubric verdict
    costs no second request; a question it was not asked raises ModelError (a judge error)."""

    def __init__(self, scores: dict[tuple[str, str], JudgeScore]) -> None:
        self.scores = scores

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[_Recorded]:
        yield self

    async def score(self, example: Example, question: str) -> JudgeScore:
        found = self.scores.get((example.example_id, question))
        if found is None:
            raise ModelReplyError(f"no recorded judge score for {example.example_id[:12]}")
        return found


def _check_passes(leaf: RubricNode, example: Example, ctx: CheckContext) -> bool:
    assert leaf.check is not None
    if leaf.check in ctx.decided:
        return True
    raw = 1.0 if CHECKS[leaf.check](example, ctx).passed else 0.0
    return (raw if leaf.polarity == "positive" else 1.0 - raw) >= leaf.threshold


async def calibrate(rubric: Rubric, examples: Sequence[Example], judge: LeafJudge, *, seed: int = 0,
                    judge_name: str = "", advance: Callable[[int], None] | None = None) -> CalibrationReport:
    """Plant defects in each example, run every leaf on the original and copies, and evaluate the
    rubric as a whole on each."""
    from ._rubric import evaluate

    leaves = rubric_leaves(rubric)
    questions = [n for n in leaves if n.question is not None]
    calibrations = {n.id: LeafCalibration(n.id, n.question or f"check {n.check}", n.polarity,
                                          kind="judge" if n.question else "check", critical=n.critical,
                                          threshold=n.threshold) for n in leaves}
    planted = {k: 0 for k in DEFECT_KINDS}
    errors: list[str] = []
    # Replay needs live tools; the rows were accepted with it, and no defect changes a recorded output.
    ctx = CheckContext(decided={"replay": "taken as decided: judge-check re-executes no tool"})
    recorded: dict[tuple[str, str], JudgeScore] = {}
    verdicts: dict[str, tuple[str, str]] = {}  # example_id -> (defect kind or "clean", status)

    async def one(example: Example) -> None:
        defects = plant_defects(example, examples, seed=seed)
        # One session for the original and its copies: they share most of the prompt, and on
        # llama.cpp (one slot, which reuses the previous request's prefix) they then run back
        # to back instead of between other examples' requests.
        async with judge.session() as bound:
            base = await _scores(bound, example, questions)
            scored = [(defect, await _scores(bound, defect.example, questions)) for defect in defects]
        for ex, got in [(example, base), *((d.example, g) for d, g in scored)]:
            for node, value in zip(questions, got):
                if value is not None:
                    p_yes = value if node.polarity == "positive" else 1.0 - value
                    recorded[(ex.example_id, node.question or "")] = JudgeScore(p_yes=p_yes, coverage=1.0)
        for node in leaves:
            cal = calibrations[node.id]
            if node.check is not None:
                cal.clean += 1
                cal.kept += _check_passes(node, example, ctx)
                for defect in defects:
                    tally = cal.caught_by_defect.setdefault(defect.kind, [0, 0])
                    tally[0] += not _check_passes(node, defect.example, ctx)
                    tally[1] += 1
        for i, node in enumerate(questions):
            cal = calibrations[node.id]
            before = base[i]
            if before is not None:
                cal.clean += 1
                cal.kept += before >= node.threshold
                cal.clean_scores.append(before)
            for defect, got in scored:
                after = got[i]
                if after is None or before is None:
                    errors.append(f"{node.id} on {example.example_id[:12]} ({defect.kind})")
                    continue
                cal.defect_scores.append(after)
                tally = cal.caught_by_defect.setdefault(defect.kind, [0, 0])
                tally[0] += after < node.threshold
                tally[1] += 1
                delta = after - before
                cal.pairs += 1
                cal.delta_sum += delta
                cal.drops += delta < -DROP_MARGIN
                cal.rises += delta > DROP_MARGIN
                drops = cal.by_defect.setdefault(defect.kind, [0, 0])
                drops[0] += delta < -DROP_MARGIN
                drops[1] += 1
        for defect in defects:
            planted[defect.kind] += 1
        replayed = _Recorded(recorded)
        for ex, kind in [(example, "clean"), *((d.example, d.kind) for d in defects)]:
            verdict = await evaluate(rubric, ex, ctx, replayed if questions else None)
            verdicts[f"{example.example_id}:{kind}"] = (kind, verdict.status)
        if advance is not None:
            advance(1)

    await asyncio.gather(*(one(e) for e in examples))
    report = CalibrationReport(rubric.id, rubric.rubric_hash, judge_name, len(examples),
                               {k: n for k, n in planted.items() if n}, list(calibrations.values()), errors)
    for kind, status in verdicts.values():
        if kind == "clean":
            report.clean_accepted += status == "accepted"
        else:
            tally = report.rejected_by_defect.setdefault(kind, [0, 0])
            tally[0] += status == "rejected"
            tally[1] += 1
    report.rejected_by_defect = {k: report.rejected_by_defect[k] for k in DEFECT_KINDS if k in report.rejected_by_defect}
    return report
