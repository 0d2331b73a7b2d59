"""Per-endpoint limits of the model client, measured on real requests to the llama.cpp server."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx

from flows._config import RunConfig
from flows._generate import _model_pacers
from generators import ChatClient, Endpoint, Pacer


def _send_times(client: ChatClient) -> list[float]:
    """When each HTTP request left the client (an httpx request hook on the client's connection)."""
    sent: list[float] = []

    async def note(request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            sent.append(time.monotonic())

    client._client.event_hooks = {"request": [note], "response": []}
    return sent


def _ask_at_once(client: ChatClient, n: int) -> None:
    async def go() -> None:
        async with client:
            await asyncio.gather(*(client.chat([{"role": "user", "content": f"Say {i}."}], max_tokens=1)
                                   for i in range(n)))

    asyncio.run(go())


def test_requests_per_minute_spaces_real_requests(llama_endpoint: Endpoint) -> None:
    client = ChatClient(llama_endpoint, concurrency=4, rate_limit_per_min=120)  # one every 0.5 s
    sent = _send_times(client)
    _ask_at_once(client, 4)
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert len(sent) == 4 and min(gaps) >= 0.5 - 0.02, gaps


def test_without_a_rate_limit_requests_leave_together(llama_endpoint: Endpoint) -> None:
    """The control: the spacing above is the limit's, not the server's. (The bundled endpoint is
    serial, sent one request at a time; here it is addressed as any concurrent server would be.)"""
    client = ChatClient(dataclasses.replace(llama_endpoint, serial=False), concurrency=4)
    sent = _send_times(client)
    _ask_at_once(client, 4)
    assert len(sent) == 4 and sent[-1] - sent[0] < 0.3, sent


def test_clients_sharing_a_pacer_share_the_rate(llama_endpoint: Endpoint) -> None:
    """A writer and a judge on one server: one budget of requests per minute, not one each."""
    pacer = Pacer(0.4)
    first, second = ChatClient(llama_endpoint, pacer=pacer), ChatClient(llama_endpoint, pacer=pacer)
    sent = _send_times(first)
    sent_second = _send_times(second)

    async def go() -> None:
        async with first, second:
            await asyncio.gather(*(c.chat([{"role": "user", "content": f"Hi {i}."}], max_tokens=1)
                                   for i, c in enumerate([first, second, first, second])))

    asyncio.run(go())
    both = sorted(sent + sent_second)
    assert len(both) == 4 and min(b - a for a, b in zip(both, both[1:])) >= 0.4 - 0.02


def test_the_run_gives_each_model_server_one_pacer() -> None:
    writer = Endpoint("http://127.0.0.1:1/v1", "w")
    judge_a, judge_b = Endpoint("http://127.0.0.1:2/v1", "j"), Endpoint("http://127.0.0.1:3/v1", "j")
    config = RunConfig(llm_rate_limit=60, judge_rate_limit=30)
    pacers = _model_pacers(config, writer, [judge_a, judge_b])
    assert {url: p.interval for url, p in pacers.items()} == {
        writer.url: 1.0, judge_a.url: 2.0, judge_b.url: 2.0}
    shared = _model_pacers(config, writer, [writer])  # the judge falls back to the writer's server
    assert list(shared) == [writer.url] and shared[writer.url].interval == 2.0  # the stricter
    assert _model_pacers(RunConfig(), writer, [judge_a]) == {}
