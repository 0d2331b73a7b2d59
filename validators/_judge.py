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

Worked examples. A small judge (the bundled 1.5B) barely separates a right
answer from a wrong one when asked cold (p(yes) 0.76 vs 0.71 here), and
clearly after a few worked examples (0.92 vs 0.04). The rubric carries them
(``judge_examples``: a context and the right answer to some of its questions);
they come right after the system rules and before the example, identical in
every request, so the server evaluates them once per process.

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
    "You review training examples for an assistant that uses tools. Each example shows the tools, the "
    "user's request, the tool calls with their results, and the assistant's final answer. Many examples "
    "contain a mistake: a final answer that contradicts the tool results, a tool call the request did not "
    "need, a final answer that is not what the user asked for, or a request no person would write. Check "
    "the example against the question and answer with one word: yes or no."
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
    # fsum: exact, so the result does not depend on the order the alternatives come in (a reply
    # read back from the cache may list them in another order).
    yes = math.fsum(math.exp(lp) for token, lp in top_logprobs.items() if _variant(token) in _YES)
    no = math.fsum(math.exp(lp) for token, lp in top_logprobs.items() if _variant(token) in _NO)
    return yes, no


def score_from_logprobs(top_logprobs: dict[str, float]) -> JudgeScore | None:
    """p(yes) and coverage from first-token alternatives; None when no yes/no is among them."""
    yes, no = yes_no_mass(top_logprobs)
    if yes + no <= 0:
        return None
    return JudgeScore(p_yes=yes / (yes + no), coverage=min(1.0, yes + no))


#: Characters of one tool result the judge sees; of a tool description; tools listed for a no_call task.
RESULT_CHARS = 400
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


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.strip("/").split("/") if t]


def focus(output: Any, pointers: Sequence[str], budget: int = RESULT_CHARS) -> Any:
    """``output`` cut to about ``budget`` characters of JSON, keeping what the task uses.

    The values at ``pointers`` (what later calls and the answer read) and their enclosing
    objects are always kept; other members follow in order while they fit; what is left out
    is counted (``"…": "12 more"``), never silently dropped."""
    if len(_compact(output)) <= budget:
        return output
    return _prune(output, [_tokens(p) for p in pointers], budget)


def _prune(value: Any, wanted: list[list[str]], room: int) -> Any:
    """Wanted members first, then the others in order while they fit; shown in the original order,
    with a count where members were left out (so a list item keeps its visible position)."""
    if isinstance(value, (dict, list)):
        keys = list(value) if isinstance(value, dict) else [str(i) for i in range(len(value))]
        items = value.values() if isinstance(value, dict) else value
        members = dict(zip(keys, items))
        chosen: dict[str, Any] = {}

        def size(extra: dict[str, Any]) -> int:
            both = {**chosen, **extra}
            return len(_compact(both if isinstance(value, dict) else list(both.values()))) + 16  # + a count

        for key in keys:  # the members the task reads, pruned around what it reads in them
            sub = [t[1:] for t in wanted if t and t[0] == key]
            if sub:
                chosen[key] = _prune(members[key], sub, room // 2) if any(sub) else members[key]
        for key in keys:
            if key in chosen:
                continue
            member = members[key]
            left = room - size({key: ""})
            if isinstance(member, str) and len(member) > left >= 40:  # a long text: its start
                member = member[: left - 4] + "…"
            if size({key: member}) <= room:
                chosen[key] = member
        if isinstance(value, dict):
            out = {k: chosen[k] for k in keys if k in chosen}
            if len(out) < len(keys):
                out["…"] = f"{len(keys) - len(out)} more"
            return out
        shown: list[Any] = []
        gap = 0
        for key in keys:
            if key in chosen:
                if gap:
                    shown.append(f"… {gap} more")
                    gap = 0
                shown.append(chosen[key])
            else:
                gap += 1
        if gap:
            shown.append(f"… {gap} more")
        return shown
    if isinstance(value, str) and len(value) > room and not any(wanted):
        return value[: max(room, 40)] + "…"
    return value


def _used_pointers(example: Example) -> dict[int, list[str]]:
    """Per step, the pointers into its output that later arguments and the answer read."""
    used: dict[int, list[str]] = {}
    for step in example.trace.steps:
        for source in step.sources.values():
            if source.origin == "step" and source.step is not None and source.pointer is not None:
                used.setdefault(source.step, []).append(source.pointer)
    if example.task.answer is not None:
        for ap in example.task.answer.pointers:
            used.setdefault(ap.step, []).append(ap.pointer)
    return used


def judge_context(example: Example) -> str:
    """The shared prefix: tools (one line each), request, calls with results, final answer.

    Only the tools the trace uses are listed (a no_call task: the first few it could have
    used); a long JSON result keeps what the task reads from it and counts what it leaves
    out (`focus`), and no result line passes ``RESULT_CHARS``. The question comes after this,
    last, so every leaf of one example shares this prefix on the server."""
    used = {s.tool for s in example.trace.steps}
    tools = [t for t in example.tools if t.name in used] or example.tools[:NO_CALL_TOOLS]
    lines = ["Tools:", *(f"- {tool_signature(t)}" for t in tools), "", f"User request: {example.task.user_request}"]
    for turn in example.task.dialogue:
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.content}")
    lines.append("")
    if not example.trace.steps:
        lines.append("No tool calls were made.")
    read = _used_pointers(example)
    for k, step in enumerate(example.trace.steps, 1):
        lines.append(f"Call {k}: {step.tool}({json.dumps(step.arguments, ensure_ascii=False)})")
        # Plain JSON is its own view: cut it around what the task reads. Text is shown as the tool said it.
        shown = focus(step.output, read.get(k - 1, [])) if step.raw is None else step.shown()
        lines.append(f"Result {k}: {_compact(shown)[:RESULT_CHARS]}")
    lines += ["", f"Assistant's final answer: {example.task.final_message}"]
    return "\n".join(lines)


def _ask(context: str, question: str) -> str:
    return f"{context}\n\nQuestion: {question}\nAnswer yes or no."


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
        shots: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        self.clients = [clients] if isinstance(clients, ChatClient) else list(clients)
        #: Worked (context, question, answer) triples shown before every question (Rubric.judge_shots).
        self.shots = list(shots)
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
    def connect(cls, settings: JudgeSettings, cache: ReplyCache | None = None,
                shots: Sequence[tuple[str, str, str]] = ()) -> Judge:
        """A judge over ``settings.urls``; close it with `aclose`."""
        scope = None if len(settings.urls) == 1 else "replicas:" + ",".join(sorted(settings.urls))
        clients = [
            ChatClient(Endpoint(url, settings.model, settings.api_key_env), timeout=settings.timeout,
                       concurrency=settings.concurrency, cache=cache, cache_scope=scope)
            for url in settings.urls
        ]
        return cls(clients, top_logprobs=settings.top_logprobs, min_coverage=settings.min_coverage,
                   votes=settings.votes, vote_temperature=settings.vote_temperature, shots=shots)

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
        """The system rules, the worked examples (the same for every request, so a server that
        reuses prompt prefixes evaluates them once), then this example and the question, last."""
        worked: list[dict[str, str]] = []
        for shot_context, shot_question, answer in self.shots:
            worked += [{"role": "user", "content": _ask(shot_context, shot_question)},
                       {"role": "assistant", "content": answer}]
        return [{"role": "system", "content": JUDGE_SYSTEM}, *worked,
                {"role": "user", "content": _ask(context, question)}]

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
