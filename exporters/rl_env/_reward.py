"""The reward a trainer computes for a rollout: the rubric tree of the export's reward spec.

    reward = RolloutReward("out/train.reward_spec.json")
    reward.score(ground_truth, completion, example)          -> 1.0 / 0.0 / a weighted score
    await reward.ajudge([(ground_truth, completion, example)]) -> [Judgement] (every leaf)

It is ``validators.Reward``, the code verl's ``compute_score`` and TRL's ``trl_reward`` run, on
the exported spec (``<stem>.reward_spec.json``): the tree that filtered the rows, with the
rollout's final answer as the assistant's final message. Critical deterministic leaves gate (a
rollout that does not state the answer scores 0), judge leaves are asked when the spec (or
``judge=``) names a judge and weigh the rest; construction checks are re-run on the row's
example, which a rollout cannot change. A judge that cannot answer is never a 0: ``score``
gives None (``ajudge`` the judgement with status ``judge_error``), and the caller decides
(TRL skips the row; verl's tool raises, as ``compute_score`` does).

What counts as the final answer of a rollout (``completion_text``):

* a list of messages (TRL's conversational completions, verifiers' messages, verl's
  ``AgentData.messages``), dicts or objects with ``role`` and ``content``: the last assistant
  message with text; tool messages and tool calls are not the answer;
* a string (verl's ``solution_str``, the decoded response of a whole multi-turn rollout): the
  text after the last tool response (``</tool_response>``, the Hermes format of verl's tool
  agent loop and Qwen's templates), with any ``<tool_call>...</tool_call>`` left in it removed;
  a tool's output is never read as the model's answer.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas import ConfigError, Example, Judgement, JudgeSettings, RewardSpec

if TYPE_CHECKING:
    from validators import Reward

Row = tuple[Any, Any, Any]
"""(ground_truth: JSON text or mapping, completion, example: JSON text, mapping, Example or None)."""

_TOOL_CALL = re.compile(r"<tool_call>.*?(</tool_call>|$)", re.DOTALL)
_AFTER_TOOLS = ("</tool_response>", "</tool_call>")


def completion_text(completion: Any) -> str:
    """The final answer of a rollout (see the module docstring)."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        for marker in _AFTER_TOOLS:
            if marker in completion:
                completion = completion.rsplit(marker, 1)[1]
                break
        return _TOOL_CALL.sub("", completion).strip()
    messages = [completion] if isinstance(completion, Mapping) or hasattr(completion, "role") else list(completion)
    final = ""
    for message in messages:
        role = _get(message, "role")
        if role not in (None, "assistant"):
            continue
        text = _content_text(_get(message, "content"))
        if text.strip():
            final = text
    return final


def _get(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, Mapping) else getattr(message, key, None)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(str(_get(p, "text") or "") for p in content if _get(p, "type") == "text")
    return ""


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{what} is not valid JSON: {exc}") from exc
        if isinstance(parsed, Mapping):
            return parsed
    raise ConfigError(f"{what} must be a JSON object (got {type(value).__name__})")


def _example(value: Any) -> Example | None:
    if value is None or isinstance(value, Example):
        return value
    if isinstance(value, (str, bytes)):
        return Example.model_validate_json(value)
    return Example.model_validate(_mapping(value, "the row's example"))


class RolloutReward:
    """The rubric tree of a reward spec as a rollout's reward (see the module docstring)."""

    def __init__(self, spec: str | Path | RewardSpec | None = None, *, judge: JudgeSettings | None = None) -> None:
        from validators import Reward, load_reward_spec, reward_from

        if isinstance(spec, RewardSpec):
            self._reward: Reward = Reward(spec, judge=judge)
        elif spec is not None:
            self._reward = Reward(load_reward_spec(spec), judge=judge)
        else:  # $BACKCHAIN_REWARD_SPEC, else the default rubric (validators.reward_from)
            base = reward_from()
            self._reward = Reward(base.spec, judge=judge) if judge is not None else base
        self.spec = self._reward.spec
        self.judge_settings = self._reward.judge_settings

    @property
    def judge_leaves(self) -> list[str]:
        """Ids of the tree's judge (question) leaves, in tree order; asked only with a judge."""
        found: list[str] = []
        stack = [self.spec.rubric.root]
        while stack:
            node = stack.pop(0)
            if node.question is not None:
                found.append(node.id)
            stack[:0] = list(node.children)
        return found

    async def ajudge(self, rows: Sequence[Row]) -> list[Judgement]:
        """The tree's judgement of each rollout (every leaf), concurrently."""
        from validators import Rollout

        rollouts = [
            Rollout(_mapping(truth, "ground_truth"), completion_text(completion), _example(example))
            for truth, completion, example in rows
        ]
        return await self._reward.judge_rollouts(rollouts)

    def judge(self, rows: Sequence[Row]) -> list[Judgement]:
        """``ajudge`` for code that is not in an event loop."""
        return asyncio.run(self.ajudge(rows))

    def score(self, ground_truth: Any, completion: Any, example: Any = None) -> float | None:
        """One rollout's reward; None when the judge could not answer (never a 0 for that)."""
        (judgement,) = self.judge([(ground_truth, completion, example)])
        return score_of(judgement)

    def scores(self, rows: Sequence[Row]) -> list[float | None]:
        return [score_of(j) for j in self.judge(rows)]


def score_of(judgement: Judgement) -> float | None:
    """A judgement's reward: its score, None for a judge error."""
    return None if judgement.status == "judge_error" else judgement.score


def leaf_score(judgement: Judgement, node_id: str) -> float:
    """One leaf's score in a judgement (0 when it was skipped or failed to run)."""
    for leaf in judgement.leaves:
        if leaf.node_id == node_id:
            return float(leaf.score) if leaf.score is not None and not leaf.skipped else 0.0
    return 0.0
