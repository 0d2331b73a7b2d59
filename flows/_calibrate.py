"""`backchain judge-check`: wiring for judge calibration (validators/_calibrate.py).

Loads a sample of a version's accepted rows through store/ (read-only), starts
the judge (the endpoints given, else the bundled llama.cpp model), and runs
`validators.calibrate`. Judge replies are not cached: calibration asks about
defective copies that no run will ask about again.
"""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from pathlib import Path

from generators import ChatClient, Endpoint, LocalModelServer
from schemas import ConfigError
from store import Store, parse_ref
from validators import CalibrationReport, Judge, calibrate, judge_leaves, load_rubric

from ._config import JudgeEndpointConfig
from ._report import Reporter


async def judge_check(
    rubric_name: str, db: Path, ref: str, *, sample: int, seed: int, judge: JudgeEndpointConfig | None,
    min_coverage: float, concurrency: int, reporter: Reporter,
) -> CalibrationReport:
    rubric = load_rubric(rubric_name)
    if not judge_leaves(rubric):
        raise ConfigError(f"rubric {rubric.id} has no judge questions to calibrate")
    if not db.exists():
        raise ConfigError(f"no database at {db}: run `backchain run` first, or pass --db")
    dataset, version_ref = parse_ref(ref)
    with Store(db, read_only=True) as store:
        info = store.resolve(dataset, version_ref)
        examples = [e for e, _score, _split in store.iter_examples(info.version_id)]
    if len(examples) < 2:
        raise ConfigError(f"{info.dataset}@{info.version} has {len(examples)} row(s): calibration needs at least 2")
    if sample < len(examples):
        examples = sorted(random.Random(seed).sample(examples, sample), key=lambda e: e.example_id)
    async with AsyncExitStack() as stack:
        if judge is None:
            local = LocalModelServer(note=reporter.note)
            reporter.note(f"starting the bundled model server (llama.cpp, {local.alias})")
            stack.callback(local.stop)
            endpoints = [local.start()]
        else:
            endpoints = [Endpoint(url, judge.model, judge.api_key_env) for url in judge.urls]
        clients = [ChatClient(ep, concurrency=concurrency) for ep in endpoints]
        for client in clients:
            stack.push_async_callback(client.aclose)
            await client.flavor()
        leaf_judge = Judge(clients, min_coverage=min_coverage, seed=seed, shots=rubric.judge_shots())
        reporter.note(f"judging {len(examples)} rows of {info.dataset}@{info.version} and their defective copies")
        with reporter.stage("rows and their copies", total=len(examples)) as advance:
            return await calibrate(rubric, examples, leaf_judge, seed=seed, judge_name=leaf_judge.describe(),
                                   advance=advance)
