"""Validators: schema, replay, provenance and leakage checks, rubric trees, the judge.

They return records (LeafResult, Judgement); they never open the database.
"""

from ._audit import (
    AnswerDrift,
    AuditResult,
    CallDrift,
    CallStatus,
    ExampleStatus,
    ToolDrift,
    audit_examples,
    summarise_tools,
)
from ._difficulty import Difficulty, attempt_reward, measure_difficulty
from ._checks import CHECKS, CheckContext, CheckResult
from ._diversity import (
    DEFAULT_DEDUP_THRESHOLD,
    CollapseCheck,
    DiversityReport,
    dedup,
    diversity_report,
    duplicate_judgement,
    embed,
    trace_text,
)
from ._judge import Judge, JudgeScore, judge_context, score_from_logprobs, yes_no_mass
from ._replay import ReplayReport, ReplayResult, diff_pointers, replay_steps
from ._rubric import RUBRIC_DIR, evaluate, load_rubric
from ._text import answer_in_text, normalise_text, value_in_text, values_equal

__all__ = [
    "AnswerDrift",
    "AuditResult",
    "CHECKS",
    "CallDrift",
    "CallStatus",
    "CheckContext",
    "CheckResult",
    "CollapseCheck",
    "DEFAULT_DEDUP_THRESHOLD",
    "Difficulty",
    "DiversityReport",
    "ExampleStatus",
    "Judge",
    "JudgeScore",
    "RUBRIC_DIR",
    "ReplayReport",
    "ReplayResult",
    "ToolDrift",
    "answer_in_text",
    "attempt_reward",
    "audit_examples",
    "dedup",
    "diff_pointers",
    "diversity_report",
    "duplicate_judgement",
    "embed",
    "evaluate",
    "judge_context",
    "load_rubric",
    "measure_difficulty",
    "normalise_text",
    "replay_steps",
    "score_from_logprobs",
    "summarise_tools",
    "trace_text",
    "value_in_text",
    "values_equal",
    "yes_no_mass",
]
