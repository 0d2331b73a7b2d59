"""The rubric tree as an RL reward: compute_score (verl) and trl_reward (TRL) give the filter's
score on the rows the filter accepted, judge leaves included, and never 0 for a judge failure.

Rows here are shaped as the verl and trl-grpo exports write them (exporters/_verl.py):
``ground_truth`` is JSON text of {kind, answer, answer_values, normaliser, expected_calls} and
``extra_info.example`` / the ``example`` column is the Example record as JSON text.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from generators import ChatClient, Endpoint, LocalModelServer
from schemas import ConfigError, Example, JudgeSettings, ModelError, RewardSpec
from validators import Judge, Reward, compute_score, evaluate, load_reward_spec, load_rubric, trl_reward

from ._examples import context, example
from .conftest import DictCache, SmallVersion


def ground_truth(ex: Example) -> str:
    answer = ex.task.answer
    return json.dumps({
        "kind": ex.task.kind,
        "answer": answer.value if answer else None,
        "answer_values": answer.values() if answer else [],
        "normaliser": answer.normaliser.model_dump(mode="json") if answer else None,
        "expected_calls": [{"name": s.tool, "arguments": s.arguments} for s in ex.trace.steps],
    }, sort_keys=True)


def verl_row(ex: Example, index: int, **extra: Any) -> dict[str, Any]:
    return {"data_source": "backchain/small", "ground_truth": ground_truth(ex),
            "extra_info": {"split": "train", "index": index, "example_id": ex.example_id,
                           "example": ex.model_dump_json(), **extra}}


def test_without_a_judge_the_reward_is_the_filter_score_on_every_accepted_row(small_version: SmallVersion) -> None:
    rows = small_version.examples
    assert len(rows) >= 3
    for i, ex in enumerate(rows):
        row = verl_row(ex, i)
        stored = small_version.scores[ex.example_id]
        assert stored is not None
        # The row's own final message is a rollout that states the answer: the filter's score.
        assert compute_score(row["data_source"], ex.task.final_message, row["ground_truth"], row["extra_info"]) == stored
        # Without the example in the row, the construction checks count as decided: the same score.
        assert compute_score(row["data_source"], ex.task.final_message, row["ground_truth"], {"index": i}) == stored
        # A rollout that does not state the answer fails the critical answer checker.
        if ex.task.answer is not None:
            assert compute_score(row["data_source"], "I could not find that.", row["ground_truth"], row["extra_info"]) == 0.0
    completions = [ex.task.final_message for ex in rows]
    columns = {"ground_truth": [ground_truth(ex) for ex in rows], "example": [ex.model_dump_json() for ex in rows]}
    assert trl_reward([None] * len(rows), completions, **columns) == [small_version.scores[e.example_id] for e in rows]
    conversational = [[{"role": "assistant", "content": c}] for c in completions]
    assert trl_reward([None] * len(rows), conversational, **columns) == [small_version.scores[e.example_id] for e in rows]


def test_the_reward_spec_is_read_from_extra_info_or_the_environment(
        small_version: SmallVersion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = small_version.examples[0]
    row = verl_row(ex, 0)
    # A tree whose only leaf is the answer checker, non-critical, weight 1: the score is 1 or 0.
    rubric_path = tmp_path / "answer-only.yaml"
    rubric_path.write_text("id: answer-only\nroot:\n  id: root\n  children:\n"
                           "    - {id: stated, check: answer_stated}\n    - {id: other, check: writer}\n")
    spec = RewardSpec.of(load_rubric(rubric_path), dataset="small", version=1)
    spec_path = tmp_path / "rl.reward_spec.json"
    spec_path.write_text(spec.model_dump_json())
    assert load_reward_spec(spec_path) == spec
    wrong = "No idea."
    assert compute_score("d", wrong, row["ground_truth"], {**row["extra_info"], "reward_spec": str(spec_path)}) == 0.5
    monkeypatch.setenv("BACKCHAIN_REWARD_SPEC", str(spec_path))
    assert compute_score("d", wrong, row["ground_truth"], row["extra_info"]) == 0.5
    assert trl_reward([None], [wrong], ground_truth=[row["ground_truth"]]) == [0.5]
    # A spec whose tree was edited after it was written is refused.
    edited = json.loads(spec_path.read_text())
    edited["rubric"]["min_score"] = 0.9
    spec_path.write_text(json.dumps(edited))
    with pytest.raises(ConfigError, match="rubric_hash .* does not match the tree"):
        load_reward_spec(spec_path)


def test_the_verl_entry_file_loads_by_path() -> None:
    path = Path(__file__).resolve().parents[2] / "validators" / "verl_reward.py"
    spec = importlib.util.spec_from_file_location("custom_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score is compute_score


def test_with_a_judge_the_reward_asks_the_filters_own_requests(llama_endpoint: Endpoint) -> None:
    """Filter and reward share a reply cache: equal scores, and the reward sends no new request."""
    examples = [example(), example(request="Which time zone is the capital of France in?")]
    rubric = load_rubric("default")
    cache = DictCache()

    # Keyed by URL as a served judge is (the bundled server's own scope names its model file).
    served = Endpoint(llama_endpoint.url, llama_endpoint.model)

    async def filter_scores() -> list[float | None]:
        async with ChatClient(served, cache=cache) as client:
            judge = Judge(client, min_coverage=0.5, shots=rubric.judge_shots())  # as a run builds it
            return [(await evaluate(rubric, ex, context(ex), judge)).score for ex in examples]

    filtered = asyncio.run(filter_scores())
    asked = len(cache.replies)
    assert asked >= 6 and all(s is not None for s in filtered)
    settings = JudgeSettings(urls=[llama_endpoint.url], model=llama_endpoint.model, min_coverage=0.5)
    reward = Reward(RewardSpec.of(rubric, settings), cache=cache)
    rows = [verl_row(ex, i) for i, ex in enumerate(examples)]
    got = [reward.compute_score(r["data_source"], ex.task.final_message, r["ground_truth"], r["extra_info"])
           for r, ex in zip(rows, examples)]
    assert got == filtered
    batch = reward([None, None], [ex.task.final_message for ex in examples],
                   ground_truth=[r["ground_truth"] for r in rows], example=[ex.model_dump_json() for ex in examples])
    assert batch == filtered
    assert len(cache.replies) == asked  # every judge request was one the filter had made


def test_a_judge_failure_is_none_for_trl_and_an_error_for_verl_never_zero() -> None:
    server = LocalModelServer("tiny")
    endpoint = server.start()
    server.stop()
    ex = example()
    spec = RewardSpec.of(load_rubric("default"), JudgeSettings(urls=[endpoint.url], model=endpoint.model))
    reward = Reward(spec)
    row = verl_row(ex, 0)
    with pytest.raises(ModelError, match=r"judge_error: \w+: model endpoint"):
        reward.compute_score(row["data_source"], ex.task.final_message, row["ground_truth"], row["extra_info"])
    got = reward([None], [ex.task.final_message], ground_truth=[row["ground_truth"]], example=[ex.model_dump_json()])
    assert got == [None]


def test_judge_leaves_without_the_rows_example_are_a_config_error() -> None:
    spec = RewardSpec.of(load_rubric("default"), JudgeSettings(urls=["http://127.0.0.1:9/v1"], model="m"))
    with pytest.raises(ConfigError, match="a row has no example"):
        Reward(spec)([None], ["x"], ground_truth=[ground_truth(example())])


def test_reward_specs_refuse_bad_judge_settings() -> None:
    rubric = load_rubric("default")
    with pytest.raises(ValueError, match="votes must be odd"):
        JudgeSettings(urls=["http://a/v1"], model="m", votes=2)
    with pytest.raises(ValueError, match="must start with http"):
        JudgeSettings(urls=["a:8000"], model="m")
    with pytest.raises(ValueError, match="does not match the tree"):
        RewardSpec(rubric=rubric, rubric_hash="0" * 32)
