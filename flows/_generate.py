"""The `generate` flow: toolsets → explore → chains → back-chain → validate → judge → commit.

`run_pipeline` is the whole path as plain async code; `generate` is the same
path as a Prefect flow whose tasks are the stages (one task per stage, never
one per example). Resources that live for the whole run (toolset processes,
the local model server, the database) are opened here, in one place, and
closed in reverse order whatever happens.

Nothing is written before every toolset has started and every model endpoint
has answered: a run that cannot start leaves the database untouched.

Resume: every tool call and model reply is recorded the moment it returns
(`RunCaches`), so a run started again after a crash, with the same config,
plans the same calls, finds the finished ones and makes only the rest; runs
left 'running' by a dead process are marked 'interrupted' when it starts.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from generators import (
    CallRecorder,
    ChatClient,
    Endpoint,
    ErrorRateBreaker,
    FieldStats,
    LimitedToolset,
    LLMWriter,
    LocalModelServer,
    MCPHTTPToolset,
    MCPToolset,
    Pacer,
    Toolset,
    ValueProposer,
    candidate_edges,
    is_probe,
    observed_edges,
)
from schemas import ConfigError, ErrorRateExceeded, Example, ToolsetError
from store import Store
from validators import CheckContext, Judge, duplicate_judgement, load_rubric

if TYPE_CHECKING:
    from prefect import Flow

from . import _stages
from ._accounting import RunAccounting
from ._caches import RunCaches, toolset_scopes
from ._config import EMBEDDED_VALUES, RunConfig, ToolsetConfig
from ._prefect_env import quiet_expected_errors
from ._report import Reporter, judge_leaf_count
from ._scale_out import BatchResult, ModelSpec, ScaleOut
from ._summary import RunSummary as RunSummary  # re-exported: flows/_report.py's annotations read it here

T = TypeVar("T")
TaskWrapper = Callable[[Callable[..., Awaitable[T]], str], Callable[..., Awaitable[T]]]


def _plain(fn: Callable[..., Awaitable[T]], name: str) -> Callable[..., Awaitable[T]]:
    return fn


def _toolset_for(entry: ToolsetConfig, config: RunConfig, breaker: ErrorRateBreaker | None = None) -> LimitedToolset:
    """The connector an entry names, wrapped with its limits (the run's where it sets none)."""
    from generators import OpenAPIToolset

    timeout = entry.timeout or config.call_timeout
    inner: Toolset
    if entry.mcp is not None:
        inner = MCPToolset(entry.mcp, name=entry.name, timeout=timeout)
    elif entry.url is not None:
        inner = MCPHTTPToolset(entry.url, name=entry.name, auth_headers=entry.auth_headers, timeout=timeout)
    else:
        inner = OpenAPIToolset(str(entry.openapi), base_url=entry.base_url, name=entry.name,
                               auth_headers=entry.auth_headers, timeout=timeout)
    return LimitedToolset(inner, concurrency=entry.concurrency or config.concurrency,
                          rate_limit_per_min=entry.rate_limit, timeout=timeout,
                          side_effects=entry.side_effects, allow=entry.allow, breaker=breaker)


async def _open_configured(
    config: RunConfig, stack: AsyncExitStack, breaker: ErrorRateBreaker | None = None
) -> list[tuple[ToolsetConfig, LimitedToolset]]:
    """Start every toolset the config names, each wrapped with its own limits, in order."""
    opened: list[tuple[ToolsetConfig, LimitedToolset]] = []
    names: set[str] = set()
    for entry in config.toolset_entries():
        ts = _toolset_for(entry, config, breaker)
        await stack.enter_async_context(ts)
        if ts.name in names:
            raise ToolsetError(f"two toolsets are named {ts.name!r}; give one a name in the config file")
        names.add(ts.name)
        opened.append((entry, ts))
    return opened


async def _open_toolsets(config: RunConfig, stack: AsyncExitStack) -> dict[str, Toolset]:
    """Start every toolset the config names; name -> toolset (each a `LimitedToolset`)."""
    return {ts.name: ts for _, ts in await _open_configured(config, stack)}


def _stage_config(config: RunConfig, opened: list[tuple[ToolsetConfig, LimitedToolset]]) -> RunConfig:
    """The config the stages see, once every toolset enforces its own limits.

    The explorer and replay keep their own per-toolset semaphore and timeout;
    here the semaphore is as wide as the widest toolset's and the timeout is a
    backstop that allows for queueing inside a wrapper (waiting for a
    concurrency slot, then for rate slots), which the wrapper's timeout rightly
    does not count. Tools a toolset entry allows join the run's allow list as
    ``toolset.tool``. The stored run config stays the user's.
    """
    if not opened:
        return config
    calls = config.max_calls
    backstop = max(
        ts.timeout * (1 + math.ceil(calls / ts.concurrency))
        + (calls * 60.0 / ts.rate_limit_per_min if ts.rate_limit_per_min else 0.0)
        for _, ts in opened if ts.timeout is not None
    ) if any(ts.timeout is not None for _, ts in opened) else config.call_timeout
    return config.model_copy(update={
        "concurrency": max(ts.concurrency for _, ts in opened),
        "call_timeout": max(backstop, config.call_timeout),
        "allow": [*config.allow, *(name for _, ts in opened for name in ts.allowed_names)],
    })


def _toolset_values(
    config: RunConfig, opened: list[tuple[ToolsetConfig, LimitedToolset]]
) -> dict[str, dict[str, list[Any]]]:
    """Toolset name -> the values an entry seeds for its own tools (added to the run's)."""
    return {ts.name: dict(entry.values) for entry, ts in opened if entry.values}


def _reason_key(reason: str) -> str:
    """Group rejection reasons by the failing leaf and the shape of the message, not its values."""
    head, _, detail = reason.partition(": ")
    detail = re.sub(r"^step \d+ \([^)]*\): ", "", detail)
    detail = re.sub(r"=('[^']*'|\"[^\"]*\"|\S+)", "=…", detail)
    detail = re.sub(r"'[^']*'|\"[^\"]*\"|[^\s(),]*\d[^\s(),]*", "…", detail)  # a value: "…", so it still reads
    detail = re.sub(r"\s+", " ", detail).strip()
    detail = detail if len(detail) <= 90 else detail[:89].rstrip() + "…"
    return f"{head}: {detail}" if detail else head


async def run_pipeline(
    config: RunConfig, db: str | Path, reporter: Reporter, as_task: TaskWrapper[Any] = _plain,
    flow_run_id: str | None = None,
) -> RunSummary:
    """The whole path. The database is opened only once toolsets and models answered."""
    started = time.monotonic()
    rubric = load_rubric(config.rubric)
    run_id = uuid.uuid4().hex
    async with AsyncExitStack() as astack:
        with ExitStack() as stack:
            reporter.note("starting toolsets")
            # One breaker hears every tool call and model request of the run (see ErrorRateBreaker).
            breaker = ErrorRateBreaker(max_error_rate=config.max_error_rate, window=config.error_window,
                                       min_calls=config.error_min_calls)
            opened = await _open_configured(config, astack, breaker)
            toolsets: dict[str, Toolset] = {ts.name: ts for _, ts in opened}
            stage_config = _stage_config(config, opened)
            writer_ep, judge_eps = _endpoints(config, stack, reporter)
            if config.model_timeout is not None:
                writer_ep = dataclasses.replace(writer_ep, timeout=config.model_timeout) if writer_ep else None
                judge_eps = [dataclasses.replace(ep, timeout=config.model_timeout) for ep in judge_eps]
            pacers = _model_pacers(config, writer_ep, judge_eps)
            clients: list[ChatClient] = []
            if writer_ep is not None:
                clients.append(ChatClient(writer_ep, concurrency=config.llm_concurrency or config.concurrency,
                                          pacer=pacers.get(writer_ep.url), breaker=breaker))
            # Replicas share a cache scope: a reply cached from one answers the same request to another.
            scope = "replicas:" + ",".join(sorted(ep.url for ep in judge_eps)) if len(judge_eps) > 1 else None
            judge_clients = [ChatClient(ep, concurrency=config.judge_concurrency, cache_scope=scope,
                                        pacer=pacers.get(ep.url), breaker=breaker)
                             for ep in judge_eps]
            for client in [*clients, *judge_clients]:
                astack.push_async_callback(client.aclose)
                await client.flavor()  # fails now, before anything is written, if unreachable
            clients += judge_clients
            writer = LLMWriter(clients[0]) if writer_ep else None
            judge = Judge(judge_clients, min_coverage=config.min_coverage, seed=config.seed,
                          shots=rubric.judge_shots()) if judge_clients else None
            summary = RunSummary(run_id=run_id, dataset=config.dataset, version=None)
            acct = summary.accounting = RunAccounting(run_id)
            acct.watch(clients)
            summary.models = {"writer": writer_ep.describe() if writer_ep else "template only",
                              "judge": judge.describe() if judge else "none"}

            catalog = await acct.timed("list-tools", as_task(_stages.list_tools, "list-tools")(toolsets, stage_config))
            summary.skipped = catalog.skipped
            for s in catalog.skipped:
                reporter.note(f"skipping {s.toolset}.{s.tool}: {s.reason}")
            if not catalog.allowed:
                raise ConfigError("no tool may be called: every tool writes or destroys (see --allow-writes, --allow)")
            store = stack.enter_context(Store(db))
            summary.interrupted_runs = store.interrupt_abandoned_runs()
            for gone in summary.interrupted_runs:
                reporter.note(f"run {gone[:12]} was left running by a process that is gone: marked interrupted")
            caches = RunCaches(store, run_id, refresh=config.refresh,
                               writer=stack.enter_context(store.call_writer()))
            for client in clients:
                client.cache = caches  # identical model requests are answered from the store
            recorder = CallRecorder(caches, toolset_scopes({ts.name: entry for entry, ts in opened}))
            scale = await _scale_out(config, Path(db), stack, caches, acct, writer_ep, judge_eps, clients, scope,
                                     reporter)
            store.start_run(run_id, config.dataset, config.redacted(), summary.models,
                            rubric_hash=rubric.rubric_hash, flow_run_id=flow_run_id or None)
            store.claim_run(run_id)
            store.save_tools(catalog.tools, run_id)
            acct.attach(store)  # the accounting so far, then each stage as it ends
            try:
                summary = await _stages_in_order(stage_config, store, reporter, as_task, toolsets, catalog,
                                                 writer, judge, rubric, summary, _toolset_values(config, opened),
                                                 recorder, scale)
            except BaseException as exc:
                summary.cached_calls, summary.cached_replies = recorder.hits, caches.replies_reused
                summary.seconds = time.monotonic() - started
                # The breaker's message is the reason; other errors are named by class.
                reason = str(exc) if isinstance(exc, ErrorRateExceeded) else type(exc).__name__
                store.finish_run(run_id, status=f"failed: {reason}", stats=summary.stats(),
                                 flow_run_id=flow_run_id)
                raise
            summary.cached_calls, summary.cached_replies = recorder.hits, caches.replies_reused
            summary.seconds = time.monotonic() - started
            caches.flush()  # every recorded call committed before the run says it completed
            store.finish_run(run_id, status="completed", stats=summary.stats(), flow_run_id=flow_run_id)
            return summary


async def _scale_out(
    config: RunConfig, db: Path, stack: ExitStack, caches: RunCaches, acct: RunAccounting,
    writer_ep: Endpoint | None, judge_eps: list[Endpoint], clients: list[ChatClient], scope: str | None,
    reporter: Reporter,
) -> ScaleOut | None:
    """With task_runner = "dask", the started runner that the model-bound stages spread batches on."""
    if config.task_runner != "dask":
        return None
    flavors = {c.endpoint.url: await c.flavor() for c in clients}  # workers need not ask again

    def spec(eps: list[Endpoint], concurrency: int, rate: float | None, cache_scope: str | None) -> ModelSpec:
        return ModelSpec(tuple(dataclasses.replace(ep, flavor=flavors.get(ep.url, ep.flavor)) for ep in eps),
                         concurrency, cache_scope, rate)

    scale = ScaleOut(config, db)
    stack.callback(scale.close)
    if writer_ep is not None:
        scale.writer_model = spec([writer_ep], config.llm_concurrency or config.concurrency, config.llm_rate_limit, None)
    if judge_eps:
        scale.judge_model = spec(judge_eps, config.judge_concurrency, config.judge_rate_limit, scope)

    def keep(stage: str, result: BatchResult) -> None:
        for key, endpoint, request, reply in result.replies:
            caches.put_reply(key, endpoint, request, reply)
        caches.replies_reused += result.reused
        acct.record_requests(stage, result.requests)

    scale.on_result = keep
    where = config.dask_address or f"a local Dask cluster of {config.dask_workers} workers"
    reporter.note(f"starting the Dask task runner: {where}")
    await scale.start()
    return scale


def _model_pacers(config: RunConfig, writer: Endpoint | None, judges: list[Endpoint]) -> dict[str, Pacer]:
    """One pacer per model server URL with a rate limit; a server both roles use gets the stricter."""
    rates: dict[str, float] = {}
    wanted = [(writer.url, config.llm_rate_limit)] if writer is not None else []
    wanted += [(ep.url, config.judge_rate_limit) for ep in judges]
    for url, rate in wanted:
        if rate:
            rates[url] = min(rates.get(url, rate), rate)
    return {url: Pacer(60.0 / rate) for url, rate in rates.items()}


def _endpoints(config: RunConfig, stack: ExitStack, reporter: Reporter) -> tuple[Endpoint | None, list[Endpoint]]:
    """The writer endpoint and the judge's (one per replica); the bundled model starts only if needed."""
    if config.no_model:
        return None, []
    writer = Endpoint(config.llm.url, config.llm.model, config.llm.api_key_env) if config.llm else None
    judges = [Endpoint(url, config.judge.model, config.judge.api_key_env) for url in config.judge.urls] \
        if config.judge else ([writer] if writer else [])
    if writer is None or not judges:
        server = LocalModelServer(config.local_model, note=reporter.note)
        reporter.note(f"starting the bundled model server (llama.cpp, {server.alias})")
        with reporter.waiting("loading the model"):
            local = stack.enter_context(server)
        writer = writer or local
        judges = judges or [local]
    return writer, judges


async def _stages_in_order(
    config: RunConfig, store: Store, reporter: Reporter, as_task: TaskWrapper[Any],
    toolsets: Mapping[str, Toolset], catalog: _stages.ToolCatalog, writer: LLMWriter | None,
    judge: Judge | None, rubric: Any, summary: RunSummary,
    toolset_values: Mapping[str, Mapping[str, list[Any]]] | None = None,
    recorder: CallRecorder | None = None, scale: ScaleOut | None = None,
) -> RunSummary:
    values = dict(EMBEDDED_VALUES) if config.uses_embedded_toolsets else {}
    values.update(config.values)
    acct = summary.accounting or RunAccounting(summary.run_id)
    recorder = recorder or CallRecorder()  # every tool call goes through one, which logs it for acct
    with acct.stage("explore"), reporter.stage("calling tools", total=config.max_calls) as advance:
        proposer = ValueProposer(writer.client) if config.propose_values and writer is not None else None
        explored = await as_task(_stages.explore, "explore")(toolsets, catalog, config, values, advance,
                                                             toolset_values, proposer, recorder)
        calls, summary.exploration = explored.calls, explored.report
        await recorder.committed()  # a kill in a later stage loses none of them
    observations = _stages.observations_of(calls)
    store.save_observations(observations, summary.run_id)
    edges = observed_edges(calls) + candidate_edges(catalog.allowed, calls)
    store.save_edges(summary.run_id, edges)
    summary.edges_confirmed = len({(e.from_tool, e.field, e.to_tool, e.param) for e in edges if e.kind == "confirmed"})
    summary.calls = len(observations)
    summary.call_errors = sum(o.is_error for o in observations)
    summary.tools_called = len({(o.toolset, o.tool) for o in observations})
    acct.count_tools("explore", recorder.take_log())

    with reporter.stage("building chains", total=3 * config.examples) as advance:  # build_traces' limit
        traces = await acct.timed("chain", as_task(_stages.chain, "chain")(calls, config))
        advance(len(traces))
    summary.traces = len(traces)
    summary.multi_step = sum(len(t.steps) > 1 for t in traces)

    drafts, plan = await acct.timed("draft", as_task(_stages.draft, "draft")(calls, traces, config, catalog))
    summary.kinds_wanted, summary.kinds_short = plan.wanted, plan.shortfall()
    with acct.stage("back-chain"), reporter.stage("writing tasks", total=len(drafts)) as advance:
        if scale is not None and writer is not None:
            written: list[Example] = await scale.write(store, drafts, catalog, advance)
        else:
            written = await as_task(_stages.write, "back-chain")(drafts, catalog, writer, config, advance)
    summary.tasks_written = len(written)
    if config.dedup_threshold > 0 and len(written) > 1:
        reporter.note("removing near-duplicate requests")
    examples, duplicates = await acct.timed("dedup", as_task(_stages.dedup, "dedup")(written, config))

    recorded_at = max((o.started_at for o in observations), default=None)
    reporter.note("replaying calls to detect volatile outputs")
    report = await acct.timed("replay", as_task(_stages.replay, "replay")(toolsets, examples, recorded_at, config, recorder))
    await recorder.committed()
    summary.volatile_tools = report.volatile_tools
    recorder.settle_ahead()  # volatility repeats replay never asked for are counted with its calls
    acct.count_tools("replay", recorder.take_log())
    store.save_volatility(summary.run_id, report.volatile_fields())
    ctx = CheckContext(replay=report, toolset_versions={n: t.version for n, t in toolsets.items()},
                       fields=FieldStats.from_outputs((o.toolset, o.tool, o.arguments, o.output, o.is_error)
                                                      for c in calls if not is_probe(c) for o in [c.observation]))

    leaves = judge_leaf_count(rubric) * len(examples) if judge is not None else 0
    with acct.stage("judge"), reporter.stages(("validating and judging", len(examples)),
                                              ("judge leaves", leaves)) as (advance, leaf):
        if scale is not None and judge is not None:
            judgements = await scale.judge(store, examples, rubric, ctx, advance, leaf)
        else:
            if judge is not None:
                judge.on_leaf = lambda: leaf(1)
            judgements = await as_task(_stages.judge, "judge")(examples, rubric, ctx, judge, advance)

    # Near duplicates are stored as rejected candidates naming the example they duplicate.
    by_id = {e.example_id: e for e in written}
    pairs = list(zip(examples, judgements)) + [
        (by_id[removed], duplicate_judgement(by_id[removed], kept, sim, rubric))
        for removed, kept, sim in duplicates
    ]
    judgements = [j for _, j in pairs]
    with acct.stage("commit"):
        store.save_candidates(summary.run_id, config.dataset, pairs)
        accepted = [(e.example_id, j.score) for e, j in pairs if j.status == "accepted"]
        summary.version = store.seal_version(
            config.dataset, run_id=summary.run_id, members=accepted,
            message=config.message or f"backchain run {summary.run_id[:8]}",
        )
    summary.status_counts = dict(Counter(j.status for j in judgements))
    summary.kind_counts = dict(Counter(e.task.kind for e, j in pairs if j.status == "accepted"))
    summary.writer_counts = dict(Counter(
        e.task.writer for e, j in pairs if j.status == "accepted"
    ))
    summary.top_reasons = Counter(
        _reason_key(j.reason) for j in judgements if j.status != "accepted"
    ).most_common(5)
    if scale is not None:
        summary.scale_out = scale.describe()
    acct.close()
    return summary


_REPORTERS: dict[str, Reporter] = {}
"""Reporters of the flows built in this process, by key (a few small objects; kept for the process)."""


def _reporter_named(key: str) -> Reporter:
    return _REPORTERS.get(key) or Reporter(quiet=True)


def generate_flow(reporter: Reporter | None = None) -> Flow[..., Coroutine[Any, Any, RunSummary]]:
    """The Prefect flow, built lazily so that importing flows/ does not import prefect.

    The reporter (terminal progress) is not a flow parameter (parameters are
    sent to the Prefect API and must be JSON), and the flow function does not
    hold it either: a task runner that runs tasks elsewhere (Dask) pickles the
    flow with each task, and a terminal console cannot be pickled. The flow
    finds its reporter by a key instead.
    """
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.runtime import flow_run
    from prefect.utilities.annotations import quote

    from ._artifacts import publish_run_artifacts

    reporter_key = uuid.uuid4().hex
    if reporter is not None:
        _REPORTERS[reporter_key] = reporter

    def as_task(fn: Callable[..., Awaitable[T]], name: str) -> Callable[..., Awaitable[T]]:
        stage = task(name=name, cache_policy=NO_CACHE, persist_result=False)(fn)

        # quote(): Prefect would otherwise walk every argument (thousands of calls and
        # examples, nested records) looking for upstream futures: seconds per run at
        # 1,000 examples (bench/orchestration.py). Stages take no futures.
        async def call(*args: Any, **kwargs: Any) -> T:
            return await stage(*(quote(a) for a in args), **{k: quote(v) for k, v in kwargs.items()})

        return call

    @flow(name="generate", persist_result=False, validate_parameters=False)
    async def generate(config: RunConfig, db: str) -> RunSummary:
        quiet_expected_errors()
        if isinstance(config, dict):  # a deployment's parameters arrive as JSON (backchain serve)
            config = RunConfig.model_validate(config)
        summary = await run_pipeline(config, db, _reporter_named(reporter_key), as_task,
                                     flow_run_id=str(flow_run.get_id() or ""))
        await publish_run_artifacts(summary)  # counts and a report on this flow run (Prefect only)
        return summary

    return generate
