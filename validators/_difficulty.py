"""Difficulty for RL: how often a solver gets a task right, and the reward's variance.

RL learns nothing from a prompt whose rollouts all get the same reward (DAPO's
dynamic sampling, RAGEN-2), so exports keep tasks that are neither always nor
never solved. Each attempt is scored by `attempt_reward`, the same answer
checker an RL environment would use: 1 when the final answer states every
expected value (under the task's normaliser) and no call broke the attempt;
for a no_call task, 1 when the solver answered without calling any tool.
"""

from __future__ import annotations

import asyncio

from generators import Solver
from generators._solver import Attempt
from schemas import Answer, Example, TaskDifficulty, answer_in_text


def attempt_reward(example: Example, attempt: Attempt) -> float:
    """1.0 or 0.0 for one attempt at one task."""
    if attempt.error:
        return 0.0
    task = example.task
    if task.kind == "no_call" or task.answer is None:
        return 1.0 if not attempt.calls and attempt.final.strip() else 0.0
    answer = task.answer
    for value in answer.values():
        single = Answer(pointers=answer.pointers[:1], value=value, normaliser=answer.normaliser)
        if not answer_in_text(single, attempt.final):
            return 0.0
    return 1.0


Difficulty = TaskDifficulty  # the stored record (schemas), under the name validators export


async def measure_difficulty(example: Example, solver: Solver, k: int, *, seed: int = 0) -> TaskDifficulty:
    """Run the solver k times (different seeds) and score each attempt.

    A model endpoint that fails outright raises ModelError: an attempt that
    could not be made is not a failed attempt.
    """
    attempts = await asyncio.gather(*(solver.attempt(example, seed=seed + i) for i in range(k)))
    rewards = [attempt_reward(example, a) for a in attempts]
    return TaskDifficulty(
        example_id=example.example_id, solver_model=solver.model, attempts=k,
        passes=int(sum(rewards)), errors=sum(1 for a in attempts if a.error),
    )

