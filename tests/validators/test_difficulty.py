"""Difficulty: a real solver model in the replay simulator, scored by the answer checker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flows import Reporter, RunConfig, run_pipeline
from generators import ChatClient, Endpoint, ReplaySimulator, Solver
from generators._solver import Attempt
from schemas import Answer, AnswerPointer, Example, Normaliser, Observation, Task, Trace
from store import Store
from validators import attempt_reward, measure_difficulty


def _example(kind: str = "single", value: object = "Europe/Paris", normaliser: str = "casefold") -> Example:
    from tests.validators._examples import example  # the hand-built France -> timezone chain

    base = example()
    if kind == "no_call":
        task = Task(kind="no_call", user_request="What is 2 plus 40?", user_values={"a": 2, "b": 40},
                    final_message="42.", writer="template")
        return Example(task=task, trace=Trace(steps=[]), tools=base.tools)
    answer = Answer(pointers=[AnswerPointer(step=1, pointer="/timezone")], value=value,
                    normaliser=Normaliser(kind=normaliser))
    return base.model_copy(update={"task": base.task.model_copy(update={"answer": answer})})


@pytest.mark.parametrize(
    ("final", "reward"),
    [
        ("Paris is in the Europe/Paris time zone.", 1.0),
        ("It's europe/paris.", 1.0),            # case does not matter under casefold
        ("Europe/Berlin", 0.0),                  # near but wrong
        ("I could not find it.", 0.0),
    ],
)
def test_reward_of_an_answer(final: str, reward: float) -> None:
    assert attempt_reward(_example(), Attempt(calls=[("timezone_at", {}, False)], final=final)) == reward


def test_a_broken_attempt_scores_zero_and_no_call_rewards_not_calling() -> None:
    assert attempt_reward(_example(), Attempt(final="Europe/Paris", error="no answer within 6 turns")) == 0.0
    no_call = _example("no_call")
    assert attempt_reward(no_call, Attempt(final="42")) == 1.0
    assert attempt_reward(no_call, Attempt(calls=[("country_info", {"country": "x"}, True)], final="42")) == 0.0


def test_real_solver_in_the_simulator_never_goes_live(tmp_path: Path, llama_endpoint: Endpoint) -> None:
    db = tmp_path / "d.duckdb"
    asyncio.run(run_pipeline(RunConfig(examples=3, no_model=True, seed=2, kinds={"single": 1, "multi_step": 1}),
                             db, Reporter(quiet=True)))
    with Store(db) as store:
        version = store.resolve("default", "latest")
        examples = [e for e, _, _ in store.iter_examples(version.version_id)]
        columns, rows = store.query("SELECT toolset, toolset_version, tool, arguments, output, is_error, error, "
                                    "latency_ms, started_at FROM observations")
    observations = []
    for r in rows:
        record = dict(zip(columns, r))
        record["arguments"], record["output"] = json.loads(record["arguments"]), json.loads(record["output"])
        observations.append(Observation.model_validate(record))
    simulator = ReplaySimulator.from_observations(observations, [t for e in examples for t in e.tools])
    assert examples

    # The task's own tools and two others: the solver still has to choose, and its prompt is not the
    # whole catalogue's ~3,000 tokens (45 s a prompt on a 2-core CI machine).
    task = examples[0]
    used = {s.tool for s in task.trace.steps}
    offered = [t for t in task.tools if t.name in used] + [t for t in task.tools if t.name not in used][:2]
    task = task.model_copy(update={"tools": offered})

    async def go():
        async with ChatClient(llama_endpoint) as client:
            solver = Solver(client, simulator, max_turns=2)
            return [await measure_difficulty(task, solver, 2, seed=1)]

    results = asyncio.run(go())
    for d in results:
        assert d.attempts == 2 and 0 <= d.passes <= 2
        assert 0.0 <= d.pass_rate <= 1.0 and d.reward_variance == pytest.approx(d.pass_rate * (1 - d.pass_rate))
    assert simulator.counts.get("live", 0) == 0
