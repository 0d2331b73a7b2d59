"""One retry policy for every HTTP request backchain makes: model requests and OpenAPI tool calls.

A server that answers 429 (too many requests) or 503 (unavailable) often says
when to come back in ``Retry-After``, as seconds or as an HTTP date. We wait
that long (capped, plus a little jitter so that many waiting clients do not
return in the same instant); any other retryable failure waits a jittered
exponential backoff. Tenacity runs the loop; this module decides what is
retried, how long each wait is, and when to give up:

- after ``attempts`` attempts, or
- when the next wait would pass the caller's time budget (a tool call's
  timeout). Giving up then, with the server's answer in hand, keeps the cause
  in the error ("HTTP 429 ... Retry-After 60 s is past the 30 s call timeout")
  instead of letting an outer timeout fire during the sleep and report a bare
  "timed out".

What is retryable is the caller's choice (a model request may be repeated
freely; a tool call that writes may not be). When retries run out,
`RetryPolicy.run` raises `RetriesExhausted`, which carries the last error, the
attempts made and why it stopped, and describes itself in one line, e.g.
``HTTP 429 Too Many Requests after 4 attempts; Retry-After 2 s``.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception, wait_exponential_jitter

T = TypeVar("T")

#: Statuses whose Retry-After header is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})
_JITTER = 0.25  # seconds added at random to a Retry-After wait


def retry_after_seconds(response: httpx.Response, cap: float = 120.0) -> float | None:
    """Seconds a response asks us to wait (Retry-After as seconds or an HTTP date), at most ``cap``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT; a careless server may omit the zone
            when = when.replace(tzinfo=_dt.UTC)
        seconds = (when - _dt.datetime.now(_dt.UTC)).total_seconds()
    return min(max(seconds, 0.0), cap)


class RetriesExhausted(Exception):
    """A request still failed when the policy gave up; ``last`` is its final error."""

    def __init__(
        self, last: BaseException, attempts: int, stopped_by: Literal["attempts", "budget"],
        budget: float | None, left: float | None,
    ) -> None:
        self.last = last
        self.attempts = attempts
        self.stopped_by = stopped_by
        self.budget = budget
        #: Seconds of the budget left when the policy gave up, when there is a budget.
        self.left = left
        super().__init__(self.describe())

    @property
    def response(self) -> httpx.Response | None:
        """The last HTTP answer, when the last error was one."""
        return self.last.response if isinstance(self.last, httpx.HTTPStatusError) else None

    def describe(self) -> str:
        """One line: what failed, after how many attempts, and what the server asked."""
        response = self.response
        if response is not None:
            what = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        else:
            what = f"{type(self.last).__name__}: {' '.join(str(self.last).split()) or 'no details'}"
        text = f"{what} after {self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        asked = retry_after_seconds(response, cap=float("inf")) if response is not None else None
        if asked is not None:
            text += f"; Retry-After {asked:.0f} s"
        if self.stopped_by == "budget" and self.budget is not None:
            left = max(self.left or 0.0, 0.0)
            if asked is not None and asked >= left:
                text += f", more than the {left:.1f} s left of the {self.budget:g} s call timeout"
            else:
                text += f"; the next wait would pass the {self.budget:g} s call timeout"
        return text


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed request (see the module docstring)."""

    attempts: int = 4
    #: First backoff wait in seconds; it doubles each attempt (plus up to 1 s of jitter).
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    #: The longest Retry-After we honour; a server asking for more gets this much.
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be at least 1, not {self.attempts}")
        if self.backoff_initial < 0 or self.backoff_max < 0 or self.retry_after_cap < 0:
            raise ValueError("retry waits must not be negative")

    def wait(self, retry_state: RetryCallState) -> float:
        """Retry-After on 429/503 (plus jitter); otherwise jittered exponential backoff."""
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in RETRY_AFTER_STATUSES:
            asked = retry_after_seconds(exc.response, self.retry_after_cap)
            if asked is not None:
                return asked + random.uniform(0, _JITTER)
        backoff = wait_exponential_jitter(initial=self.backoff_initial, max=self.backoff_max)
        return float(backoff(retry_state))

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[BaseException], bool],
        budget: float | None = None,
    ) -> T:
        """Await ``attempt()`` until it returns, fails in a way not ``retryable``, or the policy gives up.

        ``budget`` (seconds since the first attempt began) bounds the whole
        loop: no wait is started that would not leave the next attempt some
        time (a tenth of the budget, at most 1 s) before it. Giving up raises
        `RetriesExhausted`; an error that is not retryable is raised as is.
        """
        stop = _Stop(self.attempts, budget)
        retrying = AsyncRetrying(stop=stop, wait=self.wait, retry=retry_if_exception(retryable))
        try:
            async for round_ in retrying:
                with round_:
                    return await attempt()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            assert last is not None  # tenacity raises RetryError only after a failed attempt
            raise RetriesExhausted(last, exc.last_attempt.attempt_number, stop.reason, budget,
                                   stop.left) from last
        raise AssertionError("unreachable: tenacity either returns, raises or retries")  # pragma: no cover


def _reserve(budget: float | None) -> float:
    """Time a retry must leave for its own attempt: a wait ending at the deadline is no retry."""
    return min(1.0, 0.1 * budget) if budget else 0.0


class _Stop:
    """Tenacity stop condition: out of attempts, or the next wait would pass the budget."""

    def __init__(self, attempts: int, budget: float | None) -> None:
        self.attempts = attempts
        self.budget = budget
        self.reason: Literal["attempts", "budget"] = "attempts"
        self.left: float | None = None

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self.budget is not None:
            self.left = self.budget - (retry_state.seconds_since_start or 0.0)
        if retry_state.attempt_number >= self.attempts:
            self.reason = "attempts"
            return True
        if self.left is not None and retry_state.upcoming_sleep >= self.left - _reserve(self.budget):
            self.reason = "budget"
            return True
        return False
