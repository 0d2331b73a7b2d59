"""The run's circuit breaker: stop when too many recent calls to one toolset or endpoint failed.

Without it a dead API or a model server that answers 503 to everything costs
a run every request it plans, each after a full round of retries, and ends
with a version built from error rows. With it the run stops early, with one
line that says who failed, how often, and the last error:

    stopped: 9 of the last 10 calls to toolset 'weather' failed (HTTP 503 Service
    Unavailable after 4 attempts); the circuit breaker threshold is 50% (--max-error-rate)

What counts as a failure is a transport-level one: no usable answer came back
(connection refused, a timeout, HTTP 5xx, 429 after retries). A tool's own
error reply ("unknown country", a 404 for an id that does not exist) is data,
recorded like any other observation, and counts as a success here; so does a
model request the server refused as too long (4xx), and a reply that is not
what was asked for.

One breaker per run sees every tool call and model request, each after its
retries. It keeps a sliding window of the last ``window`` outcomes per source
(a toolset, or a model endpoint URL): per source, because one dead toolset
among healthy ones would otherwise hide behind their successes. Once a
source's window holds at least ``min_calls`` outcomes and the share of
failures in it exceeds ``max_error_rate``, the breaker opens: the call that
tipped it, and every later call (`check`), raises `ErrorRateExceeded`. A
``max_error_rate`` of 1 never opens (a share cannot exceed 100%).
"""

from __future__ import annotations

from collections import deque

from schemas import ConfigError, ErrorRateExceeded

#: Defaults: on for every run, opening only when more than half of a full-enough window failed.
DEFAULT_MAX_ERROR_RATE = 0.5
DEFAULT_WINDOW = 20
DEFAULT_MIN_CALLS = 10


class ErrorRateBreaker:
    """Counts transport failures per source over a sliding window; opens past a threshold."""

    def __init__(
        self,
        *,
        max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
        window: int = DEFAULT_WINDOW,
        min_calls: int = DEFAULT_MIN_CALLS,
        flag: str = "--max-error-rate",
    ) -> None:
        if not 0.0 <= max_error_rate <= 1.0:
            raise ConfigError(f"max_error_rate must be between 0 and 1, not {max_error_rate}")
        if window < 1 or min_calls < 1:
            raise ConfigError(f"error_window ({window}) and error_min_calls ({min_calls}) must be at least 1")
        if min_calls > window:
            raise ConfigError(
                f"error_min_calls ({min_calls}) is larger than error_window ({window}): the breaker could never open"
            )
        self.max_error_rate = max_error_rate
        self.window = window
        self.min_calls = min_calls
        #: How the threshold is set, named in the message (a flag, or a config key).
        self.flag = flag
        self._outcomes: dict[str, deque[str | None]] = {}
        self._open: ErrorRateExceeded | None = None

    def __repr__(self) -> str:
        return (f"ErrorRateBreaker(max_error_rate={self.max_error_rate:g}, window={self.window}, "
                f"min_calls={self.min_calls})")

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def check(self) -> None:
        """Raise `ErrorRateExceeded` if the breaker has opened: no new request may start."""
        if self._open is not None:
            raise ErrorRateExceeded(str(self._open), self._open.source)

    def record(self, source: str, error: str | None) -> None:
        """One finished call to ``source`` ("toolset 'x'", "model endpoint m at URL").

        ``error`` is the transport failure's one-line description, or None when
        an answer came back. Raises `ErrorRateExceeded` when this outcome opens
        the breaker (or it was open already).
        """
        self.check()
        outcomes = self._outcomes.setdefault(source, deque(maxlen=self.window))
        outcomes.append(error)
        if error is None or len(outcomes) < self.min_calls:
            return
        failed = sum(e is not None for e in outcomes)
        if failed / len(outcomes) <= self.max_error_rate:
            return
        last = " ".join(error.split())[:400]
        self._open = ErrorRateExceeded(
            f"stopped: {failed} of the last {len(outcomes)} calls to {source} failed ({last}); "
            f"the circuit breaker threshold is {self.max_error_rate:.0%} ({self.flag})",
            source,
        )
        self.check()
