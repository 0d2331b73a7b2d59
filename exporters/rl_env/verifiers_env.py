"""verifiers' tool environment over an export: ``ReplayToolEnv`` and the rubric-tree rubric.

``backchain export REF --format verifiers --out envs/geo_env`` writes an environment package
whose ``load_environment(**kwargs)`` returns ``load_replay_environment(<its directory>, ...)``:

    ReplayToolEnv     verifiers' StatefulToolEnv (verifiers.legacy, ``vf.StatefulToolEnv``);
                      each row offers its own tools (``info["tool_defs"]``, the exported JSON
                      Schemas unchanged) and every call is answered from the replay table
                      (``call_tool``): the recorded output, or the miss policy's error text;
                      ``update_tool_args`` logs each call in the rollout's state
                      (``state["backchain_calls"]``) and passes the arguments on unchanged
    replay_rubric     ``vf.Rubric`` whose reward (weight 1) is the rubric tree of the export's
                      reward spec (``rubric_tree``: critical checks gate, judge leaves weigh),
                      with the answer checker alone (``answer_checker``) and, when a judge is
                      configured, every judge leaf (``judge_<leaf id>``) as weight-0 metrics

Why the tree is one reward function rather than its leaves summed: verifiers adds its reward
functions with weights, and a weighted sum cannot gate (a rollout that does not state the
answer must score 0 whatever the judge thinks of its phrasing). The leaves are still reported,
per rollout, as metrics.

Checked against verifiers 0.3.1 (``verifiers/legacy``: envs/tool_env.py ``ToolEnv``,
envs/stateful_tool_env.py ``StatefulToolEnv``, rubrics/rubric.py ``Rubric``,
utils/env_utils.py ``load_environment``); 0.4.0 removed this stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import verifiers as vf  # type: ignore[import-untyped]  # verifiers ships no py.typed
from datasets import Dataset
from datasets.table import InMemoryTable

from schemas import ConfigError, JudgeSettings

from ._replay import ReplayTools
from ._reward import RolloutReward, completion_text, leaf_score, score_of

MANIFEST = "backchain.json"
"""The package's own index: the data files per split, the replay table, the reward spec."""


class ReplayToolEnv(vf.StatefulToolEnv):  # type: ignore[misc]
    """A StatefulToolEnv whose tools are an export's recorded calls (see the module docstring)."""

    def __init__(self, replay: ReplayTools, **kwargs: Any) -> None:
        super().__init__(tools=None, **kwargs)
        self.replay = replay

    def update_tool_args(self, tool_name: str, tool_args: dict[str, Any], messages: Any, state: Any,
                         **kwargs: Any) -> dict[str, Any]:
        state.setdefault("backchain_calls", []).append({"tool": tool_name, "arguments": dict(tool_args)})
        return tool_args

    async def call_tool(self, tool_name: str, tool_args: dict[str, Any], tool_call_id: str,
                        **kwargs: Any) -> Any:
        answer = self.replay.answer(tool_name, tool_args)
        return vf.ToolMessage(role="tool", content=answer.text, tool_call_id=tool_call_id)


def replay_rubric(reward: RolloutReward, *, with_leaves: bool) -> Any:
    """The rubric: ``rubric_tree`` (weight 1), ``answer_checker`` and judge leaves (weight 0)."""
    from exporters._grpo_reward import score as answer_score

    async def rubric_tree(completion: Any, state: Any, ground_truth: Any = None, example: Any = None,
                          **kwargs: Any) -> float:
        """The rubric tree of the export's reward spec (the rows' own filter)."""
        (judgement,) = await reward.ajudge([(ground_truth, completion, example)])
        state["backchain_judgement"] = judgement
        score = score_of(judgement)
        if score is None:  # verifiers turns an exception into 0.0 and logs it
            raise ConfigError(f"the judge could not score this rollout: {judgement.reason}")
        return score

    def answer_checker(completion: Any, ground_truth: Any = None, kind: Any = None, **kwargs: Any) -> float:
        """backchain's answer checker alone (the reward.py of a trl-grpo export)."""
        final = [{"role": "assistant", "content": completion_text(completion)}]
        called = [{"role": "tool", "content": ""}] if _called(completion) else []
        return answer_score(called + final, ground_truth, kind) or 0.0

    rubric = vf.Rubric(funcs=[rubric_tree], weights=[1.0])
    rubric.add_metric(answer_checker)
    if with_leaves:
        for leaf in reward.judge_leaves:
            rubric.add_metric(_leaf_metric(leaf))
    return rubric


def _leaf_metric(node_id: str) -> Any:
    async def leaf(state: Any, **kwargs: Any) -> float:
        judgement = state.get("backchain_judgement")
        return leaf_score(judgement, node_id) if judgement is not None else 0.0

    leaf.__name__ = f"judge_{node_id}"
    return leaf


def _called(completion: Any) -> bool:
    if isinstance(completion, str):
        return "<tool_call>" in completion
    for message in completion or []:
        get = message.get if isinstance(message, Mapping) else lambda k, m=message: getattr(m, k, None)
        if get("tool_calls") or get("role") == "tool":
            return True
    return False


def load_replay_environment(directory: str | Path, *, split: str | None = None, max_turns: int = 10,
                            judge_url: str | None = None, judge_model: str | None = None,
                            **kwargs: Any) -> Any:
    """The environment of an exported package directory (its ``load_environment``).

    ``split``: which data file is the dataset (default: ``train`` if there is one, else the
    first); the others, if any, are not loaded. ``judge_url``/``judge_model``: a judge for the
    tree's judge leaves, over the reward spec's (none: judge leaves are skipped, as in a run
    without one). Other keyword arguments go to ``vf.StatefulToolEnv``.
    """
    root = Path(directory)
    index = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    files: dict[str, str] = index["data_files"]
    if not files:
        raise ConfigError(f"{root / MANIFEST} lists no data files")
    chosen = split if split is not None else ("train" if "train" in files else next(iter(files)))
    if chosen not in files:
        raise ConfigError(f"split {chosen!r} is not in this export; it has {', '.join(files)}")
    judge = None
    if judge_url or judge_model:
        if not (judge_url and judge_model):
            raise ConfigError("judge_url and judge_model go together")
        judge = JudgeSettings.model_validate({"urls": [u.strip() for u in judge_url.split(",")], "model": judge_model})
    reward = RolloutReward(root / index["reward_spec"], judge=judge)
    dataset = _dataset(root / files[chosen])
    return ReplayToolEnv(
        ReplayTools.load(root / index["replay"]), dataset=dataset, max_turns=max_turns,
        rubric=replay_rubric(reward, with_leaves=reward.judge_settings is not None), **kwargs,
    )


def _dataset(path: Path) -> Dataset:
    """The package's rows, read into memory (no datasets cache written beside the package)."""
    return Dataset(InMemoryTable(pq.read_table(path)))
