"""The rubric tree as an RL reward: verl's `compute_score` and a TRL reward function.

Both run `evaluate`, the code that filtered the rows, on the example with the
rollout's text as the assistant's final message:

- completion leaves (`COMPLETION_CHECKS`: the answer checker) judge the rollout;
- construction checks (provenance, leakage, schema, ...) are re-run on the
  row's example when the row carries it (``example``: its JSON) and give the
  filter's verdict, since a rollout cannot change the task or the recorded
  trace; replay, which needs live tools, and every construction check of a
  row without its example, are taken as decided when the row was accepted;
- judge leaves are asked when a judge is configured (the reward spec's
  ``judge``, or ``judge_url``/``judge_model`` in extra_info, or
  $BACKCHAIN_JUDGE_URL/$BACKCHAIN_JUDGE_MODEL) and see the tools, the request,
  the recorded calls and the rollout's answer. They need the row's example;
  without a judge they are skipped, exactly as in a run without one.

The reward is the tree's score: 0 when a critical leaf fails (the rollout did
not state the answer), the weighted mean otherwise. An evaluator failure (the
judge could not answer) is never 0: `trl_reward` gives None for that row (TRL
skips it) and `compute_score` raises ModelError (verl cannot skip a row).

Where the spec comes from: ``extra_info["reward_spec"]`` (verl) or the
``reward_spec`` column (TRL), a path to reward_spec.json; else
$BACKCHAIN_REWARD_SPEC; else the default rubric with no judge.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from generators import ReplyCache
from schemas import (
    Answer,
    AnswerPointer,
    ConfigError,
    Example,
    Judgement,
    JudgeSettings,
    ModelError,
    Normaliser,
    RewardSpec,
    Task,
    Trace,
)

from ._checks import CHECKS, COMPLETION_CHECKS, CheckContext
from ._judge import Judge
from ._rubric import evaluate, load_rubric

SPEC_ENV = "BACKCHAIN_REWARD_SPEC"
_DECIDED = "decided when the row was accepted"


def load_reward_spec(path: str | Path) -> RewardSpec:
    """A reward_spec.json; ConfigError names the file and the first problem.

    verl calls the reward once per rollout: a spec is parsed once per file
    version (path, modification time and size), not once per call.
    """
    resolved = Path(path).resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise ConfigError(f"reward spec {resolved}: cannot read ({exc.strerror}); check {SPEC_ENV}") from exc
    return _load_spec(str(resolved), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_spec(path: str, _mtime_ns: int, _size: int) -> RewardSpec:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"reward spec {path}: cannot read ({exc.strerror}); check {SPEC_ENV}") from exc
    except ValueError as exc:
        raise ConfigError(f"reward spec {path}: not valid JSON: {exc}") from exc
    try:
        return RewardSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"reward spec {path}: {where}: {str(first['msg']).removeprefix('Value error, ')}") from exc


def _default_spec() -> RewardSpec:
    return RewardSpec.of(load_rubric("default"))


@dataclass(frozen=True)
class Rollout:
    """One row to score: its ground truth, the rollout's text, and the row's example if it has one."""

    ground_truth: Mapping[str, Any]
    completion: str
    example: Example | None = None


def _as_mapping(value: Any, what: str) -> Mapping[str, Any]:
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


def _example_of(value: Any) -> Example | None:
    if value is None:
        return None
    try:
        return Example.model_validate(_as_mapping(value, "the row's example"))
    except ValidationError as exc:
        raise ConfigError(f"the row's example is not an Example record: {exc.errors()[0]['msg']}") from exc


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def _completion_text(completion: Any) -> str:
    """A completion as text: a string, or the last assistant message with text of a conversational one."""
    if isinstance(completion, str):
        return completion
    messages = [completion] if isinstance(completion, Mapping) else list(completion or [])
    if not all(isinstance(m, Mapping) for m in messages):
        raise ConfigError(f"a completion must be text or a list of messages (got {type(completion).__name__})")
    texts = [_text_of(m.get("content")) for m in messages if m.get("role", "assistant") == "assistant"]
    return next((t for t in reversed(texts) if t.strip()), "")


def _rollout_example(rollout: Rollout) -> Example:
    """The example the tree is evaluated on: the row's, with the rollout as the final message."""
    if rollout.example is not None:
        task = rollout.example.task.model_copy(update={"final_message": rollout.completion})
        return rollout.example.model_copy(update={"task": task})
    # Only the ground truth: enough for the answer checker, the one leaf that reads the rollout.
    gt = rollout.ground_truth
    answer = None
    if gt.get("answer") is not None:
        normaliser = Normaliser.model_validate(gt.get("normaliser") or {})
        # One expected value per answer pointer, as Answer.values() gives them.
        values = list(gt.get("answer_values") or [gt["answer"]])
        pointers = [AnswerPointer(step=0, pointer="")] * len(values)
        value = values if len(values) > 1 else values[0]
        answer = Answer(pointers=pointers, value=value, normaliser=normaliser)
    task = Task(kind=gt.get("kind") or ("no_call" if answer is None else "single"),
                user_request="(the request is not in the row)", user_values={}, answer=answer,
                final_message=rollout.completion, writer="template")
    return Example(task=task, trace=Trace(steps=[]), tools=[])


class Reward:
    """A reward spec made callable: `compute_score` for verl, the instance itself for TRL.

    ``judge``: the settings to ask judge leaves with (default: the spec's; None
    with a spec without one: judge leaves are skipped). ``cache``: a reply
    cache for the judge's requests (the store's, or any `ReplyCache`).
    """

    def __init__(self, spec: RewardSpec, *, judge: JudgeSettings | None = None,
                 cache: ReplyCache | None = None) -> None:
        self.spec = spec
        self.judge_settings = judge if judge is not None else spec.judge
        self.cache = cache
        self.__name__ = f"backchain_{spec.rubric.id}"  # TRL logs reward functions by name

    def _context(self, rollout: Rollout) -> CheckContext:
        replay_only = {"replay": f"{_DECIDED} (replay needs live tools)"}
        if rollout.example is not None:
            return CheckContext(decided=replay_only)
        construction = {name: f"{_DECIDED} (the row has no example)" for name in CHECKS if name not in COMPLETION_CHECKS}
        return CheckContext(decided=construction)

    async def judge_rollouts(self, rollouts: Sequence[Rollout]) -> list[Judgement]:
        """The filter's judgement of each rollout, concurrently, one judge for the batch."""
        judge = (Judge.connect(self.judge_settings, self.cache, shots=self.spec.rubric.judge_shots())
                 if self.judge_settings else None)
        if judge is not None and any(r.example is None for r in rollouts) and _has_questions(self.spec):
            await judge.aclose()
            raise ConfigError(
                "the reward spec has judge leaves and a judge is configured, but a row has no example: "
                "export the rows with their example (extra_info['example'] / an 'example' column), "
                "or leave the judge out to skip judge leaves"
            )
        try:
            return list(await asyncio.gather(*(
                evaluate(self.spec.rubric, _rollout_example(r), self._context(r), judge) for r in rollouts
            )))
        finally:
            if judge is not None:
                await judge.aclose()

    def compute_score(self, data_source: str, solution_str: str, ground_truth: Any,
                      extra_info: Mapping[str, Any] | None = None) -> float:
        """verl's reward: the tree's score for one rollout; ModelError on a judge failure."""
        info = extra_info or {}
        rollout = Rollout(_as_mapping(ground_truth, "ground_truth"), solution_str, _example_of(info.get("example")))
        (judgement,) = asyncio.run(self.judge_rollouts([rollout]))
        if judgement.status == "judge_error" or judgement.score is None:
            raise ModelError(f"reward for {data_source} row {info.get('index', '?')}: judge_error: {judgement.reason}")
        return judgement.score

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        """TRL's reward: one score per completion, None where the judge could not answer."""
        truths = columns.get("ground_truth")
        if truths is None:
            raise ConfigError("the dataset has no 'ground_truth' column for the reward to check against")
        examples = columns.get("example") or [None] * len(completions)
        rollouts = [
            Rollout(_as_mapping(gt, "ground_truth"), _completion_text(c), _example_of(ex))
            for gt, c, ex in zip(truths, completions, examples, strict=True)
        ]
        judgements = asyncio.run(self.judge_rollouts(rollouts))
        return [None if j.status == "judge_error" else j.score for j in judgements]


def _has_questions(spec: RewardSpec) -> bool:
    stack = [spec.rubric.root]
    while stack:
        node = stack.pop()
        if node.question is not None:
            return True
        stack.extend(node.children)
    return False


def _judge_override(info: Mapping[str, Any], spec: RewardSpec) -> JudgeSettings | None:
    """Judge settings from extra_info or the environment, over the spec's."""
    url = info.get("judge_url") or os.environ.get("BACKCHAIN_JUDGE_URL")
    model = info.get("judge_model") or os.environ.get("BACKCHAIN_JUDGE_MODEL")
    if not url and not model:
        return spec.judge
    if not url or not model:
        raise ConfigError("judge_url and judge_model go together (or $BACKCHAIN_JUDGE_URL and $BACKCHAIN_JUDGE_MODEL)")
    urls = [u.strip() for u in str(url).split(",") if u.strip()]
    base = spec.judge.model_dump() if spec.judge else {}
    return JudgeSettings.model_validate({**base, "urls": urls, "model": model})


def reward_from(info: Mapping[str, Any] | None = None) -> Reward:
    """The reward a row asks for: its spec path, else $BACKCHAIN_REWARD_SPEC, else the default rubric."""
    info = info or {}
    path = info.get("reward_spec") or os.environ.get(SPEC_ENV)
    spec = load_reward_spec(path) if path else _default_spec()
    return Reward(spec, judge=_judge_override(info, spec))


def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                  extra_info: Mapping[str, Any] | None = None) -> float:
    """verl's ``custom_reward_function``: the rubric tree's score for one rollout.

    Wire it with ``custom_reward_function.path=<backchain>/validators/_reward.py``
    and ``custom_reward_function.name=compute_score``.
    """
    return reward_from(extra_info).compute_score(data_source, solution_str, ground_truth, extra_info)


def trl_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """A TRL GRPOTrainer reward function: the tree's score per completion, None on judge failure.

    Columns used: ``ground_truth`` (required), ``example`` (for judge leaves),
    ``reward_spec`` (a path; else $BACKCHAIN_REWARD_SPEC).
    """
    specs = columns.get("reward_spec")
    info = {"reward_spec": specs[0]} if specs else {}
    return reward_from(info)(prompts, completions, **columns)
