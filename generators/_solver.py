"""A solver: a model attempting a task with tools answered by the replay simulator.

Used to measure difficulty for RL: run it K times per task, score each attempt
with the answer checker, keep tasks that are neither always nor never solved.
Tool calls never touch a live API: the simulator answers from recorded
observations (a call nobody recorded is an error outcome, as in RL).

Two ways to ask for tool calls, chosen by the server's flavour:
- native: OpenAI ``tools`` / ``tool_calls`` (vLLM with a tool parser, OpenAI);
- JSON protocol: the tools are described in the system prompt and the reply is
  constrained to ``{"action": "call", "tool", "arguments"}`` or
  ``{"action": "answer", "answer"}`` (llama.cpp, whose server ignores ``tools``
  for models whose chat template has none, like the bundled SmolLM2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from schemas import Example, ModelReplyError, ModelRequestRejected

from ._base import Toolset
from ._llm import ChatClient

_RESULT_CHARS = 2000  # a tool result longer than this is cut in the solver's context

_PROTOCOL_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["call", "answer"]},
        "tool": {"type": "string"},
        "arguments": {"type": "object"},
        "answer": {"type": "string"},
    },
    "required": ["action"],
}

_PROTOCOL_SYSTEM = (
    "You are an assistant that can call tools. Tools (JSON Schema of their arguments):\n{tools}\n\n"
    "Reply with exactly one JSON object: either "
    '{{"action": "call", "tool": "<name>", "arguments": {{...}}}} to call a tool, or '
    '{{"action": "answer", "answer": "<your final answer to the user>"}} when you can answer. '
    "Call a tool only when you need it."
)


@dataclass
class Attempt:
    """One attempt: the calls made (tool, arguments, error?) and the final answer text."""

    calls: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    final: str = ""
    error: str | None = None  # the attempt broke (bad reply, too many turns); it scores 0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": [{"tool": t, "arguments": a, "is_error": e} for t, a, e in self.calls],
            "final": self.final,
            "error": self.error,
        }


class Solver:
    """Attempts tasks with a model; tool calls are answered by a (simulated) toolset."""

    def __init__(self, client: ChatClient, tools: Toolset, *, max_turns: int = 4, temperature: float = 0.8,
                 max_tokens: int = 128) -> None:
        self.client = client
        self.tools = tools
        self.max_turns = max_turns
        self.temperature = temperature
        self.max_tokens = max_tokens

    @property
    def model(self) -> str:
        return self.client.endpoint.model

    async def attempt(self, example: Example, *, seed: int = 0) -> Attempt:
        """One try at the task; a bad reply or a refused request (say, over the
        model's context) is a failed attempt. An endpoint that is down raises."""
        flavor = await self.client.flavor()
        try:
            if flavor == "llama.cpp":
                return await self._attempt_protocol(example, seed)
            return await self._attempt_native(example, seed)
        except (ModelReplyError, ModelRequestRejected) as exc:
            return Attempt(error=str(exc))

    async def _attempt_protocol(self, example: Example, seed: int) -> Attempt:
        tools = json.dumps([t.openai_schema() for t in example.tools], ensure_ascii=False)
        messages = [{"role": "system", "content": _PROTOCOL_SYSTEM.format(tools=tools)}, *example.task.opening()]
        attempt = Attempt()
        for turn in range(self.max_turns):
            reply = await self.client.chat(messages, max_tokens=self.max_tokens, temperature=self.temperature,
                                           seed=seed * 100 + turn, json_schema=_PROTOCOL_SCHEMA)
            try:
                action = json.loads(reply.text)
                kind = action["action"]
            except (ValueError, KeyError, TypeError):
                attempt.error = f"reply is not a protocol JSON object: {reply.text[:80]!r}"
                return attempt
            messages.append({"role": "assistant", "content": reply.text})
            if kind == "answer":
                attempt.final = str(action.get("answer") or "")
                return attempt
            name, arguments = str(action.get("tool") or ""), action.get("arguments") or {}
            outcome = await self.tools.call(name, arguments if isinstance(arguments, dict) else {})
            attempt.calls.append((name, arguments, outcome.is_error))
            result = outcome.error if outcome.is_error else json.dumps(outcome.output, ensure_ascii=False)
            messages.append({"role": "user", "content": f"Tool result: {(result or '')[:_RESULT_CHARS]}"})
        attempt.error = f"no answer within {self.max_turns} turns"
        return attempt

    async def _attempt_native(self, example: Example, seed: int) -> Attempt:
        tools = [{"type": "function", "function": t.openai_schema()} for t in example.tools]
        messages = example.task.opening()
        attempt = Attempt()
        for turn in range(self.max_turns):
            try:
                reply = await self.client.chat(messages, max_tokens=self.max_tokens, temperature=self.temperature,
                                               seed=seed * 100 + turn, extra={"tools": tools, "tool_choice": "auto"})
            except ModelReplyError as exc:
                attempt.error = str(exc)
                return attempt
            if not reply.tool_calls:
                attempt.final = reply.text
                return attempt
            messages.append({"role": "assistant", "content": reply.text or None, "tool_calls": reply.tool_calls})
            for call in reply.tool_calls:
                fn = call.get("function") or {}
                try:
                    arguments = json.loads(fn.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                outcome = await self.tools.call(str(fn.get("name") or ""), arguments if isinstance(arguments, dict) else {})
                attempt.calls.append((str(fn.get("name") or ""), arguments, outcome.is_error))
                content = outcome.error if outcome.is_error else json.dumps(outcome.output, ensure_ascii=False)
                messages.append({"role": "tool", "tool_call_id": call.get("id", ""),
                                 "content": (content or "")[:_RESULT_CHARS]})
        attempt.error = f"no answer within {self.max_turns} turns"
        return attempt
