"""A model that answers too slowly: the request is retried within its budget, then one line says
which endpoint and what to change.

The server here accepts connections and never answers: a busy CPU model can be made that slow
only by loading the machine, so this stands in for the fault (a real socket on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from generators import ChatClient, Endpoint
from schemas import ModelUnavailable


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[float]]]:
    """An HTTP port that reads requests and never replies; records when each connection came."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    seen: list[float] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            seen.append(time.monotonic())
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", seen
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_slow_model_times_out_with_a_line_that_says_what_to_change(silent_server: tuple[str, list[float]]) -> None:
    url, seen = silent_server
    endpoint = Endpoint(url, "slow-model", flavor="llama.cpp", timeout=0.5, serial=True)

    async def go() -> None:
        async with ChatClient(endpoint, attempts=4, concurrency=4) as client:
            assert client.timeout == 0.5 and client.attempts == 2  # serial: its own budget, few retries
            await asyncio.gather(*(client.chat([{"role": "user", "content": f"q{i}"}], max_tokens=1)
                                   for i in range(2)))

    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        asyncio.run(go())
    message = str(caught.value)
    assert "\n" not in message and url in message and "slow-model" in message
    assert "each attempt waited 0.5 s" in message and "--model-timeout" in message
    assert "BACKCHAIN_MODEL_TIMEOUT" in message
    # One request at a time (serial): the first request's attempts all came before the second's.
    assert len(seen) >= 2 and time.monotonic() - started >= 1.0
    assert all(b - a >= 0.4 for a, b in zip(seen, seen[1:]))
