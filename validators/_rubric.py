"""Rubric trees: load them, evaluate them on an example, aggregate QUEST-style.

A leaf is a deterministic check (from `CHECKS`) scoring 1 or 0, or a judge
question scoring p(yes) (1 - p(yes) for a pitfall). A leaf passes at or above
its threshold. An inner node scores 0 when a critical child fails; otherwise
the weighted mean of its non-critical children (1 when all are critical).
In a sequential node, children after a failed one are skipped and recorded as
skipped: put cheap checks first and a failed gate costs no judge calls.

Status: a failed critical gate rejects (reason: the first failed critical leaf);
a judge that could not answer marks the example judge_error (dropped from the
version, never scored 0); a score below the rubric's min_score rejects.

A file is checked twice: against schemas/json/rubric.json (the published
contract, which editors can use too; the first error is reported with its
path), then by the pydantic model for what a JSON Schema cannot say (a leaf
has exactly one of check or question), then for unique node ids and known
check names.

Judge calls of one example go through one judge session, opened at the first
judge leaf that is reached (an example rejected by its checks never takes a
server) and closed when the example is done; see `Judge.session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas import ConfigError, Example, Judgement, LeafResult, ModelError, Rubric, RubricNode, Status, json_schema

from ._checks import CHECKS, CheckContext, CheckResult
from ._judge import ExampleJudge, LeafJudge

RUBRIC_DIR = Path(__file__).resolve().parent.parent / "data" / "rubrics"


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A rubric by file path or by name under data/rubrics/; ConfigError names the problem."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RUBRIC_DIR / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"rubric {path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"rubric {path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse_rubric(data, str(path))


@functools.cache
def _rubric_validator() -> Draft202012Validator:
    return Draft202012Validator(json_schema("rubric"))


def _schema_error(data: Any) -> str | None:
    """The first JSON Schema error as 'path: message' (the shallowest, then by path)."""
    errors = sorted(_rubric_validator().iter_errors(data),
                    key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
    return f"{where}: {first.message}"


def parse_rubric(data: Any, source: str = "rubric") -> Rubric:
    """A rubric from parsed YAML or JSON; ConfigError names ``source``, the path and the problem."""
    problem = _schema_error(data)
    if problem is not None:
        raise ConfigError(f"rubric {source}: {problem}")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"rubric {source}: {where}: {message}") from exc
    _check_names(rubric.root, source)
    questions = {n.id for n in _nodes(rubric.root) if n.question is not None}
    for i, example in enumerate(rubric.judge_examples):
        unknown = sorted(set(example.answers) - questions)
        if unknown:
            raise ConfigError(f"rubric {source}: judge_examples/{i}/answers: {unknown[0]!r} is not a judge "
                              f"question of this rubric (questions: {', '.join(sorted(questions)) or 'none'})")
    return rubric


def _nodes(node: RubricNode) -> list[RubricNode]:
    return [node, *(n for child in node.children for n in _nodes(child))]


def _check_names(node: RubricNode, path: str, seen: set[str] | None = None) -> None:
    seen = set() if seen is None else seen
    if node.id in seen:
        raise ConfigError(f"rubric {path}: node id {node.id!r} is used twice")
    seen.add(node.id)
    if node.check is not None and node.check not in CHECKS:
        raise ConfigError(
            f"rubric {path}: node {node.id!r}: unknown check {node.check!r} (known: {', '.join(sorted(CHECKS))})"
        )
    for child in node.children:
        _check_names(child, path, seen)


@dataclass
class _Outcome:
    score: float | None  # None: excluded from the parent's mean (skipped, no judge)
    passed: bool
    why: str = ""  # for a failure: "leaf_id: what went wrong"
    gated: bool = False  # zeroed because a critical child failed


class _Evaluation:
    def __init__(self, example: Example, ctx: CheckContext, judge: LeafJudge | None,
                 stack: contextlib.AsyncExitStack) -> None:
        self.example = example
        self.ctx = ctx
        self.judge = judge
        self.leaves: list[LeafResult] = []
        self.judge_error: str | None = None
        self._stack = stack
        self._bound: ExampleJudge | None = None
        self._opening = asyncio.Lock()

    async def bound(self, judge: LeafJudge) -> ExampleJudge:
        """The example's judge session, opened at its first judge leaf."""
        async with self._opening:
            if self._bound is None:
                self._bound = await self._stack.enter_async_context(judge.session())
            return self._bound

    def skip(self, node: RubricNode, why: str) -> None:
        if node.is_leaf:
            kind: Literal["check", "judge"] = "check" if node.check else "judge"
            self.leaves.append(LeafResult(node_id=node.id, kind=kind, critical=node.critical, skipped=True, reason=why))
        for child in node.children:
            self.skip(child, why)

    def check(self, name: str) -> CheckResult:
        if name in self.ctx.decided:
            return CheckResult(True, self.ctx.decided[name])
        return CHECKS[name](self.example, self.ctx)

    async def leaf(self, node: RubricNode) -> _Outcome:
        if node.check is not None:
            result = self.check(node.check)
            raw = 1.0 if result.passed else 0.0
            score = raw if node.polarity == "positive" else 1.0 - raw
            passed = score >= node.threshold
            self.leaves.append(LeafResult(node_id=node.id, kind="check", critical=node.critical,
                                          passed=passed, score=score, reason=result.reason))
            return _Outcome(score, passed, f"{node.id}: {result.reason or 'failed'}")
        assert node.question is not None  # guaranteed by RubricNode's validator
        if self.judge is None:
            self.leaves.append(LeafResult(node_id=node.id, kind="judge", critical=node.critical,
                                          skipped=True, reason="no judge configured"))
            return _Outcome(None, True)
        try:
            js = await (await self.bound(self.judge)).score(self.example, node.question)
        except ModelError as exc:
            self.judge_error = self.judge_error or f"{node.id}: {exc}"
            self.leaves.append(LeafResult(node_id=node.id, kind="judge", critical=node.critical,
                                          reason=f"judge_error: {exc}"))
            return _Outcome(None, True)
        score = js.p_yes if node.polarity == "positive" else 1.0 - js.p_yes
        passed = score >= node.threshold
        self.leaves.append(LeafResult(node_id=node.id, kind="judge", critical=node.critical, passed=passed,
                                      score=score, p_yes=js.p_yes, coverage=js.coverage, reason=js.note))
        return _Outcome(score, passed, f"{node.id}: judge score {score:.2f} below {node.threshold:g}")

    async def node(self, node: RubricNode) -> _Outcome:
        if node.is_leaf:
            return await self.leaf(node)
        outcomes: list[tuple[RubricNode, _Outcome]] = []
        if node.strategy == "sequential":
            for i, child in enumerate(node.children):
                out = await self.node(child)
                outcomes.append((child, out))
                if not out.passed:
                    for later in node.children[i + 1:]:
                        self.skip(later, f"skipped: {child.id} failed before it")
                    break
        else:
            results = await asyncio.gather(*(self.node(c) for c in node.children))
            outcomes = list(zip(node.children, results))
        for child, out in outcomes:
            if child.critical and not out.passed:
                return _Outcome(0.0, False, out.why, gated=True)
        scored = [(c.weight, o.score) for c, o in outcomes if not c.critical and o.score is not None]
        total = sum(w for w, _ in scored)
        score = 1.0 if not scored or total == 0 else sum(w * s for w, s in scored) / total
        passed = score >= node.threshold
        return _Outcome(score, passed, "" if passed else f"{node.id}: score {score:.2f} below {node.threshold:g}")


def _leaf_ids(node: RubricNode) -> list[str]:
    return [node.id] if node.is_leaf else [i for child in node.children for i in _leaf_ids(child)]


async def evaluate(rubric: Rubric, example: Example, ctx: CheckContext, judge: LeafJudge | None) -> Judgement:
    """Score one example against a rubric tree."""
    async with contextlib.AsyncExitStack() as stack:
        ev = _Evaluation(example, ctx, judge, stack)
        outcome = await ev.node(rubric.root)
    # Leaves in tree order, whatever order parallel children finished in: the record is deterministic.
    order = {node_id: i for i, node_id in enumerate(_leaf_ids(rubric.root))}
    ev.leaves.sort(key=lambda leaf: order[leaf.node_id])
    score = outcome.score if outcome.score is not None else 0.0
    score_out: float | None = round(score, 6)
    status: Status
    if outcome.gated:
        status, reason = "rejected", outcome.why
    elif ev.judge_error is not None:
        # Dropped from the version; its score is unknown, never 0 or a default.
        status, reason, score_out = "judge_error", ev.judge_error, None
    elif score < rubric.min_score:
        status, reason = "rejected", f"score {score:.3f} below min_score {rubric.min_score:g}"
    else:
        status, reason = "accepted", ""
    return Judgement(
        example_id=example.example_id,
        rubric_id=rubric.id,
        rubric_hash=rubric.rubric_hash,
        status=status,
        reason=reason,
        score=score_out,
        leaves=ev.leaves,
    )
