"""Hand-built examples stored with the observations their steps point to, for the RL exports.

An RL export writes the replay table from the store's observations, so each step's
``observation_id`` must name a stored Observation. ``recorded`` rebuilds an example's steps with
the ids of Observations made from the steps themselves (same tool, arguments and output), and
``store_recorded`` saves tools, observations and the examples and seals a version, as the
pipeline does. Their prompts are short (two to four small tools), which keeps a GRPO step on a
CPU in seconds; the pipeline's own version (conftest ``pipeline_db``) offers every built-in tool.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from schemas import Example, Judgement, Observation, Trace, VersionInfo
from store import Store

WHEN = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


def recorded(example: Example) -> tuple[Example, list[Observation]]:
    """The example with its steps pointing at Observations of exactly what they record."""
    observations = []
    steps = []
    for step in example.trace.steps:
        obs = Observation(toolset=step.toolset, tool=step.tool, arguments=step.arguments, output=step.output,
                          is_error=step.is_error, error=step.output if step.is_error else None, started_at=WHEN)
        observations.append(obs)
        steps.append(step.model_copy(update={"observation_id": obs.observation_id}))
    return example.model_copy(update={"trace": Trace(steps=steps)}), observations


def store_recorded(db: Path, examples: list[Example], score: float = 1.0, dataset: str = "geo"
                   ) -> tuple[VersionInfo, list[Example]]:
    """Store ``examples`` (made ``recorded``) with their observations; seal a version of them."""
    run_id = uuid.uuid4().hex
    made = [recorded(e) for e in examples]
    kept = [e for e, _ in made]
    with Store(db) as store:
        store.save_tools([t for e in kept for t in e.tools], run_id)
        store.save_observations([o for _, obs in made for o in obs], run_id)
        store.save_candidates(run_id, dataset, [
            (e, Judgement(example_id=e.example_id, rubric_id="t", rubric_hash="t", status="accepted", score=score,
                          leaves=[])) for e in kept])
        version = store.seal_version(dataset, run_id=None, members=[(e.example_id, score) for e in kept])
    return version, kept
