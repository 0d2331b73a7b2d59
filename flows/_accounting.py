"""A run's accounting, collected by the flow stage by stage and handed to the store.

The parts that do the work only count: a `ChatClient` logs each chat request
(`schemas.ModelRequest`: endpoint, model, tokens from the reply's ``usage``,
latency, cache hit, error). `RunAccounting` times each stage of the flow, and
when a stage ends it drains every client's log and labels those requests with
the stage: stages run one after another, so whatever a client logged during a
stage belongs to it (the writer's requests under ``back-chain``, value
proposals under ``explore``, the judge's under ``judge``). Tool calls are
counted the same way from the `CallRecorder`'s log: executed, failed, and
answered from the call cache (a resumed run's calls are not new calls).

Nothing here touches the database: once the store is open (`attach`), what has
been collected so far, and then each stage as it ends, goes to
`Store.save_accounting`, so a run killed half way keeps the accounting of the
stages it finished.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from schemas import ModelRequest, StageTiming, ToolCallCount

if TYPE_CHECKING:
    from generators import ChatClient
    from store import Store

T = TypeVar("T")


@dataclass
class StageTotals:
    """One stage's totals, for the end-of-run summary and the Prefect artifacts."""

    seconds: float = 0.0
    model_requests: int = 0
    cached_replies: int = 0
    model_errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    cached_tool_calls: int = 0


@dataclass
class RunAccounting:
    """Stage timings, model requests and tool-call counts of one run."""

    run_id: str
    stages: list[StageTiming] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)
    tool_calls: list[ToolCallCount] = field(default_factory=list)
    _clients: list[ChatClient] = field(default_factory=list, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _saved: tuple[int, int, int] = (0, 0, 0)

    def watch(self, clients: Iterable[ChatClient]) -> None:
        """Log these clients' requests from now on (their logs are drained at each stage's end)."""
        for client in clients:
            if client not in self._clients:
                client.take_log()  # starts its log; anything before the run is not ours
                self._clients.append(client)

    def attach(self, store: Store) -> None:
        """Store what was collected so far, and each stage from now on as it ends."""
        self._store = store
        self.flush()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; when it ends (even by an error) its model requests are drained and stored."""
        started = _dt.datetime.now(_dt.UTC)
        clock = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append(StageTiming(stage=name, started_at=started,
                                           seconds=time.perf_counter() - clock))
            self._drain(name)
            self.flush()

    async def timed(self, name: str, work: Awaitable[T]) -> T:
        """``await work`` as stage ``name`` (see `stage`)."""
        with self.stage(name):
            return await work

    def count_tools(self, stage: str, outcomes: Iterable[tuple[str, bool, bool]]) -> None:
        """Record a stage's tool calls from (toolset, failed, cached) triples, one per call.

        A cached call was answered from the store: it counts in ``cached`` only.
        """
        calls: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        cached: Counter[str] = Counter()
        for toolset, failed, hit in outcomes:
            if hit:
                cached[toolset] += 1
            else:
                calls[toolset] += 1
                errors[toolset] += bool(failed)
        self.tool_calls += [ToolCallCount(stage=stage, toolset=t, calls=calls[t], errors=errors[t],
                                          cached=cached[t]) for t in sorted(calls | cached)]
        self.flush()

    def record_requests(self, stage: str, requests: Iterable[ModelRequest]) -> None:
        """Add requests made elsewhere (a batch on a worker) under ``stage``; stored with the stage."""
        self.requests += [r.model_copy(update={"stage": stage}) for r in requests]

    def _drain(self, stage: str) -> None:
        for client in self._clients:
            self.requests += [r.model_copy(update={"stage": stage}) for r in client.take_log()]

    def flush(self) -> None:
        """Send what the store has not seen yet (a no-op before `attach`)."""
        if self._store is None:
            return
        s, r, t = self._saved
        if (s, r, t) == (len(self.stages), len(self.requests), len(self.tool_calls)):
            return
        self._store.save_accounting(self.run_id, stages=self.stages[s:], requests=self.requests[r:],
                                    tool_calls=self.tool_calls[t:])
        self._saved = (len(self.stages), len(self.requests), len(self.tool_calls))

    def close(self) -> None:
        """Requests made outside any stage count under ``other``; store everything left."""
        self._drain("other")
        self.flush()

    def totals(self) -> dict[str, StageTotals]:
        """Per stage, in the order the stages first ran (stages without timing last)."""
        out: dict[str, StageTotals] = {}
        for s in self.stages:
            out.setdefault(s.stage, StageTotals()).seconds += s.seconds
        for r in self.requests:
            t = out.setdefault(r.stage, StageTotals())
            if r.cached:
                t.cached_replies += 1
                continue
            t.model_requests += 1
            t.model_errors += r.error is not None
            t.tokens_in += r.tokens_in
            t.tokens_out += r.tokens_out
        for c in self.tool_calls:
            t = out.setdefault(c.stage, StageTotals())
            t.tool_calls += c.calls
            t.tool_errors += c.errors
            t.cached_tool_calls += c.cached
        return out

    def tokens_by_endpoint(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(stage, endpoint) -> (tokens in, tokens out) of requests actually sent."""
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for r in self.requests:
            if r.cached:
                continue
            i, o = out.get((r.stage, r.endpoint), (0, 0))
            out[(r.stage, r.endpoint)] = (i + r.tokens_in, o + r.tokens_out)
        return out

