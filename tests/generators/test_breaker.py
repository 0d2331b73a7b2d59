"""The run's circuit breaker: its arithmetic, and what it hears from real toolsets and model servers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from generators import ChatClient, Endpoint, ErrorRateBreaker, LimitedToolset, PythonToolset
from schemas import ConfigError, ErrorRateExceeded, ModelUnavailable

from ._fault_server import FaultServer, Reply, ok

SOURCE = "toolset 'weather'"


def _feed(breaker: ErrorRateBreaker, outcomes: str, source: str = SOURCE) -> None:
    """'.' an answer, 'x' a failure."""
    for mark in outcomes:
        breaker.record(source, "HTTP 503 Service Unavailable after 4 attempts" if mark == "x" else None)


def test_opens_once_enough_calls_and_more_than_the_threshold_failed() -> None:
    breaker = ErrorRateBreaker(max_error_rate=0.5, window=10, min_calls=10)
    _feed(breaker, "xxxxxxxxx")  # nine failures, but fewer calls than min_calls
    assert not breaker.is_open
    with pytest.raises(ErrorRateExceeded) as info:
        _feed(breaker, "x")
    assert str(info.value) == (
        "stopped: 10 of the last 10 calls to toolset 'weather' failed (HTTP 503 Service Unavailable after "
        "4 attempts); the circuit breaker threshold is 50% (--max-error-rate)"
    )
    assert info.value.source == SOURCE
    with pytest.raises(ErrorRateExceeded, match="10 of the last 10"):
        breaker.check()  # open: every later call is refused too


def test_exactly_the_threshold_does_not_open_and_the_window_slides() -> None:
    breaker = ErrorRateBreaker(max_error_rate=0.5, window=10, min_calls=4)
    _feed(breaker, ".x.x.x.x.x")  # never more than half (5 of 10 at the end)
    assert not breaker.is_open
    _feed(breaker, "..........")  # the failures slide out of the window
    _feed(breaker, "xxxxx")  # 5 of the last 10
    assert not breaker.is_open
    with pytest.raises(ErrorRateExceeded, match="stopped: 6 of the last 10 calls"):
        _feed(breaker, "x")


def test_sources_are_counted_apart() -> None:
    """A dead toolset does not hide behind a healthy one's successes, nor trip it."""
    breaker = ErrorRateBreaker(max_error_rate=0.5, window=20, min_calls=5)
    for _ in range(4):
        _feed(breaker, "x", "toolset 'dead'")
        _feed(breaker, "....", "toolset 'fine'")
    assert not breaker.is_open
    with pytest.raises(ErrorRateExceeded, match="5 of the last 5 calls to toolset 'dead'"):
        _feed(breaker, "x", "toolset 'dead'")


def test_a_rate_of_one_never_opens_and_nonsense_settings_are_config_errors() -> None:
    breaker = ErrorRateBreaker(max_error_rate=1.0, window=5, min_calls=1)
    _feed(breaker, "x" * 50)
    assert not breaker.is_open
    with pytest.raises(ConfigError, match="could never open"):
        ErrorRateBreaker(window=5, min_calls=6)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        ErrorRateBreaker(max_error_rate=1.5)


def test_a_tools_own_error_replies_are_data_but_timeouts_count() -> None:
    """Real Python tools: one that raises (a normal error reply) and one that outlives its timeout."""
    calls: list[str] = []

    async def lookup(country: str) -> dict[str, str]:
        """Look a country up."""
        calls.append(country)
        raise ValueError(f"unknown country {country!r}")

    async def hang(seconds: float) -> dict[str, float]:
        """Take a long time."""
        calls.append("hang")
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    breaker = ErrorRateBreaker(max_error_rate=0.5, window=6, min_calls=3)
    toolset = LimitedToolset(PythonToolset([lookup, hang], name="geo"), timeout=0.05, breaker=breaker)

    async def go() -> list[Any]:
        async with toolset:
            errors = [await toolset.call("lookup", {"country": f"Nowhere{i}"}) for i in range(10)]
            assert all(o.is_error and not o.transient for o in errors)
            assert not breaker.is_open  # ten error replies: the tool answered every time
            timeouts = []
            for _ in range(10):
                timeouts.append(await toolset.call("hang", {"seconds": 1.0}))
            return timeouts

    with pytest.raises(ErrorRateExceeded) as info:
        asyncio.run(go())
    # 6-call window: after 4 timeouts it holds 2 replies and 4 timeouts (67%).
    assert calls.count("hang") == 4
    assert str(info.value).startswith("stopped: 4 of the last 6 calls to toolset 'geo' failed (timed out after 0.05 s)")

    async def once_more() -> None:
        async with toolset:
            await toolset.call("lookup", {"country": "France"})

    with pytest.raises(ErrorRateExceeded):
        asyncio.run(once_more())
    assert calls.count("France") == 0  # an open breaker refuses before calling


def test_a_model_endpoint_that_keeps_failing_opens_the_breaker() -> None:
    """A fault server answering 503 to every completion (llama.cpp cannot be made to)."""
    def script(method: str, path: str, before: int) -> Reply:
        return 503, {"Retry-After": "0"}, {"error": "overloaded"}

    breaker = ErrorRateBreaker(max_error_rate=0.5, window=4, min_calls=3)
    with FaultServer(script) as server:
        endpoint = Endpoint(server.url + "/v1", "m", flavor="openai")

        async def go() -> list[str]:
            ended = []
            async with ChatClient(endpoint, attempts=2, breaker=breaker) as client:
                for i in range(5):
                    try:
                        await client.chat([{"role": "user", "content": f"q{i}"}])
                    except (ModelUnavailable, ErrorRateExceeded) as exc:
                        ended.append(str(exc) if isinstance(exc, ErrorRateExceeded) else "unavailable")
            return ended

        ended = asyncio.run(go())
    # Two requests fail; the third opens the breaker; the last two are refused before sending.
    assert ended[:2] == ["unavailable", "unavailable"] and len(set(ended[2:])) == 1
    assert len(server.hits("/v1/chat")) == 6
    assert ended[2] == (
        f"stopped: 3 of the last 3 calls to model endpoint m at {server.url}/v1 failed (HTTP 503 Service "
        "Unavailable after 2 attempts; Retry-After 0 s); the circuit breaker threshold is 50% (--max-error-rate)"
    )


def test_a_refused_model_request_is_not_a_transport_failure() -> None:
    """A 400 (prompt too long) is this request's problem, not the server's."""
    def script(method: str, path: str, before: int) -> Reply:
        return (400, {}, {"error": "context length exceeded"}) if before < 5 else ok(path)

    breaker = ErrorRateBreaker(max_error_rate=0.5, window=4, min_calls=2)
    with FaultServer(script) as server:
        async def go() -> str:
            async with ChatClient(Endpoint(server.url + "/v1", "m", flavor="openai"), breaker=breaker) as client:
                for i in range(5):
                    with pytest.raises(ModelUnavailable, match="HTTP 400"):
                        await client.chat([{"role": "user", "content": f"q{i}"}])
                return (await client.chat([{"role": "user", "content": "last"}])).text

        assert asyncio.run(go()) == "ok"
    assert not breaker.is_open


def test_breaker_and_endpoint_limits_come_from_the_config_file_and_flags(tmp_path: Path) -> None:
    from flows._config import RunConfig, build_config

    config_file = tmp_path / "run.toml"
    config_file.write_text("error_window = 5\nerror_min_calls = 6\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.toml: .*error_min_calls \(6\) is larger than error_window \(5\)"):
        build_config(config_file, {})
    config_file.write_text("max_error_rate = 0.2\nerror_window = 8\nerror_min_calls = 4\nllm_rate_limit = 30\n"
                           "judge_rate_limit = 600\nllm_concurrency = 2\n", encoding="utf-8")
    config = build_config(config_file, {"max_error_rate": 0.9})  # a flag wins over the file
    assert (config.max_error_rate, config.error_window, config.error_min_calls) == (0.9, 8, 4)
    assert (config.llm_rate_limit, config.judge_rate_limit, config.llm_concurrency) == (30, 600, 2)
    defaults = RunConfig()
    assert (defaults.max_error_rate, defaults.error_window, defaults.error_min_calls) == (0.5, 20, 10)
    config_file.write_text("max_error_rate = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_error_rate"):
        build_config(config_file, {})
