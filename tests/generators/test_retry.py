"""Retries of OpenAPI tool calls (the shared RetryPolicy) against a real server on 127.0.0.1.

The server (tests/generators/_fault_server.py) answers 429/503 by a script,
the faults no real API can be made to produce on cue, and notes when each
request arrived on its own clock: the waits asserted here are the ones the
server saw.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import time
from typing import Any

import httpx
import pytest

from generators import CallOutcome, LimitedToolset, OpenAPIToolset, RetryPolicy
from generators._retry import RetriesExhausted, retry_after_seconds

from ._fault_server import FaultServer, Reply, ok


def _call(server: FaultServer, tool: str = "getItem", arguments: dict[str, Any] | None = None, *,
          timeout: float = 30.0, retry: RetryPolicy | None = None, limited: bool = False) -> CallOutcome:
    async def go() -> CallOutcome:
        toolset = OpenAPIToolset(server.url + "/openapi.json", timeout=timeout, retry=retry)
        wrapped = LimitedToolset(toolset, timeout=timeout) if limited else toolset
        async with wrapped:
            return await wrapped.call(tool, arguments if arguments is not None else {"item_id": 7})

    return asyncio.run(go())


def _gaps(server: FaultServer, prefix: str = "/items") -> list[float]:
    times = [s.at for s in server.hits(prefix)]
    return [b - a for a, b in zip(times, times[1:])]


def test_429_waits_as_long_as_retry_after_asks_in_seconds_and_as_a_date_then_succeeds() -> None:
    def script(method: str, path: str, before: int) -> Reply:
        if before == 0:
            return 429, {"Retry-After": "1"}, {"error": "slow down"}
        if before == 1:  # an HTTP date 2 s ahead (whole seconds: the wait is between 1 and 2 s)
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
            return 429, {"Retry-After": email.utils.format_datetime(when, usegmt=True)}, {"error": "later"}
        return ok(path)

    with FaultServer(script) as server:
        outcome = _call(server)
    assert outcome == CallOutcome(output={"id": 7, "name": "item 7"})
    assert len(server.hits("/items")) == 3
    first, second = _gaps(server)
    assert 1.0 <= first < 2.0, first  # Retry-After: 1, plus at most 0.25 s of jitter
    assert 0.95 <= second < 2.5, second


def test_503_without_retry_after_backs_off_exponentially() -> None:
    def script(method: str, path: str, before: int) -> Reply:
        return (503, {}, {"error": "busy"}) if before < 2 else ok(path)

    with FaultServer(script) as server:
        outcome = _call(server, retry=RetryPolicy(attempts=4, backoff_initial=0.2))
    assert not outcome.is_error
    first, second = _gaps(server)
    # initial * 2**n plus up to 1 s of jitter
    assert 0.2 <= first <= 1.3 and 0.4 <= second <= 1.5, (first, second)


def test_a_server_that_always_answers_429_ends_as_a_recorded_error_without_hanging() -> None:
    with FaultServer(lambda method, path, before: (429, {"Retry-After": "1"}, {"error": "quota"})) as server:
        started = time.monotonic()
        outcome = _call(server, retry=RetryPolicy(attempts=3))
        elapsed = time.monotonic() - started
    assert outcome.is_error and outcome.transient and outcome.output == {"error": "quota"}
    assert outcome.error == 'HTTP 429 Too Many Requests after 3 attempts; Retry-After 1 s: {"error": "quota"}'
    assert len(server.hits("/items")) == 3
    assert all(gap >= 1.0 for gap in _gaps(server))
    assert elapsed < 6.0


@pytest.mark.parametrize("limited", [False, True], ids=["bare", "in LimitedToolset"])
def test_a_retry_after_past_the_call_timeout_gives_up_at_once_and_says_why(limited: bool) -> None:
    """Sleeping 60 s inside a 3 s budget would surface as a bare timeout; the 429 is the cause."""
    with FaultServer(lambda method, path, before: (429, {"Retry-After": "60"}, None)) as server:
        started = time.monotonic()
        outcome = _call(server, timeout=3.0, limited=limited)
        elapsed = time.monotonic() - started
    assert len(server.hits("/items")) == 1 and elapsed < 2.0
    assert outcome.is_error and outcome.transient
    assert outcome.error is not None
    assert outcome.error.startswith("HTTP 429 Too Many Requests after 1 attempt; Retry-After 60 s, more than the ")
    assert outcome.error.endswith(" s left of the 3 s call timeout")


def test_a_post_is_retried_on_503_but_not_on_502() -> None:
    """503 says the server did not act; after a 502 a POST may have been applied already."""
    for status, expected in ((503, 2), (502, 1)):
        def script(method: str, path: str, before: int, status: int = status) -> Reply:
            return (status, {"Retry-After": "0"}, None) if before == 0 else (201, {}, {"created": True})

        with FaultServer(script) as server:
            outcome = _call(server, "createOrder", {"item_id": 1})
        assert len(server.hits("/orders")) == expected, status
        assert outcome.is_error == (status == 502)


def test_a_refused_connection_is_retried_and_names_the_attempts() -> None:
    with FaultServer(lambda method, path, before: ok(path)) as server:
        toolset = OpenAPIToolset(server.url + "/openapi.json", timeout=30.0,
                                 retry=RetryPolicy(attempts=3, backoff_initial=0.05))

        async def go() -> CallOutcome:
            async with toolset:
                server.__exit__()  # the API goes away after start
                return await toolset.call("getItem", {"item_id": 1})

        outcome = asyncio.run(go())
    assert outcome.is_error and outcome.transient and outcome.error is not None
    assert outcome.error.startswith("request failed: GET ") and outcome.error.endswith("; 3 attempts)")
    assert "ConnectError" in outcome.error


def test_retries_exhausted_describes_itself_in_one_line() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    response = httpx.Response(503, headers={"Retry-After": "2"}, request=request)
    error = httpx.HTTPStatusError("busy", request=request, response=response)
    assert str(RetriesExhausted(error, 4, "attempts", None, None)) == (
        "HTTP 503 Service Unavailable after 4 attempts; Retry-After 2 s")
    timeout = httpx.ReadTimeout("", request=request)
    assert str(RetriesExhausted(timeout, 2, "budget", 10.0, 3.0)) == (
        "ReadTimeout: no details after 2 attempts; the next wait would pass the 10 s call timeout")


def test_retry_after_parsing() -> None:
    def response(value: str | None) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value} if value is not None else {})

    assert retry_after_seconds(response("3")) == 3.0
    assert retry_after_seconds(response("100000")) == 120.0  # capped
    assert retry_after_seconds(response("100000"), cap=5) == 5.0
    assert retry_after_seconds(response("-4")) == 0.0
    assert retry_after_seconds(response(None)) is None
    assert retry_after_seconds(response("soon")) is None
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(response(later)) or 0) <= 30
    past = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(response(past)) == 0.0


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)
