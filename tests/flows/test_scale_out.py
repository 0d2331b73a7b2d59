"""Scale-out on Dask: the model-bound stages in batches on a real LocalCluster.

The generate flow runs in this process against the session's Prefect test API and
the real llama.cpp server (bundled model) as writer and judge; the batches run in
Dask worker processes, which report their task runs to the same API. The version
must be the one a local run seals, and a rerun must be answered from the reply
cache the workers read from the flow's snapshot.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from flows import RunConfig, generate_flow
from flows._config import build_config
from flows._scale_out import ModelSpec
from generators import Endpoint
from schemas import ConfigError
from store import Store

BASE = {"examples": 2, "max_calls": 30, "dedup_threshold": 0, "seed": 3}


def _config(endpoint: Any, **extra: Any) -> RunConfig:
    model = {"url": endpoint.url, "model": endpoint.model}
    return RunConfig.model_validate({**BASE, "llm": model, "judge": model, **extra})


def _members(db: Path, version: int) -> list[tuple[str, float]]:
    with Store(db, read_only=True) as store:
        _, rows = store.query(
            "SELECT example_id, score FROM dataset_rows('default', ?) ORDER BY example_id", [str(version)])
    return [(r[0], r[1]) for r in rows]


async def _task_run_names(flow_run_id: str) -> list[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return sorted(r.name.rsplit("-", 1)[0] for r in runs)


def _requests(db: Path, run_id: str) -> tuple[int, int]:
    with Store(db, read_only=True) as store:
        _, rows = store.query("SELECT model_requests, cached_replies FROM runs WHERE run_id = ?", [run_id])
    return int(rows[0][0]), int(rows[0][1])


def test_dask_batches_seal_what_a_local_run_seals_and_rerun_from_the_cache(
    tmp_path: Path, prefect_harness: None, llama_endpoint: Any
) -> None:
    local_db, dask_db = tmp_path / "local.duckdb", tmp_path / "dask.duckdb"
    local = asyncio.run(generate_flow()(config=_config(llama_endpoint), db=str(local_db)))

    config = _config(llama_endpoint, task_runner="dask", dask_workers=2, batch_size=1)
    spread = asyncio.run(generate_flow()(config=config, db=str(dask_db)))

    # the same version: members and scores (the judge is deterministic at temperature 0)
    assert spread.version is not None and local.version is not None
    assert spread.version.content_hash == local.version.content_hash
    spread_rows, local_rows = _members(dask_db, 1), _members(local_db, 1)
    assert [i for i, _ in spread_rows] == [i for i, _ in local_rows]
    assert [s for _, s in spread_rows] == pytest.approx([s for _, s in local_rows], abs=1e-6)
    # the batches ran in Dask worker processes, not here
    so = spread.scale_out
    assert so is not None and so["runner"] == "dask" and not so["snapshot_missing"]
    assert so["slots"] == 2  # two single-threaded workers: limits are split two ways
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert so["workers"] >= 1 and here not in so["worker_ids"]
    # writing 2+ drafts and judging the examples that reach the judge, one per batch
    assert so["batches"] >= 3
    # Prefect tracked every batch as a task run of this flow run
    with Store(dask_db, read_only=True) as store:
        _, rows = store.query("SELECT flow_run_id FROM runs WHERE run_id = ?", [spread.run_id])
    names = asyncio.run(_task_run_names(rows[0][0]))
    assert names.count("back-chain-batch") + names.count("judge-batch") == so["batches"]
    assert "judge-batch" in names and "back-chain-batch" in names
    # the workers' requests are accounted like local ones
    sent, _cached = _requests(dask_db, spread.run_id)
    assert sent == _requests(local_db, local.run_id)[0] > 0

    # a rerun: every model request answered from the snapshot of the reply cache
    again = asyncio.run(generate_flow()(config=config, db=str(dask_db)))
    assert again.version is not None and again.version.content_hash == local.version.content_hash
    sent, cached = _requests(dask_db, again.run_id)
    assert sent == 0 and cached > 0
    assert again.cached_replies == cached


def test_a_dask_address_needs_the_dask_runner() -> None:
    with pytest.raises(ConfigError, match="dask_address is set but task_runner is 'local'"):
        build_config(None, {"task_runner": "local", "dask_address": "tcp://127.0.0.1:8786"})
    assert build_config(None, {"task_runner": "dask", "batch_size": 5}).batch_size == 5


def test_a_batch_gets_its_share_of_the_endpoint_limits() -> None:
    spec = ModelSpec((Endpoint("http://127.0.0.1:9/v1", "m"),), concurrency=5, rate_limit=120.0)
    assert spec.share(1) is spec and spec.share(0) is spec
    half = spec.share(2)
    assert (half.concurrency, half.rate_limit) == (2, 60.0)  # 2 x 2 <= 5 in flight; 2 x 60 = 120 a minute
    assert spec.share(8).concurrency == 1 and spec.share(8).rate_limit == 15.0
    assert ModelSpec(spec.endpoints, concurrency=4).share(4).rate_limit is None
