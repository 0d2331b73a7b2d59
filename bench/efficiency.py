"""Benchmark: the reason backchain exists, measured. Model tokens and wall time per accepted row.

Same model, same tools, same gates, two ways to make tool-calling examples:

- backchain: execute first, write backward (`run_pipeline` on the embedded default toolsets,
  the model as writer and judge);
- forward, as APIGen does it (arXiv 2406.18518): the model sees a few sampled tools and writes a
  user request and the calls that answer it (JSON-constrained, one worked example, up to
  ``--retries`` more tries when its reply fails the format gate); the format gate checks names
  and arguments against the tools' JSON Schemas; the calls are executed on the same live
  toolsets (the execution gate drops errors and empty results); the model writes the final
  answer from the results; the judge asks the rubric's judge questions, each must pass its
  threshold (the semantic gate). backchain's accepted rows pass all of that *and* its
  deterministic gates (provenance, leakage, answer pointers, replay...), so the comparison
  favours the baseline.

The forward baseline lives here, not in the product. It prints tokens (prompt + completion)
and seconds per accepted row for each, and the ratios.

    .venv/bin/python bench/efficiency.py                   # bundled 1.5B, 8 examples each
    .venv/bin/python bench/efficiency.py --examples 20 --local-model small
    .venv/bin/python bench/efficiency.py --url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-1.7B

Ratios, not absolute times, are the result: these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import Reporter, RunConfig, run_pipeline
from flows._config import EndpointConfig, JudgeEndpointConfig
from generators import ChatClient, Endpoint, LocalModelServer, MCPToolset
from schemas import Answer, AnswerPointer, Example, Step, Task, Tool, Trace, content_hash
from validators import Judge, judge_context, judge_leaves, load_rubric
from validators._judge import tool_signature

FORWARD_SYSTEM = (
    "You create training data for an assistant that calls tools. Given some tools, write one realistic "
    "request a person would send that needs one or more of these tools, and the exact tool calls that "
    "answer it. Use only the given tools and parameters; every argument value must be concrete and valid "
    "for its parameter. Reply only with JSON: {\"request\": \"...\", \"calls\": [{\"name\": \"...\", "
    "\"arguments\": {...}}]}."
)
FORWARD_EXAMPLE = (
    "Tools:\n- stock_price(symbol: string): The last traded price of a stock.",
    json.dumps({"request": "What's Apple trading at right now?",
                "calls": [{"name": "stock_price", "arguments": {"symbol": "AAPL"}}]}),
)
FORWARD_SCHEMA = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "minLength": 1},
        "calls": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
            "type": "object", "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
            "required": ["name", "arguments"]}},
    },
    "required": ["request", "calls"],
}
ANSWER_SYSTEM = "Answer the user's request in one or two sentences, using only the tool results given."


@dataclass
class Tally:
    name: str
    accepted: int = 0
    attempts: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def per_row(self) -> tuple[float, float]:
        return (self.tokens / self.accepted, self.seconds / self.accepted) if self.accepted else (float("inf"),) * 2

    def line(self) -> str:
        tokens, seconds = self.per_row()
        return (f"{self.name:<9} {self.accepted:>3} accepted of {self.attempts:>3}  {self.tokens:>8} model tokens  "
                f"{self.seconds:7.1f} s  -> {tokens:8.0f} tokens and {seconds:6.1f} s per accepted row")


async def run_backchain(n: int, seed: int, endpoint: Endpoint, db: Path) -> Tally:
    llm = EndpointConfig(url=endpoint.url, model=endpoint.model)
    config = RunConfig(examples=n, seed=seed, llm=llm, judge=JudgeEndpointConfig(url=endpoint.url, model=endpoint.model),
                       model_timeout=1800.0, dedup_threshold=0)
    started = time.perf_counter()
    summary = await run_pipeline(config, db, Reporter(quiet=True))
    seconds = time.perf_counter() - started
    assert summary.accounting is not None
    totals = summary.accounting.totals().values()
    return Tally("backchain", accepted=summary.status_counts.get("accepted", 0), attempts=summary.tasks_written,
                 tokens=sum(t.tokens_in + t.tokens_out for t in totals), seconds=seconds)


def _format_ok(reply: Any, tools: dict[str, Tool]) -> str | None:
    """APIGen's format gate: names and arguments match the tools' JSON Schemas; None when it passes."""
    if not isinstance(reply, dict) or not isinstance(reply.get("calls"), list) or not reply.get("request"):
        return "not the asked JSON shape"
    for call in reply["calls"]:
        tool = tools.get(str(call.get("name")))
        if tool is None:
            return f"unknown tool {call.get('name')!r}"
        errors = list(Draft202012Validator(tool.input_schema).iter_errors(call.get("arguments") or {}))
        if errors:
            return f"{tool.name}: {errors[0].message}"
    return None


async def run_forward(n: int, seed: int, client: ChatClient, judge: Judge, rubric: Any, retries: int) -> Tally:
    tally = Tally("forward")
    rng = random.Random(seed)
    questions = judge_leaves(rubric)
    started = time.perf_counter()
    async with AsyncExitStack() as stack:
        toolsets = [MCPToolset([sys.executable, "-m", "generators.builtin"], name="backchain-builtin"),
                    MCPToolset([sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"], name="time")]
        catalog: dict[str, tuple[MCPToolset, Tool]] = {}
        for ts in toolsets:
            await stack.enter_async_context(ts)
            for tool in await ts.list_tools():
                if tool.side_effect == "read":
                    catalog[tool.name] = (ts, tool)
        names = sorted(catalog)
        before = client.prompt_tokens + client.completion_tokens + sum(
            c.prompt_tokens + c.completion_tokens for c in judge.clients)
        for i in range(n):
            tally.attempts += 1
            sampled = rng.sample(names, k=min(2, len(names)))  # APIGen samples a few APIs per query
            tools = {name: catalog[name][1] for name in sampled}
            listing = "Tools:\n" + "\n".join(f"- {tool_signature(t)}" for t in tools.values())
            messages = [{"role": "system", "content": FORWARD_SYSTEM},
                        {"role": "user", "content": FORWARD_EXAMPLE[0]},
                        {"role": "assistant", "content": FORWARD_EXAMPLE[1]},
                        {"role": "user", "content": listing}]
            reply: Any = None
            for attempt in range(1 + retries):
                answer = await client.chat(messages, max_tokens=200, temperature=0.7, seed=seed * 1000 + i * 10 + attempt,
                                           json_schema=FORWARD_SCHEMA)
                try:
                    reply = json.loads(answer.text)
                except json.JSONDecodeError:
                    reply = None
                if _format_ok(reply, tools) is None:
                    break
            else:
                continue
            steps: list[Step] = []
            for call in reply["calls"]:
                toolset, tool = catalog[call["name"]]
                outcome = await toolset.call(tool.name, call["arguments"])
                if outcome.is_error or outcome.output in (None, "", [], {}):  # APIGen's execution gate
                    break
                steps.append(Step(toolset=toolset.name, tool=tool.name, arguments=call["arguments"], sources={},
                                  observation_id=content_hash([tool.name, call["arguments"], outcome.output]),
                                  output=outcome.output))
            else:
                results = "\n".join(f"{s.tool}({json.dumps(s.arguments)}) -> {json.dumps(s.output)[:400]}" for s in steps)
                final = await client.chat([{"role": "system", "content": ANSWER_SYSTEM},
                                           {"role": "user", "content": f"Request: {reply['request']}\n\n{results}"}],
                                          max_tokens=80)
                example = Example(
                    task=Task(kind="single" if len(steps) == 1 else "multi_step", user_request=reply["request"],
                              user_values={}, answer=Answer(pointers=[AnswerPointer(step=len(steps) - 1, pointer="")],
                                                            value=steps[-1].output),
                              final_message=final.text.strip() or "(empty)", writer="llm"),
                    trace=Trace(steps=steps), tools=[t for t in tools.values()])
                assert judge_context(example)
                async with judge.session() as bound:  # APIGen's semantic gate: the same judge questions
                    scores = [await bound.score(example, q.question or "") for q in questions]
                if all((s.p_yes if q.polarity == "positive" else 1 - s.p_yes) >= q.threshold
                       for s, q in zip(scores, questions)):
                    tally.accepted += 1
        tally.tokens = client.prompt_tokens + client.completion_tokens + sum(
            c.prompt_tokens + c.completion_tokens for c in judge.clients) - before
    tally.seconds = time.perf_counter() - started
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=8, help="Examples each way (default: 8).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retries", type=int, default=2, help="Forward: more tries on a format failure.")
    parser.add_argument("--local-model", default="base", help="Bundled model (default: base).")
    parser.add_argument("--url", help="An OpenAI-compatible endpoint (…/v1) instead of the bundled model.")
    parser.add_argument("--model", help="The model served at --url.")
    args = parser.parse_args()
    if bool(args.url) != bool(args.model):
        parser.error("--url and --model go together")
    rubric = load_rubric("default")
    with tempfile.TemporaryDirectory() as tmp:
        server = None if args.url else LocalModelServer(args.local_model)
        endpoint = Endpoint(args.url, args.model) if args.url else server.start()  # type: ignore[union-attr]
        try:
            backchain = asyncio.run(run_backchain(args.examples, args.seed, endpoint, Path(tmp) / "bench.duckdb"))

            async def forward() -> Tally:
                async with ChatClient(endpoint, timeout=1800.0) as client, ChatClient(endpoint, timeout=1800.0) as jc:
                    judge = Judge(jc, shots=rubric.judge_shots())
                    return await run_forward(args.examples, args.seed, client, judge, rubric, args.retries)

            fwd = asyncio.run(forward())
        finally:
            if server is not None:
                server.stop()
    print(f"model: {endpoint.model}; {args.examples} examples each way; tokens = prompt + completion reported by "
          "the server")
    print(backchain.line())
    print(fwd.line())
    (bt, bs), (ft, fs) = backchain.per_row(), fwd.per_row()
    print(f"forward / backchain per accepted row: {ft / bt:5.2f}x the model tokens, {fs / bs:5.2f}x the wall time")


if __name__ == "__main__":
    main()
