"""Per-toolset limits: concurrency, requests per minute, a per-call timeout, class overrides.

Real servers have rules the explorer cannot know: a public API allows 60
requests a minute, a local server falls over past 4 concurrent calls, one slow
endpoint needs 90 s while the rest answer in one. `LimitedToolset` wraps any
`Toolset` and applies one toolset's rules at the single place every call passes
through, so exploration, replay and any later caller obey them without each
knowing the configuration.

Order inside `call`: take a concurrency slot, then wait for the next rate slot,
then run the call under the timeout. Taking the concurrency slot first keeps
calls spaced when they start: had they waited for a rate slot first, calls
queued behind the semaphore would start back to back when it opened. The
timeout covers only the call itself, not the time spent queueing, so a call is
never reported as timed out because the toolset was busy. For the same reason
the outcome carries ``latency_ms``, the call's own time: a caller timing the
whole `call` would count the queue as the tool's latency.

The rate limit is a pacer: calls start at least ``60 / rate_limit_per_min``
seconds apart, never in bursts. That is stricter than a token bucket with a
full minute of burst, and it is what keeps a server that also enforces
per-second limits from answering 429.

Every call's outcome is reported to the run's circuit breaker when one is
given (`ErrorRateBreaker`): a transient outcome (no answer from the tool) as a
failure, anything else as a success. Once the breaker is open, `call` raises
`ErrorRateExceeded` instead of calling.

`Pacer` is shared with the model client (`ChatClient`), which spaces its
requests to one endpoint the same way.

Side-effect overrides replace a tool's class with the user's (source
``override``); an override or an allow entry naming a tool the toolset does not
have is a `ConfigError`, so a typo cannot silently leave a write tool callable
or a read tool skipped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Collection, Mapping
from typing import Any, get_args

from schemas import ConfigError, SideEffect, Tool

from ._base import CallOutcome, Toolset
from ._breaker import ErrorRateBreaker

_SIDE_EFFECTS = get_args(SideEffect)


class Pacer:
    """Start times at least ``interval`` seconds apart (slots are reserved in call order)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0

    @classmethod
    def per_minute(cls, rate: float | None) -> Pacer | None:
        """A pacer for ``rate`` requests per minute; None for no limit."""
        return cls(60.0 / rate) if rate else None

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Reserve the slot before sleeping: no await between reading and writing _next.
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class LimitedToolset(Toolset):
    """A toolset with its own concurrency, rate limit, timeout and side-effect overrides."""

    def __init__(
        self,
        inner: Toolset,
        *,
        concurrency: int = 4,
        rate_limit_per_min: float | None = None,
        timeout: float | None = None,
        side_effects: Mapping[str, SideEffect] | None = None,
        allow: Collection[str] = (),
        breaker: ErrorRateBreaker | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"toolset {inner.name or inner!r}: concurrency must be at least 1, not {concurrency}")
        if rate_limit_per_min is not None and rate_limit_per_min <= 0:
            raise ConfigError(
                f"toolset {inner.name or inner!r}: rate_limit must be a positive number of requests "
                f"per minute, not {rate_limit_per_min}"
            )
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"toolset {inner.name or inner!r}: timeout must be positive, not {timeout}")
        bad = {tool: cls for tool, cls in (side_effects or {}).items() if cls not in _SIDE_EFFECTS}
        if bad:
            tool, cls = next(iter(bad.items()))
            raise ConfigError(
                f"toolset {inner.name or inner!r}: side effect {cls!r} for {tool} is not one of "
                f"{', '.join(_SIDE_EFFECTS)}"
            )
        self.inner = inner
        self.concurrency = concurrency
        self.rate_limit_per_min = rate_limit_per_min
        self.timeout = timeout
        self.side_effects: dict[str, SideEffect] = dict(side_effects or {})
        #: Tool names (of this toolset) to call whatever their class.
        self.allow = tuple(allow)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._pacer = Pacer.per_minute(rate_limit_per_min)
        #: The run's circuit breaker, told the outcome of every call.
        self.breaker = breaker
        self._in_flight = 0
        #: The most calls that were running inside the inner toolset at once.
        self.max_in_flight = 0

    # The inner toolset learns its name and version when it starts (an MCP
    # server's own name), so both are read through, never copied.
    @property
    def name(self) -> str:
        return self.inner.name

    @name.setter
    def name(self, value: str) -> None:
        self.inner.name = value

    @property
    def version(self) -> str | None:
        return self.inner.version

    @version.setter
    def version(self, value: str | None) -> None:
        self.inner.version = value

    def __repr__(self) -> str:
        limits = [f"concurrency={self.concurrency}"]
        if self.rate_limit_per_min:
            limits.append(f"rate_limit_per_min={self.rate_limit_per_min:g}")
        if self.timeout:
            limits.append(f"timeout={self.timeout:g}")
        return f"LimitedToolset({self.inner!r}, {', '.join(limits)})"

    @property
    def gone(self) -> str | None:
        """Why the wrapped server can no longer be called (it died), or None."""
        return getattr(self.inner, "gone", None)

    @property
    def event(self) -> str | None:
        """What happened to the wrapped server worth a line in the run summary, or None."""
        return getattr(self.inner, "event", None)

    @property
    def allowed_names(self) -> list[str]:
        """The allow entries qualified as ``toolset.tool``, as `select_tools` accepts them."""
        return [f"{self.name}.{tool}" for tool in self.allow]

    async def start(self) -> None:
        # Fresh primitives per start: an asyncio primitive belongs to the loop that first used it.
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._pacer = Pacer(self._pacer.interval) if self._pacer is not None else None
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def list_tools(self) -> list[Tool]:
        tools = await self.inner.list_tools()
        names = {t.name for t in tools}
        for what, given in (("side_effects", self.side_effects), ("allow", self.allow)):
            unknown = sorted(set(given) - names)
            if unknown:
                raise ConfigError(
                    f"toolset {self.name!r}: {what} names unknown tool(s) {', '.join(unknown)}; "
                    f"it has: {', '.join(sorted(names))}"
                )
        return [
            t.model_copy(update={"side_effect": self.side_effects[t.name], "side_effect_source": "override"})
            if t.name in self.side_effects else t
            for t in tools
        ]

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        async with self._semaphore:
            if self._pacer is not None:
                await self._pacer.wait()
            if self.breaker is not None:
                self.breaker.check()  # open: no new call starts
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            t0 = time.perf_counter()
            try:
                outcome = await asyncio.wait_for(self.inner.call(tool, arguments), self.timeout)
            except TimeoutError:
                outcome = CallOutcome(is_error=True, error=f"timed out after {self.timeout:g} s", transient=True)
            finally:
                self._in_flight -= 1
            if self.breaker is not None:
                failure = (outcome.error or "no answer") if outcome.transient else None
                self.breaker.record(f"toolset {self.name!r}", failure)
        # The call's own time, without the queueing above: what the tool took, not what we waited.
        return dataclasses.replace(outcome, latency_ms=round((time.perf_counter() - t0) * 1000, 3))
