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

Messy servers, as real ones are:

- lines a server prints on stdout that are not protocol messages (a banner before the
  handshake) are kept, not logged as tracebacks, and named in `event`;
- a JSON-RPC error reply (an unknown tool, invalid arguments) is the server's answer: an error
  outcome like ``isError``, cached like one. A reply that says it is rate limited is retried
  after a backoff within the call's timeout, and is transient if it never clears;
- a server that dies mid-run (the connection closes) makes that call transient and the
  toolset ``gone``: later calls return at once without waiting, exploration stops calling its
  tools, and `event` says when it died and what it last wrote on stderr.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import random
import re
import shlex
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import IO, Any

import anyio
import httpx2
import mcp_types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from schemas import (
    BackchainError,
    ConfigError,
    Tool,
    ToolsetError,
    ToolsetStartError,
    ToolsetUnreachable,
    raw_text,
)

from ._base import CallOutcome, Toolset
from ._children import guarded_command
from ._openapi import _needles, _redact
from ._outputs import describe_block, raw_output, viewed_outcome
from ._side_effects import classify_mcp

# The SDK's own defaults for HTTP: a server may hold a response stream open.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
_RATE_LIMITED = re.compile(r"rate.?limit|too many requests|throttl|slow down", re.IGNORECASE)
_RATE_RETRIES = 4
_CONNECTION_CLOSED = -32000  # the SDK's code for a connection that closed under a request
_MAX_NOISE = 20


class _NoProtocolNoise(logging.Filter):
    """Drops the SDK's traceback for a stdout line that is not a protocol message: the session
    that received it records the line instead (see `_MCPSession._on_message`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to parse JSONRPC message")


logging.getLogger("mcp.client.stdio").addFilter(_NoProtocolNoise())


def _noise_line(exc: BaseException) -> str:
    """The offending line of a parse error the transport surfaced (pydantic keeps it as input_value)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            value = errors()[0].get("input")
        except (IndexError, TypeError, AttributeError, ValueError):
            value = None
        if isinstance(value, (str, bytes)):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return text.strip()[:120]
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "mcp"


def _raw_result(content: Sequence[Any], structured: Any) -> dict[str, Any]:
    """An MCP result in the raw shape (see `generators._outputs`): text blocks, structured
    content, other blocks described (an embedded text resource keeps its text)."""
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, mcp_types.TextContent):
            texts.append(block.text)
        elif isinstance(block, mcp_types.EmbeddedResource):
            res = block.resource
            text = getattr(res, "text", None)
            others.append(describe_block("resource", mime_type=res.mime_type, uri=str(res.uri), text=text,
                                         data=None if text is not None else getattr(res, "blob", None)))
        elif isinstance(block, mcp_types.ResourceLink):
            others.append(describe_block("resource_link", mime_type=block.mime_type, uri=str(block.uri),
                                         name=block.name, size=block.size))
        else:  # image, audio, and any block type a later protocol adds
            kind = getattr(block, "type", type(block).__name__)
            others.append(describe_block(str(kind), mime_type=getattr(block, "mime_type", None),
                                         data=getattr(block, "data", None)))
    return raw_output(texts, structured, others)


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
        #: Lines the server wrote on stdout that were not protocol messages.
        self.noise: list[str] = []
        #: Why the server can no longer be called (it died), or None while it answers.
        self.gone: str | None = None
        self.calls_made = 0

    @property
    def event(self) -> str | None:
        """What happened to the server worth a line in the run summary, or None."""
        parts = []
        if self.noise:
            parts.append(f"wrote {len(self.noise)} non-protocol line(s) on stdout, ignored "
                         f"(first: {self.noise[0]!r})")
        if self.gone:
            parts.append(self.gone)
        return "; ".join(parts) or None

    async def _on_message(self, message: Any) -> None:
        """The session's message handler: a transport fault (a non-protocol line) is recorded."""
        if isinstance(message, Exception) and len(self.noise) < _MAX_NOISE:
            self.noise.append(_noise_line(message))

    def _stderr_tail(self) -> str:
        """The server's last line on stderr, when the transport keeps it."""
        return ""

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
            session = await stack.enter_async_context(ClientSession(read, write, message_handler=self._on_message))
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

    def _died(self, error: str) -> CallOutcome:
        """The server's connection closed under a call: it is gone for the rest of the run."""
        if self.gone is None:
            self.gone = _died_message(self._where(), self.calls_made, error, self._stderr_tail())
        return CallOutcome(is_error=True, error=error, transient=True)

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
        if self.gone:
            return CallOutcome(is_error=True, error=self.gone, transient=True)
        deadline = time.monotonic() + self.timeout
        for attempt in range(_RATE_RETRIES + 1):
            try:
                result = await session.call_tool(tool, arguments, read_timeout_seconds=self.timeout)
                break
            except MCPError as exc:  # the server's JSON-RPC error reply, or a closed connection
                message = _redact(f"{type(exc).__name__}: {exc.message or exc.code}", self._needles)
                if exc.code == _CONNECTION_CLOSED:
                    return self._died(message)
                if _RATE_LIMITED.search(message):
                    wait = 0.5 * 2**attempt + random.uniform(0, 0.25)
                    if attempt < _RATE_RETRIES and time.monotonic() + wait < deadline:
                        await anyio.sleep(wait)
                        continue
                    return CallOutcome(is_error=True, error=message, transient=True)
                # An unknown tool or invalid arguments: the server's own answer, like isError.
                self.calls_made += 1
                return CallOutcome(is_error=True, error=message[:2000])
            except Exception as exc:  # a transport failure or timeout: no answer
                message = str(exc) or type(exc).__name__
                if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, BrokenPipeError)):
                    return self._died(f"{type(exc).__name__}: {message}")
                return CallOutcome(is_error=True, error=_redact(f"{type(exc).__name__}: {message}", self._needles),
                                   transient=True)
        self.calls_made += 1
        raw = _redact(_raw_result(result.content, result.structured_content), self._needles)
        if result.is_error:
            text = raw_text(raw) or json.dumps(raw.get("structured"), ensure_ascii=False)
            return viewed_outcome(raw, is_error=True, error=(text or "tool reported an error")[:2000])
        return viewed_outcome(raw)


def _died_message(where: str, calls: int, error: str, tail: str) -> str:
    said = f"; its last words on stderr: {tail}" if tail else ""
    return f"{where} stopped answering after {calls} call(s) ({error}){said}; its tools were not called again"


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
