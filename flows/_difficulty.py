"""`backchain difficulty`: K solver attempts per task of a version, in the replay simulator.

The solver is the bundled model unless --solver-url/--solver-model name an
endpoint; tool calls are answered from every observation recorded for the
version's toolsets, never live. Results go to the `difficulty` view, which
exports filter on (keep tasks that are neither always nor never solved).
"""

from __future__ import annotations

import asyncio
import random
from contextlib import ExitStack
from pathlib import Path

from generators import ChatClient, Endpoint, LocalModelServer, ReplaySimulator, Solver
from schemas import Example, TaskDifficulty
from store import Store
from validators import measure_difficulty

from ._report import Reporter


async def measure_version(
    db: Path, dataset: str, ref: str, *, k: int, sample: int | None, seed: int,
    solver: Endpoint | None, concurrency: int, reporter: Reporter, max_turns: int = 4,
) -> list[TaskDifficulty]:
    with Store(db, read_only=True) as store:
        version = store.resolve(dataset, ref)
        examples: list[Example] = [e for e, _, _ in store.iter_examples(version.version_id)]
        if sample is not None and sample < len(examples):
            examples = random.Random(seed).sample(examples, sample)
        toolsets = sorted({t.toolset for e in examples for t in e.tools})
        simulator = ReplaySimulator.from_observations(
            store.iter_observations(toolsets), [t for e in examples for t in e.tools])
    results: list[TaskDifficulty] = []
    with ExitStack() as stack:
        endpoint = solver or stack.enter_context(LocalModelServer())
        async with ChatClient(endpoint, concurrency=concurrency) as client:
            runner = Solver(client, simulator, max_turns=max_turns)
            with reporter.stage("solving", total=len(examples)) as advance:
                async def one(example: Example) -> TaskDifficulty:
                    result = await measure_difficulty(example, runner, k, seed=seed)
                    advance(1)
                    return result

                results = list(await asyncio.gather(*(one(e) for e in examples)))
    with Store(db) as store:
        store.save_difficulty(results)
    return results


def render_difficulty(results: list[TaskDifficulty]) -> str:
    always = sum(r.pass_rate == 1.0 for r in results)
    never = sum(r.pass_rate == 0.0 for r in results)
    lines = [
        f"{len(results)} tasks, {results[0].attempts if results else 0} attempts each, solver "
        f"{results[0].solver_model if results else '-'}",
        f"  always solved  {always}",
        f"  never solved   {never}",
        f"  in between     {len(results) - always - never}  (useful for RL: reward has variance)",
        "See: backchain sql \"SELECT * FROM difficulty ORDER BY reward_variance DESC\"",
    ]
    return "\n".join(lines) + "\n"
