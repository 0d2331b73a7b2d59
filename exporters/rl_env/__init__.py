"""The training-time side of the RL exports: replay-backed tools and the rubric-tree reward.

An RL export (``verl --multi-turn``, ``trl-grpo --tools-module``, ``verifiers``) writes the
data, the replay table and the reward spec, plus a thin file per consumer (verl's tools.yaml,
a TRL tools module, a verifiers environment package) that imports this package:

    ReplayTools.load(path)          answers a tool call from <stem>.replay.parquet, never live
    RolloutReward(spec_path)        the rubric tree of <stem>.reward_spec.json as a reward
    completion_text(completion)     what counts as a rollout's final answer
    exporters.rl_env.verl           BackchainReplayTool, verl's BaseTool (imports verl)
    exporters.rl_env.verifiers      ReplayToolEnv and the rubric (imports verifiers)
    exporters.rl_env.trl            ReplaySession, the per-rollout state of a TRL environment

Why a package shipped with backchain rather than code written beside the data: verl builds a
tool from a dotted class name (``get_tool_class`` imports it by module name), so the class must
be importable wherever verl runs, and the reward must be the very code that filtered the rows
(``validators.Reward``), which needs backchain installed in the trainer's environment anyway
(as verl's ``compute_score`` entry, validators/verl_reward.py, already does). One copy, typed and
tested here, instead of a copy per export; the written files hold only what is per export (tool
signatures, docstrings, file names). Nothing here imports flows/, starts a tool or calls a live
API; the judge is called only when the reward spec (or the caller) configures one.
"""

from ._replay import MISS_PREFIX, ReplayTools, ToolAnswer
from ._reward import RolloutReward, completion_text, leaf_score, score_of

__all__ = [
    "MISS_PREFIX",
    "ReplayTools",
    "RolloutReward",
    "ToolAnswer",
    "completion_text",
    "leaf_score",
    "score_of",
]
