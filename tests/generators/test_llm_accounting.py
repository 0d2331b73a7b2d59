"""The model client's request log (accounting): tokens from the server's usage, latency, cache hits, failures.

Against the real llama.cpp server, and a loopback HTTP server that refuses
requests with HTTP 400 (llama.cpp cannot be made to refuse a valid request).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from generators import ChatClient, Endpoint
from schemas import ModelRequestRejected
from tests.generators.test_llm import DictCache


def test_each_chat_is_logged_with_the_servers_token_counts(llama_endpoint: Endpoint) -> None:
    async def go() -> None:
        cache = DictCache()
        async with ChatClient(llama_endpoint, cache=cache) as client:
            messages = [{"role": "user", "content": "Name a colour."}]
            await client.chat(messages, max_tokens=3)
            assert client.log is None and client.take_log() == []  # off until asked for
            sent = await client.chat(messages, max_tokens=4)
            again = await client.chat(messages, max_tokens=4)
            first, second = client.take_log()
            assert client.take_log() == []  # drained
            assert (first.tokens_in, first.tokens_out) == (sent.prompt_tokens, sent.completion_tokens)
            assert first.tokens_in > 0 and first.tokens_out > 0 and first.latency_ms > 0
            assert not first.cached and first.error is None and first.key in cache.data
            assert first.endpoint == llama_endpoint.url and first.model == llama_endpoint.model
            # the cache hit is logged too, as cached, with the cached reply's counts (not new tokens)
            assert again.cached and second.cached and second.key == first.key
            assert (second.tokens_in, second.tokens_out) == (first.tokens_in, first.tokens_out)
            assert client.requests == 2  # the cache hit sent nothing

    asyncio.run(go())


@pytest.fixture
def refusing_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps({"error": "context too long"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_refused_request_is_logged_with_its_error(refusing_server: str) -> None:
    async def go() -> None:
        async with ChatClient(Endpoint(refusing_server, "m", flavor="openai")) as client:
            client.take_log()
            with pytest.raises(ModelRequestRejected):
                await client.chat([{"role": "user", "content": "x"}])
            [logged] = client.take_log()
            assert logged.error is not None and "400" in logged.error
            assert (logged.tokens_in, logged.tokens_out, logged.cached) == (0, 0, False)

    asyncio.run(go())
