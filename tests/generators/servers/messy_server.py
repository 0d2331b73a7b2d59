"""A real MCP server that behaves like many real ones do: messily.

- prints banner lines on stdout before the protocol starts, and sleeps $SLOW_START seconds first;
- answers in prose: values (a commit hash, a date, a file path, an order id) exist only in text;
- reports a failure as ordinary text ("Error: ...") with is_error false;
- returns an image block, and an embedded text resource;
- dies (the process exits) on the call after $DIE_AFTER calls, when that is set.

No annotations: every tool reads as likely read-only by its name.
"""

from __future__ import annotations

import base64
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import EmbeddedResource, ImageContent, TextContent, TextResourceContents

print("messy-server 0.1 starting...", flush=True)  # banner lines on stdout, before the protocol
print("listening on stdio", flush=True)
time.sleep(float(os.environ.get("SLOW_START", "0")))

server = MCPServer("messy-fixture", version="0.1")
_calls = {"n": 0}
_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
_COMMITS = {"ord-1001": "9f86d0818", "ord-1002": "3c59dc048"}


def _count() -> None:
    _calls["n"] += 1
    die_after = int(os.environ.get("DIE_AFTER", "0"))
    if die_after and _calls["n"] > die_after:
        sys.stderr.write("messy-server: fatal: out of memory\n")
        sys.stderr.flush()
        os._exit(3)


@server.tool()
def list_orders() -> str:
    """List the recent orders."""
    _count()
    return "Recent orders:\n- ord-1001 (shipped)\n- ord-1002 (packed)"


@server.tool()
def get_order(order_id: str) -> str:
    """Get one order by its id, e.g. ord-1001."""
    _count()
    commit = _COMMITS.get(order_id)
    if commit is None:
        return f"Error: unknown order {order_id}"
    return f"Order {order_id} was built from commit {commit} on 2024-03-01 and shipped to Paris as report.pdf."


@server.tool()
def get_commit(sha: str) -> str:
    """Get the author of a commit by its hash."""
    _count()
    authors = {"9f86d0818": "Ada Lovelace", "3c59dc048": "Grace Hopper"}
    if sha not in authors:
        return f"Invalid commit: {sha}"
    return f"Commit {sha} was written by {authors[sha]} and touched 3 files."


@server.tool()
def show_chart() -> list[TextContent | ImageContent]:
    """Show a chart of the week's orders."""
    _count()
    return [TextContent(type="text", text="Orders this week: 14 (up 8%)"),
            ImageContent(type="image", data=_PNG, mime_type="image/png")]


@server.tool()
def find_parcel(parcel_id: str) -> str:
    """Find a parcel by its id."""
    _count()
    return f"Parcel {parcel_id} not found."


@server.tool()
def get_manual() -> list[EmbeddedResource]:
    """Get the shipping manual."""
    _count()
    return [EmbeddedResource(type="resource", resource=TextResourceContents(
        uri="file:///manual.txt", mime_type="text/plain", text="Parcels ship within 2 days."))]


if __name__ == "__main__":
    server.run("stdio")
