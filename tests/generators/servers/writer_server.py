"""A real MCP server with one read tool, one write tool and one unannotated tool.

Each tool appends its name to the file named by $WRITE_LOG when called, so a
test can prove from outside the process which tools were executed.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("writer-fixture", version="1.0")


def _log(name: str) -> None:
    with open(os.environ["WRITE_LOG"], "a", encoding="utf-8") as fh:
        fh.write(name + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_note(note_id: str) -> dict[str, str]:
    """Read a note by id."""
    _log("read_note")
    return {"note_id": note_id, "text": f"note {note_id}"}


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def write_note(note_id: str, text: str) -> dict[str, str]:
    """Write a note."""
    _log("write_note")
    return {"note_id": note_id, "status": "written"}


@server.tool()
def purge_notes(note_id: str) -> dict[str, str]:
    """Delete notes (no annotations: the MCP spec's defaults say possibly destructive)."""
    _log("purge_notes")
    return {"note_id": note_id, "status": "purged"}


if __name__ == "__main__":
    server.run("stdio")
