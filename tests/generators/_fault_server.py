"""A real HTTP server on 127.0.0.1 that answers by a script and records what it was sent.

A fault server: it produces 429s, 503s and Retry-After headers on demand,
which no real API can be made to send at a chosen moment. It serves a small
OpenAPI document at /openapi.json (one GET and one POST operation) and an
OpenAI-compatible /v1/models and /v1/chat/completions, so the same server
stands in for a tool API and for a model endpoint under load. Each request is
recorded with the server's own monotonic clock, so tests can assert how long
the client really waited between attempts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (status, extra headers, JSON body)
Reply = tuple[int, dict[str, str], Any]
#: Called with (method, path, how many requests to that path came before) -> the reply.
Script = Callable[[str, str, int], Reply]

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Flaky API", "version": "1.0"},
    "paths": {
        "/items/{item_id}": {
            "get": {
                "operationId": "getItem",
                "summary": "Get one item by id.",
                "parameters": [{"name": "item_id", "in": "path", "required": True,
                                "schema": {"type": "integer"}, "example": 1}],
                "responses": {"200": {"description": "The item.", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"id": {"type": "integer"},
                                                                "name": {"type": "string"}}}}}}},
            }
        },
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"item_id": {"type": "integer"}}}}}},
                "responses": {"201": {"description": "Created."}},
            }
        },
    },
}


def ok(path: str) -> Reply:
    """The normal answer: a completion for the model paths, an item for the API."""
    if path.startswith("/v1/chat"):
        return 200, {}, {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 3}}
    item_id = path.rstrip("/").rsplit("/", 1)[-1]
    return 200, {}, {"id": int(item_id) if item_id.isdigit() else 0, "name": f"item {item_id}"}


@dataclass
class Seen:
    method: str
    path: str
    at: float  # the server's time.monotonic() when the request arrived


@dataclass
class FaultServer:
    script: Script
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hits(self, prefix: str) -> list[Seen]:
        """Requests whose path starts with ``prefix`` (the spec and HEAD probes are left out)."""
        return [s for s in self.seen if s.path.startswith(prefix)]

    def __enter__(self) -> FaultServer:
        outer = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest's output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(200, {}, None)

            def do_GET(self) -> None:
                if self.path == "/openapi.json":
                    self._answer(200, {}, SPEC)
                elif self.path == "/v1/models":
                    self._answer(200, {}, {"data": [{"id": "m", "owned_by": "someone"}]})
                else:
                    self._scripted()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._scripted()

            def _scripted(self) -> None:
                with lock:
                    before = sum(1 for s in outer.seen if s.path == self.path)
                    outer.seen.append(Seen(self.command, self.path, time.monotonic()))
                self._answer(*outer.script(self.command, self.path, before))

            def _answer(self, status: int, headers: dict[str, str], body: Any) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                    **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
