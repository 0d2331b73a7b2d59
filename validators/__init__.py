"""Validators: schema, replay, provenance and leakage checks, rubric trees, the judge.

They return records (LeafResult, Judgement); they never open the database.
"""

from schemas import answer_in_text, normalise_text, value_in_text, values_equal

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
from ._calibrate import (
    DEFECT_KINDS,
    DISCRIMINATION_THRESHOLD,
    CalibrationReport,
    Defect,
    LeafCalibration,
    calibrate,
    judge_leaves,
    plant_defects,
)
from ._checks import CHECKS, COMPLETION_CHECKS, CheckContext, CheckResult
from ._difficulty import Difficulty, attempt_reward, measure_difficulty
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
from ._judge import (
    ExampleJudge,
    Judge,
    JudgeScore,
    JudgeStats,
    LeafJudge,
    judge_context,
    score_from_logprobs,
    yes_no_mass,
)
from ._replay import ReplayReport, ReplayResult, diff_pointers, replay_steps
from ._reward import Reward, Rollout, compute_score, load_reward_spec, reward_from, trl_reward
from ._rubric import RUBRIC_DIR, evaluate, load_rubric, parse_rubric

__all__ = [
    "AnswerDrift",
    "AuditResult",
    "CHECKS",
    "COMPLETION_CHECKS",
    "CalibrationReport",
    "CallDrift",
    "CallStatus",
    "CheckContext",
    "CheckResult",
    "CollapseCheck",
    "DEFAULT_DEDUP_THRESHOLD",
    "DEFECT_KINDS",
    "DISCRIMINATION_THRESHOLD",
    "Defect",
    "Difficulty",
    "DiversityReport",
    "ExampleJudge",
    "ExampleStatus",
    "Judge",
    "JudgeScore",
    "JudgeStats",
    "LeafCalibration",
    "LeafJudge",
    "RUBRIC_DIR",
    "ReplayReport",
    "ReplayResult",
    "Reward",
    "Rollout",
    "ToolDrift",
    "answer_in_text",
    "attempt_reward",
    "audit_examples",
    "calibrate",
    "compute_score",
    "dedup",
    "diff_pointers",
    "diversity_report",
    "duplicate_judgement",
    "embed",
    "evaluate",
    "judge_context",
    "judge_leaves",
    "load_reward_spec",
    "load_rubric",
    "measure_difficulty",
    "normalise_text",
    "parse_rubric",
    "plant_defects",
    "replay_steps",
    "reward_from",
    "score_from_logprobs",
    "summarise_tools",
    "trace_text",
    "trl_reward",
    "value_in_text",
    "values_equal",
    "yes_no_mass",
]
