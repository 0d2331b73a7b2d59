"""LimitedToolset: rate limit, concurrency, timeout and overrides, measured on real calls.

The wrapped toolsets are real PythonToolsets (and the built-in MCP server);
the functions themselves record when they ran and how many ran at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from generators import LimitedToolset, MCPToolset, PythonToolset
from schemas import ConfigError
from tests.conftest import BUILTIN_CMD


class _Probe:
    """Functions that note their start times and how many of them run at once."""

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.starts: list[float] = []
        self.running = 0
        self.most = 0

    async def ping(self, n: int) -> dict[str, int]:
        """Answer after holding the line for a moment."""
        self.starts.append(time.perf_counter())
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.hold)
        finally:
            self.running -= 1
        return {"n": n}


def _toolset(probe: _Probe) -> PythonToolset:
    async def ping(n: int) -> dict[str, int]:
        return await probe.ping(n)

    async def nap(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return PythonToolset([ping, nap], name="probe", side_effects={"ping": "read"})


def _run_many(ts: LimitedToolset, count: int) -> list[Any]:
    async def go() -> list[Any]:
        async with ts:
            return list(await asyncio.gather(*(ts.call("ping", {"n": i}) for i in range(count))))

    return asyncio.run(go())


def test_rate_limit_spaces_call_starts() -> None:
    probe = _Probe()
    per_min = 600.0  # one call every 0.1 s
    outcomes = _run_many(LimitedToolset(_toolset(probe), concurrency=8, rate_limit_per_min=per_min), 8)
    assert [o.output["n"] for o in outcomes] == list(range(8))
    gaps = [b - a for a, b in zip(probe.starts, probe.starts[1:])]
    assert min(gaps) >= 0.1 - 0.01, gaps
    assert probe.starts[-1] - probe.starts[0] >= 0.7 - 0.01


def test_without_a_rate_limit_calls_start_together() -> None:
    probe = _Probe(hold=0.05)
    _run_many(LimitedToolset(_toolset(probe), concurrency=8), 8)
    assert probe.starts[-1] - probe.starts[0] < 0.05
    assert probe.most == 8


def test_concurrency_caps_calls_in_flight() -> None:
    probe = _Probe(hold=0.05)
    limited = LimitedToolset(_toolset(probe), concurrency=3)
    outcomes = _run_many(limited, 12)
    assert probe.most == 3 and limited.max_in_flight == 3
    assert not any(o.is_error for o in outcomes)


def test_timeout_is_an_error_outcome_and_latency_excludes_queueing() -> None:
    async def go() -> list[Any]:
        async with LimitedToolset(_toolset(_Probe()), concurrency=1, timeout=0.2) as ts:
            return list(await asyncio.gather(ts.call("nap", {"seconds": 5}), ts.call("nap", {"seconds": 0.01})))

    t0 = time.perf_counter()
    slow, quick = asyncio.run(go())
    assert time.perf_counter() - t0 < 2
    assert slow.is_error and slow.error == "timed out after 0.2 s"
    assert not quick.is_error and quick.output == {"slept": 0.01}
    # quick waited about 0.2 s behind slow; its latency is its own 10 ms.
    assert quick.latency_ms is not None and quick.latency_ms < 150


def test_side_effect_overrides_and_allow_are_checked_against_the_tools() -> None:
    async def go(**kwargs: Any) -> dict[str, tuple[str, str]]:
        async with LimitedToolset(_toolset(_Probe()), **kwargs) as ts:
            return {t.name: (t.side_effect, t.side_effect_source) for t in await ts.list_tools()}

    assert asyncio.run(go()) == {"ping": ("read", "override"), "nap": ("destructive", "python-default")}
    assert asyncio.run(go(side_effects={"nap": "read", "ping": "write"})) == {
        "ping": ("write", "override"), "nap": ("read", "override"),
    }
    with pytest.raises(ConfigError, match=r"side_effects names unknown tool\(s\) napp; it has: nap, ping"):
        asyncio.run(go(side_effects={"napp": "read"}))
    with pytest.raises(ConfigError, match=r"allow names unknown tool\(s\) pong"):
        asyncio.run(go(allow=["pong"]))
    with pytest.raises(ConfigError, match="not one of read, write, destructive"):
        LimitedToolset(_toolset(_Probe()), side_effects={"nap": "harmless"})  # type: ignore[dict-item]


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"rate_limit_per_min": 0}, {"timeout": -1}])
def test_bad_limits_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="probe"):
        LimitedToolset(_toolset(_Probe()), **kwargs)


def test_wraps_an_mcp_server_and_reads_its_name_through() -> None:
    async def go() -> tuple[str, str | None, list[str], set[str], Any]:
        limited = LimitedToolset(MCPToolset(BUILTIN_CMD), concurrency=2, timeout=30,
                                 side_effects={"country_info": "write"}, allow=["country_info"])
        async with limited as ts:
            tools = await ts.list_tools()
            classes = {f"{t.name}:{t.side_effect}:{t.side_effect_source}" for t in tools
                       if t.name in ("country_info", "currency_info")}
            return ts.name, ts.version, ts.allowed_names, classes, await ts.call("currency_info", {"currency_code": "EUR"})

    name, version, allowed, classes, outcome = asyncio.run(go())
    assert name == "backchain-builtin" and version and version.startswith("backchain-builtin ")
    assert allowed == ["backchain-builtin.country_info"]
    assert classes == {"country_info:write:override", "currency_info:read:annotations"}
    assert outcome.output["currency_code"] == "EUR" and outcome.latency_ms > 0
