"""Wall time during which at least one call of a kind was in flight.

Summing per-call latencies overstates time when calls run concurrently; a
benchmark that asks "what share of the run was spent waiting on the model"
needs the union of the busy intervals instead.
"""

from __future__ import annotations

import time
from types import TracebackType


class BusyClock:
    """Context manager counting wall seconds with one or more calls active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._active = 0
        self._since = 0.0

    def __enter__(self) -> BusyClock:
        if self._active == 0:
            self._since = time.perf_counter()
        self._active += 1
        self.calls += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._active -= 1
        if self._active == 0:
            self.seconds += time.perf_counter() - self._since


#: Process-wide clocks read by bench/ (tools: MCP/HTTP/Python calls; model: chat requests).
TOOL_CLOCK = BusyClock()
MODEL_CLOCK = BusyClock()
