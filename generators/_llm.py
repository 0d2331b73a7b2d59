"""An async client for any OpenAI-compatible chat server (vLLM, llama.cpp, others).

One small client instead of an SDK because the judge and the writer need the
parts each server spells differently: JSON-constrained output (llama.cpp takes
``response_format: {type: json_object, schema}``, vLLM ``structured_outputs``,
OpenAI ``json_schema``), constrained choices, and first-token logprobs.
The server's flavour is detected once from ``GET /models``.

Retries: connection errors, timeouts, 429 and 5xx are retried by the shared
`RetryPolicy` (Retry-After on 429/503, else jittered exponential backoff);
anything else fails at once. A request that still fails raises
`ModelUnavailable`; a reply that is not what was asked for raises
`ModelReplyError`. Both name the endpoint.

Limits per endpoint: ``concurrency`` requests in flight, and optionally a
``rate_limit_per_min`` (or a `Pacer` shared by every client of one server):
every HTTP attempt, retries included, takes a rate slot. A run's
`ErrorRateBreaker`, when given, hears the outcome of every request (after its
retries): a request that got no usable answer counts as a failure; a 4xx
refusal or an unusable reply does not.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from schemas import (
    ModelError,
    ModelReplyError,
    ModelRequest,
    ModelRequestRejected,
    ModelUnavailable,
    content_hash,
)

from ._breaker import ErrorRateBreaker
from ._limits import Pacer
from ._retry import RetriesExhausted, RetryPolicy
from ._timing import MODEL_CLOCK

Flavor = Literal["auto", "vllm", "llama.cpp", "openai"]
Message = Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """Where a model is served. The API key is read from an env var, never stored."""

    url: str
    model: str
    api_key_env: str | None = None
    flavor: Flavor = "auto"
    cache_scope: str | None = None
    """What cached replies are keyed by instead of the URL: a server whose URL changes from run
    to run (the bundled model on a free port) names what it serves, so a rerun finds its replies."""
    timeout: float | None = None
    """Seconds one request may take (the client's default when None)."""
    serial: bool = False
    """The server computes one request at a time (llama-cpp-python's server): the client sends one
    at a time too, so a request's timeout counts its own work, not the queue in front of it, and
    consecutive requests can reuse the server's prompt cache."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))

    def describe(self) -> str:
        return f"{self.model} at {self.url}"


@dataclass(frozen=True)
class ChatReply:
    """A completion: the text, first-token alternatives with probabilities, token usage."""

    text: str
    top_logprobs: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "top_logprobs": self.top_logprobs,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tool_calls": self.tool_calls,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatReply:
        return cls(
            text=data["text"],
            top_logprobs=dict(data.get("top_logprobs") or {}),
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            cached=True,
            tool_calls=list(data.get("tool_calls") or []),
        )


class ReplyCache(Protocol):
    """Where replies are kept across runs; flows/ hands in one that store/ implements."""

    def get_reply(self, key: str) -> dict[str, Any] | None: ...

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None: ...


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (httpx.TransportError, httpx.TimeoutException)):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return False


class ChatClient:
    """Chat completions against one endpoint, with bounded concurrency and retries."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = 120.0,
        attempts: int = 4,
        concurrency: int = 4,
        cache: ReplyCache | None = None,
        cache_scope: str | None = None,
        rate_limit_per_min: float | None = None,
        pacer: Pacer | None = None,
        breaker: ErrorRateBreaker | None = None,
    ) -> None:
        self.endpoint = endpoint
        if endpoint.timeout is not None:
            timeout = endpoint.timeout
        if endpoint.serial:
            # A timed-out request keeps the server busy until it finishes: few retries, one at a time.
            concurrency, attempts = 1, min(attempts, 2)
        self.timeout = timeout
        self.attempts = attempts
        self.retry = RetryPolicy(attempts=attempts)
        #: Spaces this client's requests (shared with other clients of the same server when given).
        self.pacer = pacer or Pacer.per_minute(rate_limit_per_min)
        self.breaker = breaker
        self.cache = cache
        # What a cached reply is keyed by besides the request: the URL, or a name
        # shared by replicas of one model so any replica's reply answers them all.
        self.cache_scope = cache_scope or endpoint.cache_scope or endpoint.url
        self._flavor: Flavor = endpoint.flavor
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.requests = 0
        # Accounting, off until a caller sets a list (flows/ does, and drains it per stage):
        # one ModelRequest per chat call, cache hits and failures included.
        self.log: list[ModelRequest] | None = None

    def take_log(self) -> list[ModelRequest]:
        """The requests logged since the last call, oldest first; logging goes on (and is on from now)."""
        taken, self.log = self.log or [], []
        return taken

    def _account(self, key: str, started: _dt.datetime, clock: float, reply: ChatReply | None,
                 error: str | None = None) -> None:
        if self.log is None:
            return
        self.log.append(ModelRequest(
            endpoint=self.endpoint.url, model=self.endpoint.model, key=key, started_at=started,
            latency_ms=(time.perf_counter() - clock) * 1000.0,
            tokens_in=reply.prompt_tokens if reply else 0, tokens_out=reply.completion_tokens if reply else 0,
            cached=reply.cached if reply else False, error=error,
        ))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _headers(self) -> dict[str, str]:
        env = self.endpoint.api_key_env
        key = os.environ.get(env) if env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def flavor(self) -> Flavor:
        """vllm, llama.cpp or openai, from the server's model list (checked once)."""
        if self._flavor != "auto":
            return self._flavor
        try:
            resp = await self._client.get(f"{self.endpoint.url}/models", headers=self._headers())
            resp.raise_for_status()
            owners = {m.get("owned_by", "") for m in resp.json().get("data", [])}
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelUnavailable(
                f"model endpoint {self.endpoint.url} did not answer GET /models: {exc}"
            ) from exc
        if "vllm" in owners:
            self._flavor = "vllm"
        elif owners & {"me", "llamacpp", "llama.cpp"}:
            self._flavor = "llama.cpp"
        else:
            self._flavor = "openai"
        return self._flavor

    async def _constraint(
        self, json_schema: Mapping[str, Any] | None, choices: Sequence[str] | None
    ) -> dict[str, Any]:
        if json_schema is None and choices is None:
            return {}
        flavor = await self.flavor()
        if choices is not None:
            if flavor == "vllm":
                return {"structured_outputs": {"choice": list(choices)}}
            alternatives = " | ".join(json.dumps(c) for c in choices)
            return {"grammar": f"root ::= {alternatives}"}
        assert json_schema is not None
        if flavor == "vllm":
            return {"structured_outputs": {"json": dict(json_schema)}}
        if flavor == "llama.cpp":
            return {"response_format": {"type": "json_object", "schema": dict(json_schema)}}
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": dict(json_schema), "strict": True},
            }
        }

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
        choices: Sequence[str] | None = None,
        top_logprobs: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One completion. Identical requests are answered from the cache when one is set."""
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            body["seed"] = seed
        if top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = top_logprobs
        body.update(await self._constraint(json_schema, choices))
        if extra:
            body.update(extra)
        key = content_hash([self.cache_scope, body])
        started, clock = _dt.datetime.now(_dt.UTC), time.perf_counter()
        if self.cache is not None:
            hit = self.cache.get_reply(key)
            if hit is not None:
                cached = ChatReply.from_json(hit)
                self._account(key, started, clock, cached)
                return cached
        try:
            reply = self._parse(await self._post(body))
        except ModelError as exc:
            self._account(key, started, clock, None, error=str(exc))
            raise
        self._account(key, started, clock, reply)
        self.requests += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        if self.cache is not None:
            self.cache.put_reply(key, self.endpoint.url, body, reply.to_json())
        return reply

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint.url}/chat/completions"
        where = f"model endpoint {self.endpoint.describe()}"

        async def attempt() -> dict[str, Any]:
            if self.breaker is not None:
                self.breaker.check()  # open: no new request starts
            if self.pacer is not None:
                await self.pacer.wait()
            with MODEL_CLOCK:
                resp = await self._client.post(url, json=body, headers=self._headers())
                resp.raise_for_status()
                return dict(resp.json())

        try:
            async with self._semaphore:
                data = await self.retry.run(attempt, retryable=_retryable)
        except RetriesExhausted as exc:
            response = exc.response
            text = f": {response.text[:200]}" if response is not None and response.text else ""
            hint = ""
            if isinstance(exc.last, httpx.TimeoutException):
                hint = (f"; each attempt waited {self.timeout:g} s: the model is slow for this machine's load, "
                        "raise --model-timeout (BACKCHAIN_MODEL_TIMEOUT) or lower --llm-concurrency/--judge-concurrency")
            self._record(exc.describe() + hint)
            raise ModelUnavailable(f"{where} failed: {exc.describe()}{_one_line(text)}{hint}") from exc
        except httpx.HTTPStatusError as exc:  # a 4xx other than 429: this request was refused
            status = exc.response.status_code
            self._record(None)
            raise ModelRequestRejected(
                f"{where} answered HTTP {status}: {_one_line(exc.response.text[:200])}", status
            ) from exc
        except (httpx.HTTPError, ValueError) as exc:
            self._record(f"{type(exc).__name__}: {exc}")
            raise ModelUnavailable(f"{where} failed: {type(exc).__name__}: {_one_line(str(exc))}") from exc
        self._record(None)
        return data

    def _record(self, failure: str | None) -> None:
        """Tell the run's breaker how this request ended (None: an answer came back)."""
        if self.breaker is not None:
            self.breaker.record(f"model endpoint {self.endpoint.describe()}", failure)

    def _parse(self, data: Mapping[str, Any]) -> ChatReply:
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelReplyError(
                f"model endpoint {self.endpoint.describe()} sent a reply without choices[0].message"
            ) from exc
        top: dict[str, float] = {}
        logprobs = choice.get("logprobs") or {}
        content = logprobs.get("content") or []
        if content:
            for alt in content[0].get("top_logprobs") or []:
                token, lp = alt.get("token"), alt.get("logprob")
                if isinstance(token, str) and isinstance(lp, (int, float)) and math.isfinite(lp):
                    # Keep the most probable spelling when a token repeats.
                    top[token] = max(top.get(token, -math.inf), float(lp))
        usage = data.get("usage") or {}
        calls = choice["message"].get("tool_calls") or []
        return ChatReply(
            text=text,
            tool_calls=[dict(c) for c in calls if isinstance(c, Mapping)],
            top_logprobs=top,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())
