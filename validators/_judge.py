"""Judge leaves: one yes/no question per request, scored from first-token logprobs.

p(yes) = P(yes variants) / (P(yes variants) + P(no variants)) over the top
alternatives of the single generated token; coverage = P(yes) + P(no) says how
much of the model's mass answered the question at all. When no yes/no variant
is among the alternatives, one constrained request (a grammar or vLLM choice)
forces an answer and the leaf records coverage 0.

Information barrier: the prompt holds the tools, the task the user sees, the
trace and the final answer. It never holds the writer's prompt or notes.
All leaves of one example share the same messages up to the question, which
comes last, so a server with prefix caching evaluates the shared part once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from generators import ChatClient
from schemas import Example, ModelError

_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}

JUDGE_SYSTEM = (
    "You are a strict reviewer of training examples for tool-using assistants. "
    "You see the tools, the user's request, the tool calls that were made with their "
    "results, and the assistant's final answer. Answer each question with exactly one "
    "word: yes or no."
)


@dataclass(frozen=True)
class JudgeScore:
    p_yes: float
    coverage: float
    note: str = ""


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
    yes, no = yes_no_mass(top_logprobs)
    if yes + no <= 0:
        return None
    return JudgeScore(p_yes=yes / (yes + no), coverage=min(1.0, yes + no))


def judge_context(example: Example) -> str:
    """The shared prefix: tools, request, calls with results, final answer."""
    tools = [t.openai_schema() for t in example.tools if any(s.tool == t.name for s in example.trace.steps)]
    tools = tools or [t.openai_schema() for t in example.tools]  # no_call: what was available
    lines = ["Tools:", json.dumps(tools, ensure_ascii=False), "", f"User request: {example.task.user_request}"]
    for turn in example.task.dialogue:
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.content}")
    lines.append("")
    if not example.trace.steps:
        lines.append("No tool calls were made.")
    for k, step in enumerate(example.trace.steps, 1):
        lines.append(f"Call {k}: {step.tool}({json.dumps(step.arguments, ensure_ascii=False)})")
        result = step.output if isinstance(step.output, str) else json.dumps(step.output, ensure_ascii=False)
        lines.append(f"Result {k}: {result[:600]}")
    lines += ["", f"Assistant's final answer: {example.task.final_message}"]
    return "\n".join(lines)


class Judge:
    """Asks yes/no questions about examples through an OpenAI-compatible endpoint."""

    def __init__(self, client: ChatClient, *, top_logprobs: int = 10) -> None:
        self.client = client
        self.top_logprobs = top_logprobs

    @property
    def model(self) -> str:
        return self.client.endpoint.model

    def messages(self, context: str, question: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"{context}\n\nQuestion: {question}\nAnswer yes or no."},
        ]

    async def score(self, example: Example, question: str) -> JudgeScore:
        """p(yes) for one question; raises ModelError when the endpoint fails."""
        messages = self.messages(judge_context(example), question)
        reply = await self.client.chat(messages, max_tokens=1, temperature=0.0, top_logprobs=self.top_logprobs)
        scored = score_from_logprobs(reply.top_logprobs)
        if scored is not None:
            return scored
        forced = await self.client.chat(messages, max_tokens=2, temperature=0.0, choices=["yes", "no"])
        word = _variant(forced.text)
        if word not in _YES | _NO:
            raise ModelError(f"judge {self.client.endpoint.describe()} gave {forced.text!r} to a yes/no choice")
        return JudgeScore(p_yes=1.0 if word in _YES else 0.0, coverage=0.0, note="no yes/no in top logprobs; constrained answer")
