"""A real MCP server over streamable HTTP that checks an auth header.

`python http_auth_server.py PORT`: every request must carry X-API-Key equal to
$EXPECTED_KEY (else HTTP 401, as a gateway in front of a remote server would
answer). One tool reports what arrived; one echoes the key back, as a careless
server might, so a test can prove the client redacts it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-API-Key"
READ = ToolAnnotations(read_only_hint=True)
server = MCPServer("auth-fixture", version="1.0")


def _sent(ctx: Context) -> str | None:
    request = ctx.request_context.request
    return request.headers.get(HEADER) if isinstance(request, Request) else None


@server.tool(annotations=READ)
def whoami(ctx: Context) -> dict[str, Any]:
    """Whether the request carried the expected key."""
    return {"auth_ok": _sent(ctx) == os.environ["EXPECTED_KEY"]}


@server.tool(annotations=READ)
def echo_key(ctx: Context) -> dict[str, Any]:
    """Echo the key back (what a careless server does)."""
    return {"you_sent": _sent(ctx), "note": f"key={_sent(ctx)}"}


class _RequireKey:
    """Refuse any request without the expected key, before MCP sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and Request(scope).headers.get(HEADER) != os.environ["EXPECTED_KEY"]:
            await PlainTextResponse("missing or wrong API key", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


if __name__ == "__main__":
    app = _RequireKey(server.streamable_http_app())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
