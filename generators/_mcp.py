"""MCP over stdio: run the server command the user gives, speak the protocol with the SDK.

Like any MCP client, backchain starts the server as a child process from a
command line, so a server that needs another `mcp` version lives in its own
venv and is still reachable. The server's stderr goes to a temp file: its last
lines are quoted when the server fails to start, and they never mix with our
terminal output.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import IO, Any

import anyio
import mcp_types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from schemas import Tool, ToolsetStartError

from ._base import CallOutcome, Toolset
from ._side_effects import classify_mcp


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "mcp"


def _content_to_json(content: Sequence[Any]) -> Any:
    """Text blocks joined (parsed as JSON when they are JSON); other blocks described."""
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, mcp_types.TextContent):
            texts.append(block.text)
        else:
            kind = getattr(block, "type", type(block).__name__)
            others.append({"type": kind, "mime_type": getattr(block, "mime_type", None)})
    text = "\n".join(texts)
    if not others:
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text
    return {"text": text, "content": others} if text else {"content": others}


class MCPToolset(Toolset):
    """A toolset served by an MCP server process over stdio."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float = 30.0,
        start_timeout: float = 60.0,
    ) -> None:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise ToolsetStartError("empty MCP server command")
        self.command = argv
        self._given_name = name
        self.name = name or _slug(argv[0].rsplit("/", 1)[-1])
        self._env = dict(env or {})
        self._cwd = cwd
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._stack: AsyncExitStack | None = None
        self._session: ClientSession | None = None
        self._errlog: IO[str] | None = None
        self._tools: list[Tool] | None = None

    def __repr__(self) -> str:
        return f"MCPToolset({shlex.join(self.command)!r}, name={self.name!r})"

    def _stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        self._errlog.flush()
        self._errlog.seek(0)
        lines = [line.strip() for line in self._errlog.read().splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    async def start(self) -> None:
        cmd = shlex.join(self.command)
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        stack = AsyncExitStack()
        params = StdioServerParameters(
            command=self.command[0], args=self.command[1:], env=self._env or None, cwd=self._cwd
        )
        try:
            # The timeout wraps only the handshake: a cancel scope must not
            # enclose contexts that stay open after it.
            read, write = await stack.enter_async_context(stdio_client(params, errlog=self._errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(self.start_timeout):
                init = await session.initialize()
        except BaseException as exc:
            tail = self._stderr_tail()
            await stack.aclose()
            if not isinstance(exc, Exception):
                raise
            why = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            detail = f"; stderr: {tail}" if tail else ""
            raise ToolsetStartError(
                f"MCP server command {cmd!r} did not start ({why}){detail}"
            ) from exc
        self._stack = stack
        self._session = session
        info = init.server_info
        if self._given_name is None:
            self.name = _slug(info.name)
        self.version = f"{info.name} {info.version}"

    async def close(self) -> None:
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            await stack.aclose()
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def _require_session(self) -> ClientSession:
        if self._session is None:
            raise ToolsetStartError(f"MCP toolset {self.name!r} is not started")
        return self._session

    async def list_tools(self) -> list[Tool]:
        if self._tools is not None:
            return self._tools
        session = self._require_session()
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await session.list_tools(params=params)
            for t in result.tools:
                side_effect, source = classify_mcp(t.annotations)
                tools.append(
                    Tool(
                        toolset=self.name,
                        name=t.name,
                        description=(t.description or "").strip(),
                        input_schema=dict(t.input_schema),
                        output_schema=dict(t.output_schema) if t.output_schema else None,
                        side_effect=side_effect,
                        side_effect_source=source,
                    )
                )
            cursor = result.next_cursor
            if not cursor:
                break
        self._tools = tools
        return tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        session = self._require_session()
        try:
            result = await session.call_tool(tool, arguments, read_timeout_seconds=self.timeout)
        except Exception as exc:  # protocol error, timeout, dead server: an observation
            message = str(exc) or type(exc).__name__
            return CallOutcome(is_error=True, error=f"{type(exc).__name__}: {message}")
        if result.structured_content is not None:
            output = result.structured_content
        else:
            output = _content_to_json(result.content)
        if result.is_error:
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            return CallOutcome(output=output, is_error=True, error=(text or "tool reported an error")[:2000])
        return CallOutcome(output=output)
