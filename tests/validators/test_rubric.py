"""Rubric trees: loading, and QUEST-style aggregation with hand-computed scores.

Aggregation is pure logic, so the judge here is scripted (STYLE.md section 7
allows a scripted model for it): a fixed p(yes) per question, or an exception.
The real judge against the llama.cpp server is in test_judge.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schemas import ConfigError, Example, Judgement, LeafResult, ModelUnavailable
from validators import CHECKS, RUBRIC_DIR, CheckContext, JudgeScore, evaluate, load_rubric

from ._examples import context, example


class ScriptedJudge:
    """Same `score(example, question)` coroutine as `Judge`; answers from a table, counts calls."""

    def __init__(self, answers: dict[str, float | Exception]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.sessions = 0

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[ScriptedJudge]:
        self.sessions += 1
        yield self

    async def score(self, example: Example, question: str) -> JudgeScore:
        self.calls.append(question)
        answer = self.answers[question]
        if isinstance(answer, Exception):
            raise answer
        return JudgeScore(p_yes=answer, coverage=0.9)


def rubric_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def judge_with(tmp_path: Path, text: str, ex: Example, judge: ScriptedJudge | None,
               ctx: CheckContext | None = None) -> Judgement:
    rubric = load_rubric(rubric_file(tmp_path, text))
    return asyncio.run(evaluate(rubric, ex, ctx if ctx is not None else context(ex), judge))  # type: ignore[arg-type]


def leaves(j: Judgement) -> dict[str, LeafResult]:
    by_id = {leaf.node_id: leaf for leaf in j.leaves}
    assert len(by_id) == len(j.leaves), "a leaf was recorded twice"
    return by_id


LEAKED = "Is the capital of France in Europe/Paris?"


def test_critical_gate_zeroes_the_parent_and_rejects_with_the_leaf_reason(tmp_path: Path) -> None:
    text = """
id: gate
root:
  id: root
  children:
    - {id: no_leak, check: leakage, critical: true}
    - {id: natural, question: "Natural?", weight: 2}
"""
    judge = ScriptedJudge({"Natural?": 0.9})
    j = judge_with(tmp_path, text, example(request=LEAKED), judge)
    assert j.status == "rejected" and j.score == 0.0
    assert j.reason == "no_leak: the answer 'Europe/Paris' appears in the user request"
    got = leaves(j)
    assert got["no_leak"].passed is False and got["no_leak"].score == 0.0 and got["no_leak"].critical
    assert got["natural"].score == pytest.approx(0.9)  # parallel: still evaluated
    ok = judge_with(tmp_path, text, example(), ScriptedJudge({"Natural?": 0.9}))
    assert ok.status == "accepted" and ok.score == pytest.approx(0.9)  # the critical child is not averaged


def test_nested_gate_names_the_first_failing_leaf_and_skips_the_rest(tmp_path: Path) -> None:
    text = """
id: nested
root:
  id: root
  strategy: sequential
  children:
    - id: correctness
      critical: true
      strategy: sequential
      children:
        - {id: writer_ok, check: writer, critical: true}
        - {id: no_leak, check: leakage, critical: true}
        - {id: resolves, check: answer_pointers, critical: true}
    - id: quality
      children:
        - {id: natural, question: "Natural?"}
        - {id: needed, question: "Needed?"}
"""
    judge = ScriptedJudge({"Natural?": 0.9, "Needed?": 0.9})
    j = judge_with(tmp_path, text, example(request=LEAKED), judge)
    assert (j.status, j.score) == ("rejected", 0.0)
    assert j.reason == "no_leak: the answer 'Europe/Paris' appears in the user request"
    got = leaves(j)
    assert got["writer_ok"].passed is True
    assert got["resolves"].skipped and got["resolves"].reason == "skipped: no_leak failed before it"
    for leaf_id in ("natural", "needed"):
        assert got[leaf_id].skipped and got[leaf_id].reason == "skipped: correctness failed before it"
        assert got[leaf_id].score is None and got[leaf_id].kind == "judge"
    assert judge.calls == []


def test_weighted_mean_of_non_critical_children(tmp_path: Path) -> None:
    text = """
id: weights
root:
  id: root
  children:
    - {id: gate, check: writer, critical: true}
    - {id: a, question: "A?", weight: 1}
    - {id: b, question: "B?", weight: 3}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"A?": 0.2, "B?": 0.6}))
    assert j.score == pytest.approx((1 * 0.2 + 3 * 0.6) / 4) == pytest.approx(0.5)
    assert j.status == "accepted"
    got = leaves(j)
    assert got["a"].passed is False and got["b"].passed is True  # threshold 0.5, non-critical: no gate


def test_nested_means_and_zero_weight(tmp_path: Path) -> None:
    text = """
id: nested-weights
root:
  id: root
  children:
    - id: inner
      weight: 1
      children:
        - {id: a, question: "A?", weight: 1}
        - {id: b, question: "B?", weight: 3}
    - {id: c, question: "C?", weight: 1}
    - {id: ignored, question: "D?", weight: 0}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"A?": 0.2, "B?": 0.6, "C?": 0.9, "D?": 0.0}))
    # inner = 0.5; root = (1 * 0.5 + 1 * 0.9 + 0 * 0.0) / 2
    assert j.score == pytest.approx(0.7)


def test_only_critical_children_score_one(tmp_path: Path) -> None:
    text = """
id: gates
root:
  id: root
  children:
    - {id: writer_ok, check: writer, critical: true}
    - {id: no_leak, check: leakage, critical: true}
"""
    j = judge_with(tmp_path, text, example(), None)
    assert (j.status, j.score) == ("accepted", 1.0)


def test_pitfall_polarity_scores_one_minus_p(tmp_path: Path) -> None:
    text = """
id: pitfall
root:
  id: root
  children:
    - {id: leaks_hint, question: "Leaks?", polarity: pitfall}
    - {id: natural, question: "Natural?"}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"Leaks?": 0.2, "Natural?": 0.6}))
    got = leaves(j)
    assert got["leaks_hint"].p_yes == pytest.approx(0.2)
    assert got["leaks_hint"].score == pytest.approx(0.8) and got["leaks_hint"].passed is True
    assert j.score == pytest.approx((0.8 + 0.6) / 2)


def test_pitfall_check_inverts_a_passing_check(tmp_path: Path) -> None:
    text = """
id: pitfall-check
root:
  id: root
  children:
    - {id: leaks, check: leakage, polarity: pitfall, critical: true}
"""
    j = judge_with(tmp_path, text, example(), None)
    assert (j.status, j.score) == ("rejected", 0.0)
    assert leaves(j)["leaks"].score == 0.0 and j.reason.startswith("leaks: ")


def test_sequential_children_after_a_failure_are_skipped_without_judge_calls(tmp_path: Path) -> None:
    text = """
id: sequential
root:
  id: root
  strategy: sequential
  children:
    - {id: first, question: "First?"}
    - {id: second, question: "Second?"}
    - id: later
      children:
        - {id: third, question: "Third?"}
        - {id: writer_ok, check: writer}
"""
    judge = ScriptedJudge({"First?": 0.1, "Second?": 0.9, "Third?": 0.9})
    j = judge_with(tmp_path, text, example(), judge)
    assert judge.calls == ["First?"]
    got = leaves(j)
    assert got["first"].score == pytest.approx(0.1) and got["first"].passed is False
    for leaf_id, kind in (("second", "judge"), ("third", "judge"), ("writer_ok", "check")):
        assert got[leaf_id].skipped and got[leaf_id].kind == kind
        assert got[leaf_id].reason == "skipped: first failed before it" and got[leaf_id].score is None
    assert j.score == pytest.approx(0.1)  # skipped children are not averaged in


def test_parallel_children_are_all_evaluated(tmp_path: Path) -> None:
    text = """
id: parallel
root:
  id: root
  strategy: parallel
  children:
    - {id: gate, check: leakage, critical: true}
    - {id: first, question: "First?"}
    - {id: second, question: "Second?"}
    - {id: third, question: "Third?"}
"""
    judge = ScriptedJudge({"First?": 0.1, "Second?": 0.2, "Third?": 0.3})
    j = judge_with(tmp_path, text, example(request=LEAKED), judge)
    assert sorted(judge.calls) == ["First?", "Second?", "Third?"]
    assert not any(leaf.skipped for leaf in j.leaves) and len(j.leaves) == 4
    assert j.status == "rejected"


def test_judge_error_marks_judge_error_and_never_scores_zero(tmp_path: Path) -> None:
    text = """
id: errors
root:
  id: root
  children:
    - {id: gate, check: writer, critical: true}
    - {id: a, question: "A?"}
    - {id: broken, question: "B?"}
    - {id: c, question: "C?"}
"""
    judge = ScriptedJudge({"A?": 0.8, "B?": ModelUnavailable("model endpoint x at y failed after 1 attempts"),
                           "C?": 0.4})
    j = judge_with(tmp_path, text, example(), judge)
    assert j.status == "judge_error"
    assert j.reason == "broken: model endpoint x at y failed after 1 attempts"
    broken = leaves(j)["broken"]
    assert broken.score is None and broken.p_yes is None and broken.passed is None and not broken.skipped
    assert broken.reason == "judge_error: model endpoint x at y failed after 1 attempts"
    assert j.score is None  # unknown: the example is dropped from the version, never scored 0


def test_a_failed_gate_outranks_a_judge_error(tmp_path: Path) -> None:
    text = """
id: errors
root:
  id: root
  children:
    - {id: no_leak, check: leakage, critical: true}
    - {id: broken, question: "B?"}
"""
    j = judge_with(tmp_path, text, example(request=LEAKED), ScriptedJudge({"B?": ModelUnavailable("down")}))
    assert j.status == "rejected" and j.reason.startswith("no_leak: ")


def test_critical_judge_leaf_below_its_threshold_rejects(tmp_path: Path) -> None:
    text = """
id: thresholds
root:
  id: root
  children:
    - {id: strict, question: "Strict?", critical: true, threshold: 0.9}
    - {id: other, question: "Other?"}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"Strict?": 0.8, "Other?": 1.0}))
    assert (j.status, j.score) == ("rejected", 0.0)
    assert j.reason == "strict: judge score 0.80 below 0.9"


def test_critical_inner_node_below_its_threshold_rejects(tmp_path: Path) -> None:
    text = """
id: inner-threshold
root:
  id: root
  children:
    - id: quality
      critical: true
      threshold: 0.6
      children:
        - {id: a, question: "A?"}
        - {id: b, question: "B?"}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"A?": 0.3, "B?": 0.7}))
    assert j.status == "rejected" and j.reason == "quality: score 0.50 below 0.6"


def test_min_score_rejects(tmp_path: Path) -> None:
    text = """
id: min
min_score: 0.7
root:
  id: root
  children:
    - {id: a, question: "A?", weight: 1}
    - {id: b, question: "B?", weight: 3}
"""
    j = judge_with(tmp_path, text, example(), ScriptedJudge({"A?": 0.2, "B?": 0.6}))
    assert (j.status, j.score) == ("rejected", 0.5)
    assert j.reason == "score 0.500 below min_score 0.7"
    ok = judge_with(tmp_path, text, example(), ScriptedJudge({"A?": 0.7, "B?": 0.7}))
    assert ok.status == "accepted" and ok.score == pytest.approx(0.7)  # at min_score is accepted


def test_without_a_judge_judge_leaves_are_skipped(tmp_path: Path) -> None:
    text = """
id: nojudge
root:
  id: root
  children:
    - {id: gate, check: writer, critical: true}
    - {id: a, question: "A?"}
"""
    j = judge_with(tmp_path, text, example(), None)
    leaf = leaves(j)["a"]
    assert leaf.skipped and leaf.reason == "no judge configured" and leaf.score is None
    assert (j.status, j.score) == ("accepted", 1.0)


def test_judgement_records_rubric_identity(tmp_path: Path) -> None:
    text = "id: ident\nroot: {id: only, check: writer}\n"
    ex = example()
    j = judge_with(tmp_path, text, ex, None)
    rubric = load_rubric(rubric_file(tmp_path, text))
    assert (j.example_id, j.rubric_id, j.rubric_hash) == (ex.example_id, "ident", rubric.rubric_hash)
    assert j.status == "accepted" and j.score == 1.0  # a leaf as root


# loading


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nroot: {id: a, check: writer\n", "not valid YAML: "),
        ("id: x\nroot:\n  id: a\n   children: []\n", "not valid YAML: "),
        ("id: x\nroot: {id: a, check: nope}\n", "node 'a': unknown check 'nope' (known: answer_named, answer_pointers, "),
        ("id: x\nroot:\n  id: a\n  children:\n    - {id: b, check: writer}\n    - {id: b, question: Q}\n",
         "node id 'b' is used twice"),
        ("id: x\nroot:\n  id: a\n  children:\n    - {id: a, check: writer}\n", "node id 'a' is used twice"),
        ("id: x\nroot: {id: a, check: writer, question: Q}\n",
         "leaf 'a' needs exactly one of 'check' or 'question'"),
        ("id: x\nroot: {id: a}\n", "leaf 'a' needs exactly one of 'check' or 'question'"),
        ("id: x\nroot:\n  id: a\n  question: Q\n  children: [{id: b, check: writer}]\n",
         "node 'a' has children, so it takes no check or question"),
        # The JSON Schema (schemas/json/rubric.json) speaks first, with the path of the problem.
        ("id: x\n", "(top level): 'root' is a required property"),
        ("[1, 2]\n", "(top level): [1, 2] is not of type 'object'"),
        ("id: x\nroot: {id: Bad Id, check: writer}\n", "root/id: 'Bad Id' does not match '^[a-z0-9_.-]+$'"),
        ("id: x\nroot: {id: a, check: writer, weight: -1}\n", "root/weight: -1 is less than the minimum of 0"),
        ("id: x\nroot: {id: a, check: writer, colour: red}\n",
         "root: Additional properties are not allowed ('colour' was unexpected)"),
        ("id: x\nroot:\n  id: r\n  children:\n    - {id: a, check: writer}\n    - {id: b, question: Q, threshold: 2}\n",
         "root/children/1/threshold: 2 is greater than the maximum of 1"),
        ("id: x\nroot:\n  id: r\n  strategy: random\n  children: [{id: a, check: writer}]\n",
         "root/strategy: 'random' is not one of ['parallel', 'sequential']"),
    ],
)
def test_bad_rubric_files_are_config_errors_on_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = rubric_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    msg = str(info.value)
    assert msg.startswith(f"rubric {path}: ") and message in msg, msg
    assert "\n" not in msg


def test_missing_rubric_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^rubric .*nothere\.yaml: cannot read \(No such file or directory\)$"):
        load_rubric(tmp_path / "nothere.yaml")
    with pytest.raises(ConfigError, match=r"no-such-rubric\.yaml: cannot read"):
        load_rubric("no-such-rubric")


def test_the_shipped_default_rubric_loads_and_uses_every_check() -> None:
    rubric = load_rubric("default")
    assert rubric == load_rubric(RUBRIC_DIR / "default.yaml")
    assert rubric.id == "default"

    checks: list[str] = []
    questions: list[str] = []

    def walk(node: object) -> None:
        node_check = node.check
        if node_check:
            checks.append(node_check)
        if node.question:
            questions.append(node.question)
        for child in node.children:
            walk(child)

    walk(rubric.root)
    assert sorted(checks) == sorted(CHECKS) and len(questions) == 4
    # The judge questions that calibrated well gate; the others are weighted (see the file's header).
    judged = next(c for c in rubric.root.children if c.id == "judged")
    assert judged.critical and all(c.critical and c.question for c in judged.children)
    assert {c.id: c.threshold for c in judged.children} == {"answer_correct": 0.5, "answer_matches_request": 0.6}
    # Every judge question has worked examples, a yes and a no, in front of every request.
    shots = rubric.judge_shots()
    assert {q for _, q, _ in shots} == set(questions)
    assert all({a for _, q2, a in shots if q2 == q} == {"yes", "no"} for q in questions)


@pytest.mark.parametrize(
    ("variant", "failing_leaf"),
    [
        ({"writer": "llm", "writer_error": "reply JSON has no string field 'request'"}, "writer_reply"),
        ({"request": "What time zone is the capital of Spain in?"}, "provenance"),
        ({"request": LEAKED}, "no_leakage"),
        ({"request": "Use timezone_at for the capital of France."}, "no_tool_names"),
    ],
)
def test_default_rubric_rejects_at_the_first_failed_check(variant: dict[str, str], failing_leaf: str) -> None:
    ex = example(**variant)
    judge = ScriptedJudge({})  # any judge call would raise KeyError
    j = asyncio.run(evaluate(load_rubric("default"), ex, context(ex), judge))  # type: ignore[arg-type]
    assert j.status == "rejected" and j.score == 0.0 and j.reason.startswith(f"{failing_leaf}: ")
    got = leaves(j)
    assert got["replay_matches"].skipped and judge.calls == []
    assert got["request_is_natural"].reason == "skipped: correctness failed before it"


def test_default_rubric_accepts_the_good_example_without_a_judge() -> None:
    ex = example()
    j = asyncio.run(evaluate(load_rubric("default"), ex, context(ex), None))
    assert (j.status, j.score, j.reason) == ("accepted", 1.0, "")
    got = leaves(j)
    assert all(got[leaf].passed for leaf in got if got[leaf].kind == "check")
    assert all(got[leaf].skipped for leaf in got if got[leaf].kind == "judge")
    # Without a replay report the replay gate rejects.
    unreplayed = asyncio.run(evaluate(load_rubric("default"), ex, CheckContext(), None))
    assert unreplayed.status == "rejected" and unreplayed.reason == "replay_matches: no replay was run"
