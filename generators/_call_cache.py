"""Tool calls kept across runs: look the call up, execute it on a miss, record it at once.

Every tool call the pipeline makes goes through one `CallRecorder`:
exploration, its error probes (a call repeated with a typo) and replay (the
same call made again to see whether its output changes). The recorder looks
the call up in a `CallCache` (flows/ hands in one that store/ implements, the
way `ReplyCache` serves model replies); on a miss it executes the call and
writes the result before returning it, so a run killed at any moment loses
only the calls in flight.

The key (`tool_cache_key`) hashes every input that decides the result:

- the purpose: ``"explore"`` for exploration and probes, ``"replay:1"`` for the
  first replay of a call. A replay is another execution of the same call; if it
  shared the exploration's key, the cache would answer it with the very output
  it is meant to check, and no tool would ever look volatile;
- the toolset's name and version (the server's or spec's own);
- the toolset's *scope*: what else identifies the server behind the name, the
  stdio command, the URL or the spec and base URL, and a digest of its
  credentials (see ``flows/_generate.py``). A staging and a production API
  with the same spec must not answer for each other;
- the tool and its arguments as canonical JSON (key order does not matter,
  ``1`` and ``1.0`` do).

What is cached, and what is not:

- a successful call, and a tool's own error reply (MCP ``isError``, an HTTP
  4xx, an exception raised by a Python tool). That reply is a fact about the
  tool, the material of error_recovery tasks, and a rerun gets the same one;
- not a *transient* failure, where the tool gave no answer: a timeout, a lost
  connection, an HTTP 429 or 5xx (`CallOutcome.transient`). A rerun asks again.

Nothing here decides *which* calls are made: the caller plans them from its
seed and earlier results, so a rerun plans the same calls and finds them here.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Mapping
from typing import Any, Protocol

from schemas import Observation, call_key, content_hash

from ._base import CallOutcome, Toolset
from ._outputs import upgrade_cached
from ._timing import TOOL_CLOCK

EXPLORE = "explore"


def timeout_error(timeout: float) -> str:
    """The error of an observation whose call the recorder gave up on after ``timeout`` s."""
    return f"timed out after {timeout:g} s"


def replay_purpose(attempt: int = 1) -> str:
    """The purpose of the ``attempt``-th replay of a call (its own cache entry)."""
    return f"replay:{attempt}"


class CallCache(Protocol):
    """Where tool-call results are kept across runs; flows/ hands in one that store/ implements."""

    def get_call(self, key: str) -> dict[str, Any] | None:
        """The recorded observation (its JSON) under ``key``, or None."""
        ...

    def put_call(self, key: str, purpose: str, observation: dict[str, Any]) -> None:
        """Record an observation under ``key`` now (a later result for the key replaces it)."""
        ...

    def flush(self) -> None:
        """Block until every observation put so far is stored durably."""
        ...


def tool_cache_key(
    purpose: str, scope: str, toolset: str, toolset_version: str | None, tool: str, arguments: Any
) -> str:
    """The key of one call: its purpose, the toolset's scope and the call's own `call_key`."""
    return content_hash(["tool-call", purpose, scope, call_key(toolset, toolset_version, tool, arguments)])


class CallRecorder:
    """Executes calls through a cache: a hit is returned as recorded, a miss is executed and stored.

    ``scopes`` maps a toolset name to what else identifies it (see the module
    docstring); a toolset without one is scoped by its name alone. Without a
    cache every call is executed. ``executed`` and ``hits`` count calls made
    and calls answered from the cache; `take_log` hands the per-call outcomes
    to the run's accounting.
    """

    def __init__(self, cache: CallCache | None = None, scopes: Mapping[str, str] | None = None) -> None:
        self.cache = cache
        self.scopes = dict(scopes or {})
        self.executed = 0
        self.hits = 0
        #: Cache answers for calls this recorder itself made earlier (exploration's volatility
        #: repeats, found again by replay): not from an earlier run, so not counted in ``hits``.
        self.reused = 0
        self._own: set[str] = set()
        #: Calls made ahead of their stage (exploration's volatility repeats, made under replay's
        #: purpose): logged for accounting when their stage asks for them (or, never asked, when
        #: the stage settles them), not when made: key -> (toolset, failed, from an earlier run).
        self._deferred: dict[str, tuple[str, bool, bool]] = {}
        self._log: list[tuple[str, bool, bool]] = []

    def settle_ahead(self) -> None:
        """Account the calls made ahead whose stage never asked for them, once each, as they were
        got (executed, or answered by an earlier run's record): every call is counted exactly once."""
        for name, failed, from_cache in self._deferred.values():
            self.hits += from_cache
            self._log.append((name, failed, from_cache))
        self._deferred.clear()

    def take_log(self) -> list[tuple[str, bool, bool]]:
        """(toolset, failed, cached) of every call since the last take, one per call."""
        log, self._log = self._log, []
        return log

    async def committed(self) -> None:
        """Wait until every call recorded so far is stored: a stage ends with its calls durable."""
        if self.cache is not None:
            await asyncio.to_thread(self.cache.flush)

    def key(self, purpose: str, name: str, version: str | None, tool: str, arguments: Any) -> str:
        """The cache key of a call to ``tool`` of the toolset ``name`` (at ``version``)."""
        return tool_cache_key(purpose, self.scopes.get(name, ""), name, version, tool, arguments)

    async def call(
        self, name: str, toolset: Toolset, tool: str, arguments: dict[str, Any], *, purpose: str,
        timeout: float, limit: asyncio.Semaphore | None = None,
    ) -> Observation:
        """The observation of one call: from the cache, else executed (within ``limit``) and recorded.

        ``name`` is the toolset's name in the run (the key of the mapping it came from).
        """
        observation, _transient = await self.call_outcome(name, toolset, tool, arguments, purpose=purpose,
                                                          timeout=timeout, limit=limit)
        return observation

    async def call_outcome(
        self, name: str, toolset: Toolset, tool: str, arguments: dict[str, Any], *, purpose: str,
        timeout: float, limit: asyncio.Semaphore | None = None, ahead: bool = False,
    ) -> tuple[Observation, bool]:
        """As `call`, with whether the call failed *transiently* (no answer: a timeout, a lost
        connection, HTTP 429 or 5xx). Such a failure says nothing about the tool's output.

        ``ahead``: the call is made before the stage its purpose belongs to (exploration repeating
        a call as replay will): it is counted in the accounting log when that stage asks for it.
        """
        key = self.key(purpose, name, toolset.version, tool, arguments)
        if self.cache is not None:
            hit = self.cache.get_call(key)
            if hit is not None:
                observation = Observation.model_validate(upgrade_cached(hit))
                if ahead:  # counted when its own stage asks for it (below), not now
                    self._deferred.setdefault(key, (name, observation.is_error, key not in self._own))
                elif key in self._deferred:  # asked ahead: counted now, once, as it was got
                    from_cache = self._deferred.pop(key)[2]
                    self.hits += from_cache
                    self._log.append((name, observation.is_error, from_cache))
                elif key in self._own:  # a call this run made is counted once, when it was made
                    self.reused += 1
                else:
                    self.hits += 1
                    self._log.append((name, observation.is_error, True))
                return observation, False
        if limit is None:
            observation, outcome = await self._execute(name, toolset, tool, arguments, timeout)
        else:
            async with limit:
                observation, outcome = await self._execute(name, toolset, tool, arguments, timeout)
        self.executed += 1
        deferred = ahead and self.cache is not None and not outcome.transient
        if not deferred:
            self._log.append((name, observation.is_error, False))
        if self.cache is not None and not outcome.transient:
            self.cache.put_call(key, purpose, observation.model_dump(mode="json"))
            self._own.add(key)
            if deferred:
                self._deferred[key] = (name, observation.is_error, False)
        return observation, outcome.transient

    @staticmethod
    async def _execute(
        name: str, toolset: Toolset, tool: str, arguments: dict[str, Any], timeout: float
    ) -> tuple[Observation, CallOutcome]:
        started = _dt.datetime.now(_dt.UTC)
        t0 = time.perf_counter()
        try:
            with TOOL_CLOCK:
                outcome = await asyncio.wait_for(toolset.call(tool, dict(arguments)), timeout)
        except TimeoutError:
            outcome = CallOutcome(is_error=True, error=timeout_error(timeout), transient=True)
        # A wrapper that queued the call (LimitedToolset) knows its own time apart from the wait.
        latency = outcome.latency_ms if outcome.latency_ms is not None else (time.perf_counter() - t0) * 1000
        observation = Observation(
            toolset=name,
            toolset_version=toolset.version,
            tool=tool,
            arguments=arguments,
            output=outcome.output,
            raw=outcome.raw,
            parser=outcome.parser,
            is_error=outcome.is_error,
            error=outcome.error,
            error_inferred=outcome.error_inferred,
            latency_ms=round(latency, 3),
            started_at=started,
        )
        return observation, outcome
