"""The connector contract: every toolset (MCP, OpenAPI, Python) is a `Toolset`.

A toolset is an async context manager: entering it connects (starts the server
process, loads the spec), leaving it disconnects. It lists its tools with JSON
Schemas and a side-effect class, and executes one call at a time per `call`.

`call` returns a `CallOutcome`. A tool that fails (an error result, an HTTP 4xx/5xx,
an exception in a Python function) is an outcome with ``is_error=True``: an
observation like any other. A failure where the tool gave no answer at all (a
timeout, a lost connection, an HTTP 429 or 5xx) is also ``transient``. Only a
toolset that cannot be used at all raises (`ToolsetError` and subclasses).
Timing, timeouts and recording are the explorer's job, not the connector's.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from schemas import Tool


@dataclass(frozen=True)
class CallOutcome:
    """What one call returned: a JSON value (or the view of what it sent), or an error message."""

    output: Any = None
    is_error: bool = False
    error: str | None = None
    #: The call's own duration when a wrapper measured it apart from time spent queueing
    #: (see `LimitedToolset`); None when only the caller's clock knows.
    latency_ms: float | None = None
    #: The tool gave no answer (a timeout, a lost connection, HTTP 429 or 5xx): a rerun
    #: should ask again, so the call is not cached (see `CallRecorder`). A tool's own
    #: error reply is not transient.
    transient: bool = False
    #: When ``output`` is a view derived from what the tool sent (see `generators._outputs`):
    #: the raw output and the view's parser id; both None for plain JSON.
    raw: Any = None
    parser: str | None = None
    #: The tool did not flag an error, but its output reads as one (``is_error`` is then set).
    error_inferred: bool = False


class Toolset(abc.ABC):
    """Base class of connectors. Subclasses implement `list_tools` and `call`."""

    #: Stable name used in stored rows (e.g. "time", "builtin", "petstore").
    name: str
    #: Server or spec version when the toolset reports one; part of call cache keys.
    version: str | None = None

    async def __aenter__(self) -> Toolset:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:  # noqa: B027 - a toolset with nothing to connect keeps this no-op
        """Connect. Raise a `ToolsetError` subclass naming the toolset on failure."""

    async def close(self) -> None:  # noqa: B027 - likewise nothing to release
        """Disconnect and release processes or clients. Must be safe to call twice."""

    @abc.abstractmethod
    async def list_tools(self) -> list[Tool]:
        """The toolset's tools with input schemas and side-effect classes."""

    @abc.abstractmethod
    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        """Execute one call. Tool failures are outcomes with is_error, not exceptions."""
