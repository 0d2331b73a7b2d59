"""Judge leaves: one yes/no question per request, scored from first-token logprobs.

p(yes) = P(yes variants) / (P(yes variants) + P(no variants)) over the top
alternatives of the single generated token (max_tokens 1, temperature 0);
coverage = P(yes) + P(no) says how much of the model's mass answered the
question at all.

Low coverage (below ``min_coverage``) means the judge did not answer the
question: the leaf is asked again as a constrained choice (a llama.cpp GBNF
grammar, vLLM ``structured_outputs.choice``), sampled ``votes`` times
(temperature > 0, one seed each: the seed is part of the request, so the reply
cache keeps three replies, not one), and p(yes) becomes the yes share of the
votes, so the majority decides a leaf at the default threshold 0.5. The leaf
records its coverage and the votes. When no answer gets a majority, or a
request fails, `score` raises ModelError and the rubric marks the example
judge_error: dropped from the version, never scored 0.

Information barrier: the prompt holds the tools, the task the user sees, the
trace and the final answer. It never holds the writer's prompt or notes.

Cost. All leaves of one example share the messages up to the question, which
comes last, so a server that reuses a prompt prefix evaluates the shared part
once. How that is exploited depends on the server (`session`):

- llama.cpp has one slot and reuses only the previous request's prefix, so a
  session holds one server for one example until its leaves are done: its
  leaves run back to back and the prefix is evaluated once. Examples queue for
  the next free server.
- vLLM (automatic prefix caching, many sequences at once) keeps every
  example's prefix in its block cache: sessions do not hold a server, examples
  run concurrently up to each client's concurrency limit, and requests go
  round-robin over the servers by example.

With Qwen3 on vLLM the judge sends ``chat_template_kwargs: {enable_thinking:
false}``: a thinking model's first token would be ``<think>``, not an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from generators import ChatClient, Endpoint, ReplyCache
from schemas import ConfigError, Example, JudgeSettings, ModelError, ModelReplyError, Tool

_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}
_CHOICES = ("yes", "no")

JUDGE_SYSTEM = (
    "You are a strict reviewer of training examples for tool-using assistants. "
    "You see the tools, the user's request, the tool calls that were made with their "
    "results, and the assistant's final answer. Answer each question with exactly one "
    "word: yes or no."
)


@dataclass(frozen=True)
class JudgeScore:
    """One leaf's verdict: p(yes), the yes+no mass, and how it was reached."""

    p_yes: float
    coverage: float
    note: str = ""
    votes: tuple[int, int] | None = None  # (yes, no) of the constrained retry, when there was one


def _variant(token: str) -> str:
    return token.strip().strip(".,!:;\"'").casefold()


def yes_no_mass(top_logprobs: dict[str, float]) -> tuple[float, float]:
    """Probability mass on yes-variants and on no-variants among the alternatives."""
    yes = no = 0.0
    for token, logprob in top_logprobs.items():
        word = _variant(token)
        if word in _YES:
            yes += math.exp(logprob)
        elif word in _NO:
            no += math.exp(logprob)
    return yes, no


def score_from_logprobs(top_logprobs: dict[str, float]) -> JudgeScore | None:
    """p(yes) and coverage from first-token alternatives; None when no yes/no is among them."""
    yes, no = yes_no_mass(top_logprobs)
    if yes + no <= 0:
        return None
    return JudgeScore(p_yes=yes / (yes + no), coverage=min(1.0, yes + no))


#: Characters of one tool result the judge sees; of a tool description; tools listed for a no_call task.
RESULT_CHARS = 600
DESCRIPTION_CHARS = 160
NO_CALL_TOOLS = 12


def _first_sentence(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    text = " ".join(text.split())
    cut = text.find(". ")
    text = text[: cut + 1] if 0 <= cut < limit else text
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def tool_signature(tool: Tool) -> str:
    """One compact line: ``name(param: type, other?: type): first sentence of the description``.

    A judge needs what a tool does and takes, not its whole JSON Schema: on a CPU a
    schema costs seconds of prompt evaluation per example."""
    props = tool.input_schema.get("properties") or {}
    required = set(tool.input_schema.get("required") or [])
    params = []
    for name, schema in props.items():
        kind = schema.get("type", "any") if isinstance(schema, dict) else "any"
        if isinstance(kind, list):
            kind = "|".join(str(k) for k in kind)
        if isinstance(schema, dict) and "enum" in schema:
            kind = "|".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"][:6])
        params.append(f"{name}{'' if name in required else '?'}: {kind}")
    about = _first_sentence(tool.description)
    return f"{tool.name}({', '.join(params)})" + (f": {about}" if about else "")


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def judge_context(example: Example) -> str:
    """The shared prefix: tools (one line each), request, calls with results, final answer.

    Only the tools the trace uses are listed (a no_call task: the first few it could have
    used); results are cut to ``RESULT_CHARS``. The question comes after this, last, so every
    leaf of one example shares this prefix on the server."""
    used = {s.tool for s in example.trace.steps}
    tools = [t for t in example.tools if t.name in used] or example.tools[:NO_CALL_TOOLS]
    lines = ["Tools:", *(f"- {tool_signature(t)}" for t in tools), "", f"User request: {example.task.user_request}"]
    for turn in example.task.dialogue:
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.content}")
    lines.append("")
    if not example.trace.steps:
        lines.append("No tool calls were made.")
    for k, step in enumerate(example.trace.steps, 1):
        lines.append(f"Call {k}: {step.tool}({json.dumps(step.arguments, ensure_ascii=False)})")
        lines.append(f"Result {k}: {_compact(step.output)[:RESULT_CHARS]}")
    lines += ["", f"Assistant's final answer: {example.task.final_message}"]
    return "\n".join(lines)


class LeafJudge(Protocol):
    """What the rubric needs of a judge: a per-example session that scores questions."""

    def session(self) -> contextlib.AbstractAsyncContextManager[ExampleJudge]: ...


class ExampleJudge(Protocol):
    async def score(self, example: Example, question: str) -> JudgeScore: ...


@dataclass
class JudgeStats:
    """Counters over a judge's life: leaves asked, low-coverage retries, failures."""

    leaves: int = 0
    low_coverage: int = 0
    failed: int = 0
    per_client: list[int] = field(default_factory=list)


class _Bound:
    """A judge bound to one client for one example's leaves."""

    def __init__(self, judge: Judge, client: ChatClient) -> None:
        self.judge = judge
        self.client = client

    async def score(self, example: Example, question: str) -> JudgeScore:
        return await self.judge._score(self.client, example, question)


class Judge:
    """Asks yes/no questions about examples through one or more OpenAI-compatible endpoints.

    Several clients are replicas of one model: an example's leaves all go to
    one of them (its prefix stays in that server's cache), examples go
    round-robin. Give replicas a shared ``cache_scope`` (`Judge.connect` does)
    so that a reply cached from one answers the same request to another.
    """

    def __init__(
        self,
        clients: ChatClient | Sequence[ChatClient],
        *,
        top_logprobs: int = 10,
        min_coverage: float = 0.5,
        votes: int = 3,
        vote_temperature: float = 0.7,
        seed: int = 0,
    ) -> None:
        self.clients = [clients] if isinstance(clients, ChatClient) else list(clients)
        if not self.clients:
            raise ConfigError("a judge needs at least one endpoint")
        models = sorted({c.endpoint.model for c in self.clients})
        if len(models) > 1:
            raise ConfigError(f"judge endpoints must serve one model (replicas), got {', '.join(models)}")
        if not 0.0 <= min_coverage <= 1.0:
            raise ConfigError(f"min_coverage {min_coverage:g}: use a value from 0 to 1")
        if votes < 1 or votes % 2 == 0:
            raise ConfigError(f"votes {votes}: use an odd number so that a majority exists")
        self.top_logprobs = top_logprobs
        self.min_coverage = min_coverage
        self.votes = votes
        self.vote_temperature = vote_temperature
        self.seed = seed
        self.stats = JudgeStats(per_client=[0] * len(self.clients))
        self._turn = itertools.count()
        self._free: asyncio.Queue[ChatClient] | None = None
        # Called once per leaf answered or failed (e.g. a progress bar's advance).
        self.on_leaf: Callable[[], None] | None = None

    @classmethod
    def connect(cls, settings: JudgeSettings, cache: ReplyCache | None = None) -> Judge:
        """A judge over ``settings.urls``; close it with `aclose`."""
        scope = None if len(settings.urls) == 1 else "replicas:" + ",".join(sorted(settings.urls))
        clients = [
            ChatClient(Endpoint(url, settings.model, settings.api_key_env), timeout=settings.timeout,
                       concurrency=settings.concurrency, cache=cache, cache_scope=scope)
            for url in settings.urls
        ]
        return cls(clients, top_logprobs=settings.top_logprobs, min_coverage=settings.min_coverage,
                   votes=settings.votes, vote_temperature=settings.vote_temperature)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    @property
    def model(self) -> str:
        return self.clients[0].endpoint.model

    @property
    def requests(self) -> int:
        """Requests actually sent (replies from the cache are not counted)."""
        return sum(c.requests for c in self.clients)

    def describe(self) -> str:
        urls = ", ".join(c.endpoint.url for c in self.clients)
        return f"{self.model} at {urls}"

    def messages(self, context: str, question: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"{context}\n\nQuestion: {question}\nAnswer yes or no."},
        ]

    async def _exclusive(self) -> bool:
        """Whether a server serves one example at a time (llama.cpp: one slot, one prefix)."""
        return await self.clients[0].flavor() == "llama.cpp"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[_Bound]:
        """One example's leaves: all on one server; on llama.cpp, that server is held meanwhile."""
        if not await self._exclusive():
            yield _Bound(self, self.clients[next(self._turn) % len(self.clients)])
            return
        if self._free is None:
            self._free = asyncio.Queue()
            for client in self.clients:
                self._free.put_nowait(client)
        client = await self._free.get()
        try:
            yield _Bound(self, client)
        finally:
            self._free.put_nowait(client)

    async def score(self, example: Example, question: str) -> JudgeScore:
        """p(yes) for one question, outside any session (the next server in turn)."""
        client = self.clients[next(self._turn) % len(self.clients)]
        return await self._score(client, example, question)

    async def _extra(self, client: ChatClient) -> dict[str, Any] | None:
        if await client.flavor() == "vllm":
            return {"chat_template_kwargs": {"enable_thinking": False}}
        return None

    async def _score(self, client: ChatClient, example: Example, question: str) -> JudgeScore:
        """p(yes) for one question; raises ModelError when the endpoint fails or gives no majority."""
        self.stats.leaves += 1
        self.stats.per_client[self.clients.index(client)] += 1
        messages = self.messages(judge_context(example), question)
        extra = await self._extra(client)
        try:
            reply = await client.chat(messages, max_tokens=1, temperature=0.0,
                                      top_logprobs=self.top_logprobs, extra=extra)
            yes, no = yes_no_mass(reply.top_logprobs)
            coverage = min(1.0, yes + no)
            if yes + no > 0 and coverage >= self.min_coverage:
                return JudgeScore(p_yes=yes / (yes + no), coverage=coverage)
            self.stats.low_coverage += 1
            return await self._vote(client, messages, coverage, extra)
        except ModelError:
            self.stats.failed += 1
            raise
        finally:
            if self.on_leaf is not None:
                self.on_leaf()

    async def _vote(
        self, client: ChatClient, messages: list[dict[str, str]], coverage: float, extra: dict[str, Any] | None,
    ) -> JudgeScore:
        replies = await asyncio.gather(*(
            client.chat(messages, max_tokens=3, temperature=self.vote_temperature, seed=self.seed + i,
                        choices=_CHOICES, extra=extra)
            for i in range(self.votes)
        ))
        words = [_variant(r.text) for r in replies]
        n_yes = sum(w in _YES for w in words)
        n_no = sum(w in _NO for w in words)
        if max(n_yes, n_no) <= self.votes // 2:
            raise ModelReplyError(
                f"judge {client.endpoint.describe()}: coverage {coverage:.2f} below min_coverage "
                f"{self.min_coverage:g} and {self.votes} constrained answers gave no majority: "
                f"{[r.text for r in replies]}"
            )
        note = (f"coverage {coverage:.2f} below min_coverage {self.min_coverage:g}: "
                f"majority of {self.votes} constrained samples, {n_yes} yes / {n_no} no")
        return JudgeScore(p_yes=n_yes / (n_yes + n_no), coverage=coverage, note=note, votes=(n_yes, n_no))
