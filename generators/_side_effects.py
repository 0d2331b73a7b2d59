"""Side-effect classes: read, write or destructive.

Exploration calls only read tools unless the user opts in (--allow-writes; a
destructive tool additionally needs --allow TOOL). Sources, in order of
precedence: the user's override, the MCP tool annotations, the HTTP method.
A tool with no annotations gets the MCP specification's defaults: not
read-only, possibly destructive.
"""

from __future__ import annotations

from typing import Any

from schemas import SideEffect

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def classify_mcp(annotations: Any) -> tuple[SideEffect, str]:
    """Class and source from an MCP ToolAnnotations object (or None)."""
    if annotations is None:
        return "destructive", "mcp-default"
    read_only = getattr(annotations, "read_only_hint", None)
    destructive = getattr(annotations, "destructive_hint", None)
    if read_only is True:
        return "read", "annotations"
    # Spec default for destructive_hint is true when read_only_hint is false/absent.
    if destructive is False:
        return "write", "annotations"
    return "destructive", "annotations" if (read_only is not None or destructive is not None) else "mcp-default"


def classify_http(method: str) -> tuple[SideEffect, str]:
    """GET/HEAD/OPTIONS read; DELETE destroys; anything else writes."""
    method = method.upper()
    if method in _SAFE_METHODS:
        return "read", "http-method"
    if method == "DELETE":
        return "destructive", "http-method"
    return "write", "http-method"
