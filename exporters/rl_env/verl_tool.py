"""verl's tool agent loop, answered from the replay table: ``BackchainReplayTool`` and the reward.

``backchain export REF --format verl --multi-turn --out train.parquet`` writes ``train.tools.yaml``
with one entry per recorded tool::

    tools:
      - class_name: exporters.rl_env.verl_tool.BackchainReplayTool
        config: {type: native, tool: country_info, toolset: builtin,
                 replay: /abs/train.replay.parquet, reward_spec: /abs/train.reward_spec.json,
                 data_files: [/abs/train.parquet]}
        tool_schema: {type: function, function: {name, description, parameters}}

and verl runs it with ``actor_rollout_ref.rollout.multi_turn.tool_config_path=train.tools.yaml``
(``verl.tools.tool_registry.initialize_tools_from_config`` builds one instance per entry,
``tool_cls(config=..., tool_schema=OpenAIFunctionToolSchema)``).

The contract, from verl 0.9.1's own code (verl/tools/base_tool.py, verl/experimental/agent_loop/
tool_agent_loop.py ``_call_tool``): per call the loop does ``instance_id, _ = await
tool.create(create_kwargs=row.extra_info.tools_kwargs[name].create_kwargs)``, then ``response,
reward, metrics = await tool.execute(instance_id, arguments, agent_data=agent_data)``, then
``await tool.release(instance_id)``; the tool's text goes back to the model as a tool message.
So ``execute`` answers the recorded call (the miss policy: an error text, never a live call),
with a step reward of 0.0; ``calc_reward(instance_id, solution_str=... | messages=... |
agent_data=...)`` scores the rollout with the rubric tree of the reward spec
(``RolloutReward``, the checker ``validators.compute_score`` runs) and raises ModelError where
compute_score does (a judge that could not answer).

``compute_score`` here is verl's ``custom_reward_function`` for multi-turn rows: the same
rubric reward, on the final answer of the decoded rollout (``completion_text``: the text after
the last tool response), so a tool's output repeated by the loop is never read as the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from verl.tools.base_tool import BaseTool
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

from schemas import ConfigError, ModelError

from ._replay import ReplayTools
from ._reward import RolloutReward, completion_text, score_of


class BackchainReplayTool(BaseTool):
    """One recorded tool for verl: answers from the replay table, rewards with the rubric tree."""

    def __init__(self, config: dict[str, Any], tool_schema: OpenAIFunctionToolSchema) -> None:
        super().__init__(config, tool_schema)
        self.tool = str(config.get("tool") or self.name)
        self.toolset: str | None = config.get("toolset")
        self.replay_path = _path(config, "replay")
        self.spec_path = _path(config, "reward_spec") if config.get("reward_spec") else None
        self.data_files = tuple(str(Path(p)) for p in config.get("data_files") or [])
        self._instances: dict[str, dict[str, Any]] = {}
        self._replay: ReplayTools | None = None

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, ToolResponse]:
        """A call's instance; ``create_kwargs`` names the row (``example_id``)."""
        instance_id = instance_id or uuid4().hex
        create_kwargs = dict(kwargs.get("create_kwargs") or {})
        create_kwargs.update({k: v for k, v in kwargs.items() if k != "create_kwargs"})
        self._instances[instance_id] = {**create_kwargs, "calls": []}
        return instance_id, ToolResponse()

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
                      ) -> tuple[ToolResponse, float, dict[str, Any]]:
        """The recorded output of this call (or the miss text), a step reward of 0.0, metrics."""
        if self._replay is None:
            self._replay = ReplayTools.load(self.replay_path)
        answer = self._replay.answer(self.tool, parameters, toolset=self.toolset)
        state = self._instances.setdefault(instance_id, {"calls": []})
        state["calls"].append({"arguments": dict(parameters), "source": answer.source})
        return ToolResponse(text=answer.text), 0.0, {"replay_source": answer.source}

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """The rubric tree's reward for the rollout's final answer.

        The answer: ``solution_str`` (the decoded rollout), else ``messages`` or
        ``agent_data.messages`` (the loop's conversation). The row: ``ground_truth`` and
        ``example`` given here or in ``create_kwargs``, else looked up by the instance's
        ``example_id`` in the exported data files.
        """
        state = self._instances.get(instance_id, {})
        completion: Any = kwargs.get("solution_str")
        if completion is None:
            completion = kwargs.get("messages")
        if completion is None and kwargs.get("agent_data") is not None:
            completion = getattr(kwargs["agent_data"], "messages", None)
        truth = kwargs.get("ground_truth") or state.get("ground_truth")
        example = kwargs.get("example") or state.get("example")
        if truth is None:
            example_id = kwargs.get("example_id") or state.get("example_id")
            if not example_id:
                raise ConfigError(f"{self.name}: calc_reward needs the row: create the instance with "
                                  "create_kwargs={'example_id': ...} (the exported tools_kwargs do)")
            truth, example = _rows(self.data_files).get(example_id, (None, None))
            if truth is None:
                raise ConfigError(f"{self.name}: example {example_id} is in none of {list(self.data_files)}")
        reward = _reward(self.spec_path)
        (judgement,) = await reward.ajudge([(truth, completion, example)])
        score = score_of(judgement)
        if score is None:
            raise ModelError(f"reward for example {state.get('example_id', '?')}: judge_error: {judgement.reason}")
        return score

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        self._instances.pop(instance_id, None)


def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                  extra_info: Mapping[str, Any] | None = None, **kwargs: Any) -> float:
    """verl's ``custom_reward_function`` for multi-turn rows: ``validators.compute_score`` on the
    rollout's final answer (the text after its last tool response)."""
    from validators import compute_score as rubric_score

    return rubric_score(data_source, completion_text(solution_str), ground_truth, extra_info)


def _path(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if not value:
        raise ConfigError(f"the tool config has no {key!r}: use the tools.yaml backchain export wrote")
    return str(Path(str(value)))


@functools.lru_cache(maxsize=4)
def _reward(spec_path: str | None) -> RolloutReward:
    return RolloutReward(spec_path)


@functools.lru_cache(maxsize=4)
def _rows(data_files: Sequence[str]) -> dict[str, tuple[str, str]]:
    """example id -> (ground truth JSON, example JSON) over the exported verl files."""
    import json

    import pyarrow.parquet as pq

    rows: dict[str, tuple[str, str]] = {}
    for path in data_files:
        if path.endswith(".jsonl"):
            with open(path, encoding="utf-8") as lines:
                found = [json.loads(line) for line in lines if line.strip()]
            pairs = [(r["reward_model"], r["extra_info"]) for r in found]
        else:
            table = pq.read_table(path, columns=["reward_model", "extra_info"])
            pairs = list(zip(table.column("reward_model").to_pylist(), table.column("extra_info").to_pylist(),
                             strict=True))
        for model, info in pairs:
            rows[info["example_id"]] = (model["ground_truth"], info["example"])
    return rows
