"""`backchain tools --mcp CMD`: a server's tools, their side-effect class and why, before any run.

No database: the server is started, its tools listed and classified, and it is stopped. Each
tool gets its class (read, write, destructive) and the source of that class (its annotations,
or the MCP default for a tool without any), and, for a tool with no annotations, the *likely
read-only* hint read from its name and description (`generators.readonly_hint`). The flag
lines at the end are ready to paste: ``--allow-likely-readonly`` and, equivalently, one
``--allow`` per hinted tool.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from generators import MCPToolset, readonly_hint, select_tools
from schemas import Tool


@dataclass(frozen=True)
class ToolClass:
    """One tool as `backchain tools --mcp` shows it."""

    toolset: str
    tool: str
    side_effect: str
    source: str
    called: str  # "yes", "with --allow-likely-readonly", "no"
    hint: str
    required: tuple[str, ...]


_SOURCES = {
    "annotations": "its MCP annotations",
    "mcp-default": "no annotations: the MCP default (possibly destructive)",
    "http-method": "its HTTP method",
    "override": "the configuration",
}


def classify_tools(tools: Sequence[Tool]) -> list[ToolClass]:
    """Each tool's class, why, whether a run calls it, and the read-only hint for unannotated ones."""
    plain, _ = select_tools(tools)
    hinted, _ = select_tools(tools, allow_likely_readonly=True)
    called_plain = {(t.toolset, t.name) for t in plain}
    called_hinted = {(t.toolset, t.name) for t in hinted}
    out: list[ToolClass] = []
    for t in tools:
        key = (t.toolset, t.name)
        if t.side_effect_source == "mcp-default":
            h = readonly_hint(t.name, t.description)
            label = "likely read-only" if h.likely_readonly else "likely writes" if h.likely_writes else "unclear"
            hint = f"{label}: {h.why}"
        else:
            hint = ""
        called = "yes" if key in called_plain else "with --allow-likely-readonly" if key in called_hinted else "no"
        out.append(ToolClass(t.toolset, t.name, t.side_effect, _SOURCES.get(t.side_effect_source, t.side_effect_source),
                             called, hint, tuple(t.input_schema.get("required") or ())))
    return out


def flag_lines(command: str, classes: Sequence[ToolClass]) -> list[str]:
    """Ready-to-paste `backchain run` lines for the tools the hint would add."""
    hinted = [c.tool for c in classes if c.called == "with --allow-likely-readonly"]
    base = f"backchain run --mcp {shlex.quote(command)}"
    if not hinted:
        return [f"{base}   # every tool it may call is already allowed; no tool reads as likely read-only"]
    allows = " ".join(f"--allow {shlex.quote(name)}" for name in hinted)
    return [
        f"{base} --allow-likely-readonly   # adds {len(hinted)} likely read-only tool(s)",
        f"{base} {allows}",
    ]


async def inspect_mcp(command: str, *, start_timeout: float = 60.0) -> list[ToolClass]:
    """Start the server, list and classify its tools, stop it."""
    async with MCPToolset(command, start_timeout=start_timeout) as toolset:
        return classify_tools(await toolset.list_tools())
