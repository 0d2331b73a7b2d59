"""A real HTTP API on 127.0.0.1 with three endpoints, of which 30% of answers fail.

    GET /items?page=&limit=&status=    a page of items, with next_page (pagination)
    GET /items/{item_id}               one item; 404 for an id it does not have
    GET /search?q=                     items whose name contains q

Every tenth request, counted per server, fails at positions 3, 6 and 9 (a 500 at 3 and 9, a 429
at 6): 30% of answers, deterministic, whatever the order of requests. No real API fails at a
chosen rate on demand; the endpoints and data are otherwise ordinary. The OpenAPI document is at
/openapi.json. ``seen`` records each request path in order.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ITEMS = [
    {"id": i, "name": name, "status": status, "price": round(3.5 * i + 1, 2)}
    for i, (name, status) in enumerate(
        [("red kettle", "active"), ("blue mug", "active"), ("green teapot", "retired"), ("steel spoon", "active"),
         ("oak tray", "draft"), ("glass jar", "active"), ("linen towel", "retired"), ("clay bowl", "active"),
         ("brass bell", "draft"), ("wool mat", "active"), ("cork board", "active"), ("iron pan", "retired")],
        start=101)
]
PAGE = 4

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Items", "version": "1.0"},
    "paths": {
        "/items": {"get": {
            "operationId": "listItems", "summary": "List items, a page at a time.",
            "parameters": [
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 4}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "retired", "draft"]}},
            ],
            "responses": {"200": {"description": "A page of items."}},
        }},
        "/items/{item_id}": {"get": {
            "operationId": "getItem", "summary": "Get one item by its id.",
            "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "The item."}, "404": {"description": "No such item."}},
        }},
        "/search": {"get": {
            "operationId": "searchItems", "summary": "Search items by name.",
            "parameters": [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"},
                            "description": "Words in the name, e.g. 'mug'."}],
            "responses": {"200": {"description": "Matching items."}},
        }},
    },
}


def _answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
    if path == "/items":
        page = int(query.get("page", ["1"])[0])
        limit = min(int(query.get("limit", [str(PAGE)])[0]), PAGE)
        rows = [i for i in ITEMS if "status" not in query or i["status"] == query["status"][0]]
        chunk = rows[(page - 1) * limit: page * limit]
        more = page * limit < len(rows)
        return 200, {"items": chunk, "page": page, "next_page": page + 1 if more else None}
    if path.startswith("/items/"):
        tail = path.rsplit("/", 1)[-1]
        item = next((i for i in ITEMS if str(i["id"]) == tail), None)
        return (200, item) if item else (404, {"detail": f"no item {tail}"})
    if path == "/search":
        q = query.get("q", [""])[0].lower()
        return 200, {"query": q, "results": [i for i in ITEMS if q and q in i["name"]]}
    return 404, {"detail": "not found"}


@dataclass
class ItemsAPI:
    seen: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ItemsAPI:
        outer = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/openapi.json":
                    return self._send(200, SPEC, {})
                with lock:
                    outer.seen.append(self.path)
                    position = len(outer.seen) % 10
                if position in (3, 9):
                    return self._send(500, {"detail": "internal error"}, {})
                if position == 6:
                    return self._send(429, {"detail": "slow down"}, {"Retry-After": "0"})
                status, body = _answer(parts.path, parse_qs(parts.query))
                self._send(status, body, {})

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                    **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
