"""MCP toolsets: a server process over stdio, or a server at a URL over streamable HTTP.

Like any MCP client, backchain starts a stdio server as a child process from a
command line, so a server that needs another `mcp` version lives in its own
venv and is still reachable. The server's stderr goes to a temp file: its last
lines are quoted when the server fails to start, and they never mix with our
terminal output.

A remote server (or a local one that listens on a port) is reached over the
streamable HTTP transport. Its auth headers follow the OpenAPI toolset's rule:
``auth_headers`` maps a header to an environment variable *name*; the value is
read when connecting, held only by the HTTP client, never stored or logged,
and redacted from any output that echoes it.

Both transports share the session code in `_MCPSession`: the handshake, tool
listing with pagination and side-effect classes, and calls whose failures are
outcomes rather than exceptions.
"""

from __future__ import annotations

import abc
import json
import os
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import IO, Any

import anyio
import httpx2
import mcp_types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from schemas import BackchainError, ConfigError, Tool, ToolsetError, ToolsetStartError, ToolsetUnreachable

from ._base import CallOutcome, Toolset
from ._children import guarded_command
from ._openapi import _needles, _redact
from ._side_effects import classify_mcp

# The SDK's own defaults for HTTP: a server may hold a response stream open.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


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


def _root_cause(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (anyio wraps transport failures in one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class _MCPSession(Toolset):
    """What both transports share: handshake, tool listing, calls."""

    def __init__(self, *, name: str | None, timeout: float, start_timeout: float) -> None:
        self._given_name = name
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._stack: AsyncExitStack | None = None
        self._session: ClientSession | None = None
        self._tools: list[Tool] | None = None
        #: Secret values to redact from outputs (set while connected, never stored).
        self._needles: list[str] = []

    @abc.abstractmethod
    def _where(self) -> str:
        """The server as error messages name it: its command or its URL."""

    @abc.abstractmethod
    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        """Enter the transport's context on ``stack``; return its (read, write) streams."""

    def _start_failure(self, exc: BaseException) -> ToolsetError:
        """The one-line error for a server that did not complete the handshake."""
        why = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return ToolsetStartError(f"{self._where()} did not start ({why})")

    async def start(self) -> None:
        stack = AsyncExitStack()
        try:
            # The timeout wraps only the handshake: a cancel scope must not
            # enclose contexts that stay open after it.
            read, write = await self._open_transport(stack)
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(self.start_timeout):
                init = await session.initialize()
        except BaseException as exc:
            failure: BaseException = exc
            try:
                await stack.aclose()
            except BaseException as closing:
                # A transport task that fails (connection refused) cancels the
                # handshake; its own error surfaces only when its task group closes.
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    failure = closing
            cause = _root_cause(failure)
            if isinstance(cause, BackchainError):
                raise cause from exc
            if not isinstance(cause, Exception):
                raise
            raise self._start_failure(cause) from exc
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
            return CallOutcome(is_error=True, error=_redact(f"{type(exc).__name__}: {message}", self._needles),
                               transient=True)
        if result.structured_content is not None:
            output = result.structured_content
        else:
            output = _content_to_json(result.content)
        output = _redact(output, self._needles)
        if result.is_error:
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            return CallOutcome(output=output, is_error=True, error=(text or "tool reported an error")[:2000])
        return CallOutcome(output=output)


class MCPToolset(_MCPSession):
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
        super().__init__(name=name, timeout=timeout, start_timeout=start_timeout)
        self.command = argv
        self.name = name or _slug(argv[0].rsplit("/", 1)[-1])
        self._env = dict(env or {})
        self._cwd = cwd
        self._errlog: IO[str] | None = None

    def __repr__(self) -> str:
        return f"MCPToolset({shlex.join(self.command)!r}, name={self.name!r})"

    def _where(self) -> str:
        return f"MCP server command {shlex.join(self.command)!r}"

    def _stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        self._errlog.flush()
        self._errlog.seek(0)
        lines = [line.strip() for line in self._errlog.read().splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        # Through the guard: the server (and what it starts) dies with this process, even on SIGKILL.
        guarded = guarded_command(self.command)
        params = StdioServerParameters(
            command=guarded[0], args=guarded[1:], env=self._env or None, cwd=self._cwd
        )
        read, write = await stack.enter_async_context(stdio_client(params, errlog=self._errlog))
        return read, write

    def _start_failure(self, exc: BaseException) -> ToolsetError:
        failure = super()._start_failure(exc)
        tail = self._stderr_tail()
        return type(failure)(f"{failure}; stderr: {tail}") if tail else failure

    async def start(self) -> None:
        try:
            await super().start()
        except BaseException:
            self._close_errlog()
            raise

    async def close(self) -> None:
        await super().close()
        self._close_errlog()

    def _close_errlog(self) -> None:
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None


class MCPHTTPToolset(_MCPSession):
    """A toolset served by an MCP server at a URL, over the streamable HTTP transport."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        auth_headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        start_timeout: float = 60.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"MCP server URL {url!r} must start with http:// or https://")
        super().__init__(name=name, timeout=timeout, start_timeout=start_timeout)
        self.url = url
        # Known after start() when not given: a slug of the server's name.
        self.name = name or _slug(httpx2.URL(url).host or "mcp")
        self._auth_env = dict(auth_headers or {})

    def __repr__(self) -> str:
        return f"MCPHTTPToolset({self.url!r}, name={self.name!r})"

    def _where(self) -> str:
        return f"MCP server at {self.url}"

    def _start_failure(self, exc: BaseException) -> ToolsetError:
        if isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout)):
            return ToolsetUnreachable(
                f"{self._where()} does not answer ({type(exc).__name__}: {exc or 'no details'}); "
                "start the server or check the URL"
            )
        return super()._start_failure(exc)

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        missing = [env for env in self._auth_env.values() if not os.environ.get(env)]
        if missing:
            raise ConfigError(f"{self._where()}: auth header environment variable(s) "
                              f"{', '.join(missing)} not set; export them before running")
        headers = {header: os.environ[env] for header, env in self._auth_env.items()}
        self._needles = _needles(headers.values())
        client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT))
        read, write = await stack.enter_async_context(streamable_http_client(self.url, http_client=client))
        return read, write
