"""Scale-out: the model-bound stages in batches on a Dask cluster, one writer kept.

With ``task_runner = "dask"`` the two stages whose cost grows with the number of
examples and is spent waiting on models, back-chain writing and judging, are cut
into batches of ``batch_size``; each batch is a Prefect task (``back-chain-batch``,
``judge-batch``) submitted to a `prefect_dask.DaskTaskRunner`: a LocalCluster of
``dask_workers`` processes, or the cluster at ``dask_address``, which may span
many machines. Tool calls stay in the flow's process, which holds the toolset
connections, and so does the store:

    flow (the store's one writer)                    Dask workers
    ─────────────────────────────                    ────────────
    snapshot the model-reply cache ──(parquet)──>    read cached replies from it
    submit batches ─────────────────────────────>    rebuild model clients, run the
                                                     stage's own code on the batch
    cache new replies, collect rows, <──────────     return rows, new replies and
    record accounting, commit                        the request log

A worker never opens the database (DuckDB admits one process while a writer has
the file open); it returns what it made and the flow commits it, so a version is
sealed exactly as a local run seals it. Batches run the same stage functions as
the local path, with the same seeds (``first_index``), so the version is the same.

Limits hold for the run, not per batch: each endpoint's requests-per-minute and
concurrency are divided among the batches that can run at once (the cluster's
worker threads, at most the stage's batch count), so N workers together stay
within the configured rate. What a batch does not share with the flow: its
circuit breaker counts its own requests (the first batch to trip it fails the
run, and closing the runner stops the others), and new replies reach the cache
when their batch returns, so a run killed mid-stage makes the requests of
unfinished batches again. Workers on other machines need the scratch directory
(``scratch_dir``) on a shared filesystem to read cached replies (without it
every lookup misses, which costs requests, not correctness), the API key env
vars the endpoints name, and PREFECT_API_URL pointing at the Prefect server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators import ChatClient, Draft, Endpoint, ErrorRateBreaker, LLMWriter
from schemas import Example, Judgement, ModelRequest, Rubric
from store import ReplySnapshot, Store
from store._snapshot import NewReply
from validators import CheckContext, Judge

from . import _stages
from ._config import RunConfig

Advance = Callable[[int], None]


@dataclass(frozen=True)
class ModelSpec:
    """How a worker rebuilds a stage's model clients (endpoints hold env var names, never keys)."""

    endpoints: tuple[Endpoint, ...]
    concurrency: int
    cache_scope: str | None = None
    rate_limit: float | None = None

    def share(self, ways: int) -> ModelSpec:
        """This spec for one of ``ways`` batches running at once: the limits split evenly."""
        if ways <= 1:
            return self
        return dataclasses.replace(
            self, concurrency=max(1, self.concurrency // ways),
            rate_limit=None if self.rate_limit is None else self.rate_limit / ways,
        )

    def clients(self, cache: ReplySnapshot, breaker: ErrorRateBreaker) -> list[ChatClient]:
        clients = [
            ChatClient(ep, concurrency=self.concurrency, cache=cache, cache_scope=self.cache_scope,
                       rate_limit_per_min=self.rate_limit, breaker=breaker)
            for ep in self.endpoints
        ]
        for client in clients:
            client.take_log()  # log every request from now on: the flow accounts for them
        return clients


@dataclass
class BatchResult:
    """What a batch hands back: its rows, and what the flow records for it."""

    items: list[Any]
    replies: list[NewReply] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)
    reused: int = 0
    leaves: int = 0
    worker: str = ""
    snapshot_missing: bool = False


def _breaker(config: RunConfig) -> ErrorRateBreaker:
    return ErrorRateBreaker(max_error_rate=config.max_error_rate, window=config.error_window,
                            min_calls=config.error_min_calls)


async def _finish(clients: list[ChatClient], cache: ReplySnapshot, items: list[Any], leaves: int = 0) -> BatchResult:
    requests = [r for c in clients for r in c.take_log()]
    for client in clients:
        await client.aclose()
    cache.close()
    return BatchResult(items=items, replies=cache.new, requests=requests, reused=cache.hits, leaves=leaves,
                       worker=f"{socket.gethostname()}:{os.getpid()}",
                       snapshot_missing=cache.path is not None and not cache.available)


async def write_batch(
    items: list[Draft], first_index: int, catalog: _stages.ToolCatalog, config: RunConfig,
    model: ModelSpec, snapshot: str | None,
) -> BatchResult:
    """The back-chain stage on one batch of drafts (runs on a worker)."""
    cache = ReplySnapshot(snapshot)
    clients = model.clients(cache, _breaker(config))
    try:
        examples = await _stages.write(items, catalog, LLMWriter(clients[0]), config, first_index=first_index)
    except BaseException:
        await _finish(clients, cache, [])
        raise
    return await _finish(clients, cache, examples)


async def judge_batch(
    items: list[Example], first_index: int, rubric: Rubric, ctx: CheckContext, config: RunConfig,
    model: ModelSpec, snapshot: str | None,
) -> BatchResult:
    """Checks and judge leaves on one batch of examples (runs on a worker).

    ``first_index`` is unused: a judgement does not depend on the example's position.
    """
    cache = ReplySnapshot(snapshot)
    clients = model.clients(cache, _breaker(config))
    judge = Judge(clients, min_coverage=config.min_coverage, seed=config.seed, shots=rubric.judge_shots())
    leaves = 0

    def leaf() -> None:
        nonlocal leaves
        leaves += 1

    judge.on_leaf = leaf
    try:
        judgements = await _stages.judge(items, rubric, ctx, judge)
    except BaseException:
        await _finish(clients, cache, [])
        raise
    return await _finish(clients, cache, judgements, leaves)


class ScaleOut:
    """A Dask task runner for one run, and the batching of its model-bound stages."""

    def __init__(self, config: RunConfig, db: Path) -> None:
        self.config = config
        if config.scratch_dir is not None:
            base = Path(config.scratch_dir)
            base.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(db).resolve().parent
        self.scratch = Path(tempfile.mkdtemp(prefix=".backchain-scale-out-", dir=base))
        self.batches = 0
        #: Batches that can run at once: the cluster's worker threads, known once started.
        self.slots = 1
        self.workers: set[str] = set()
        self.snapshot_missing = False
        self._runner: Any = None
        self._tasks: dict[str, Any] = {}
        self._quieted: list[tuple[logging.Logger, int]] = []
        #: The model clients' specs for workers, set by the flow once the endpoints answered.
        self.writer_model: ModelSpec | None = None
        self.judge_model: ModelSpec | None = None
        #: Called in the flow for each finished batch with the accounting stage name:
        #: caches its new replies and records its requests.
        self.on_result: Callable[[str, BatchResult], None] = lambda _stage, _result: None

    async def start(self) -> None:
        """Start (or connect to) the cluster; workers report their task runs to this run's Prefect API."""
        from prefect import task
        from prefect.cache_policies import NO_CACHE
        from prefect.client.orchestration import get_client
        from prefect_dask.task_runners import DaskTaskRunner

        for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                     "distributed.core", "distributed.http.proxy"):
            logger = logging.getLogger(name)
            self._quieted.append((logger, logger.level))
            logger.setLevel(logging.WARNING)
        if self.config.dask_address:
            runner = DaskTaskRunner(address=self.config.dask_address)
        else:
            async with get_client() as client:
                api_url = str(client.api_url)
            runner = DaskTaskRunner(cluster_kwargs={
                "n_workers": self.config.dask_workers, "threads_per_worker": 1, "processes": True,
                "dashboard_address": None, "silence_logs": logging.WARNING,
                "env": {"PREFECT_API_URL": api_url},
            })
        self._runner = await asyncio.to_thread(runner.__enter__)
        nthreads = await asyncio.to_thread(lambda: self._runner.client.nthreads())
        self.slots = max(1, sum(nthreads.values()))
        self._tasks = {
            "write": task(name="back-chain-batch", cache_policy=NO_CACHE, persist_result=False)(write_batch),
            "judge": task(name="judge-batch", cache_policy=NO_CACHE, persist_result=False)(judge_batch),
        }

    def close(self) -> None:
        try:
            if self._runner is not None:
                self._runner.__exit__(None, None, None)
                self._runner = None
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
            for logger, level in self._quieted:
                logger.setLevel(level)

    async def _spread(
        self, store: Store, stage: str, label: str, items: Sequence[Any], shared: dict[str, Any],
        advance: Advance, leaf: Advance | None = None,
    ) -> list[Any]:
        """Cut ``items`` into batches, run ``stage``'s task on each; the rows in the items' order.

        Each batch gets ``shared`` plus its slice (``items``) and where the slice starts
        (``first_index``); ``label`` is the accounting stage its requests count under.
        """
        size = self.config.batch_size
        starts = range(0, len(items), size)
        # The endpoint's limits are the run's: split among the batches that run at once.
        shared = {**shared, "model": shared["model"].share(min(self.slots, len(starts))),
                  "config": self.config, "snapshot": self._snapshot(store, stage)}
        batches = [{**shared, "items": list(items[i:i + size]), "first_index": i} for i in starts]
        # Not quote()d as the flow's stage arguments are: the Dask path hands a quoted value to
        # the worker still wrapped. A batch is small; walking it costs little.
        futures = [self._runner.submit(self._tasks[stage], parameters=p) for p in batches]
        self.batches += len(futures)

        async def wait(index: int, future: Any) -> BatchResult:
            result: BatchResult = await asyncio.to_thread(future.result)
            self.workers.add(result.worker)
            self.snapshot_missing = self.snapshot_missing or result.snapshot_missing
            self.on_result(label, result)
            advance(len(batches[index]["items"]))
            if leaf is not None:
                leaf(result.leaves)
            return result

        results = await asyncio.gather(*(wait(i, f) for i, f in enumerate(futures)))
        return [row for r in results for row in r.items]

    def _snapshot(self, store: Store, stage: str) -> str | None:
        if self.config.refresh:  # --refresh reads no cached reply
            return None
        path = self.scratch / f"replies-{stage}.parquet"
        store.snapshot_replies(path)
        return str(path)

    async def write(
        self, store: Store, drafts: Sequence[Draft], catalog: _stages.ToolCatalog, advance: Advance,
    ) -> list[Example]:
        """The back-chain stage in batches, examples in the drafts' order."""
        shared = {"catalog": catalog, "model": self._model(self.writer_model, "writer")}
        return await self._spread(store, "write", "back-chain", drafts, shared, advance)

    async def judge(
        self, store: Store, examples: Sequence[Example], rubric: Rubric, ctx: CheckContext,
        advance: Advance, leaf: Advance,
    ) -> list[Judgement]:
        """Checks and judge leaves in batches, judgements in the examples' order."""
        shared = {"rubric": rubric, "ctx": ctx, "model": self._model(self.judge_model, "judge")}
        return await self._spread(store, "judge", "judge", examples, shared, advance, leaf)

    @staticmethod
    def _model(model: ModelSpec | None, role: str) -> ModelSpec:
        if model is None:  # pragma: no cover - the flow sets both before the stages run
            raise RuntimeError(f"scale-out: no {role} model spec was set")
        return model

    def describe(self) -> dict[str, Any]:
        return {"runner": "dask", "address": self.config.dask_address or f"LocalCluster({self.config.dask_workers})",
                "slots": self.slots, "batches": self.batches, "workers": len(self.workers), "worker_ids": sorted(self.workers),
                "snapshot_missing": self.snapshot_missing}
