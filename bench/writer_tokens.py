"""Benchmark: writer tokens per accepted row, the issue 18 writer vs the writer before it.

Makes template drafts from a real exploration of the embedded toolsets (the
built-in MCP server and mcp-server-time, no model), then has the same model
rewrite every draft twice:

- before: the earlier writer (kept here verbatim as the baseline: one generic
  system prompt, one few-shot example per kind, the request only), judged by its
  gates (writer, provenance, leakage, no tool names);
- after: `generators.LLMWriter` (per-kind rules, persona, request *and* answer,
  grounded facts), judged by today's rewrite gates (flows._stages._REWRITE_GATES,
  with the answer kept from the template when only the answer fails).

A row is accepted either way (a failed rewrite falls back to the template), so the
cost per accepted row is all writer tokens over all rows; the yield is the share
of rows whose text the model wrote. It prints both, per writer, and the ratios
(after / before). Better data must not cost more than 1.5x the tokens per row.

    .venv/bin/python bench/writer_tokens.py                     # bundled 'tiny' (plumbing), 8 drafts
    .venv/bin/python bench/writer_tokens.py --model base --drafts 20
    .venv/bin/python bench/writer_tokens.py --url http://127.0.0.1:8000/v1 --model-name Qwen/Qwen2.5-7B-Instruct

The reply cache is off: every request reaches the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows._stages import _ANSWER_GATES, _REWRITE_GATES
from generators import (
    ChatClient,
    Endpoint,
    LLMWriter,
    LocalModelServer,
    MCPToolset,
    build_drafts,
    build_traces,
    select_tools,
)
from generators._explore import ExploreConfig, Explorer
from schemas import Example, Task, Tool, Trace
from validators import CHECKS, CheckContext

# --- the writer before issue 18, verbatim (the baseline) ------------------------------------------

_BEFORE_SCHEMA = {"type": "object", "properties": {"request": {"type": "string", "minLength": 1}},
                  "required": ["request"]}
_BEFORE_SYSTEM = (
    "You rewrite a draft into the message a real user would send to an assistant that "
    "can use tools. Keep every listed value exactly as written. Never name a tool or "
    "function, and never state the answer. Reply only with JSON: {\"request\": \"...\"}."
)
_BEFORE_FEW_SHOT: dict[str, tuple[str, str, str]] = {
    "single": ("For country France, what is the capital?", "France", "What's the capital city of France?"),
    "multi_step": (
        "Look up the latitude and longitude for country Japan, then use that to find the timezone. "
        "What is the timezone?", "Japan",
        "Which time zone is Japan's capital in? Work it out from its coordinates."),
    "parallel": (
        "For faa JFK, what is the timezone? Also, for currency code EUR, what is the name?", "JFK, EUR",
        "Two quick questions: which time zone is JFK airport in, and what is the currency EUR called?"),
    "multi_turn": (
        "For a country, what is the capital?", "(none: the user names the country later)",
        "Can you tell me the capital of a country? I'll say which one."),
    "error_recovery": (
        "For date 2013-07-04 and origin JFK, what is the temp f?", "2013-07-04, JFK",
        "How warm was it at JFK on 2013-07-04, in Fahrenheit?"),
    "no_call": (
        "Without looking anything up: if one flights is 12 and one seats is 30, what do the two numbers "
        "add up to?", "12, 30", "Quick sum, no need to look anything up: what's 12 plus 30?"),
}
_BEFORE_GATES = ("writer", "provenance", "leakage", "no_tool_names")


def _before_messages(draft: Task) -> list[dict[str, str]]:
    said = draft.user_request.casefold()
    values = "\n".join(f"- {v}" for v in map(str, draft.user_values.values()) if v.casefold() in said) or "- (none)"
    example_draft, example_values, example_reply = _BEFORE_FEW_SHOT[draft.kind]
    return [
        {"role": "system", "content": _BEFORE_SYSTEM},
        {"role": "user", "content": f"Draft: {example_draft}\nValues to keep verbatim: {example_values}"},
        {"role": "assistant", "content": json.dumps({"request": example_reply})},
        {"role": "user", "content": f"Draft: {draft.user_request}\nValues to keep verbatim:\n{values}"},
    ]


async def _before(client: ChatClient, draft: Task, seed: int) -> Task:
    reply = await client.chat(_before_messages(draft), max_tokens=160, temperature=0.0, seed=seed,
                              json_schema=_BEFORE_SCHEMA)
    try:
        data = json.loads(reply.text)
        request = data["request"].strip() if isinstance(data, Mapping) and isinstance(data.get("request"), str) else ""
        error = None if request else "no request"
    except json.JSONDecodeError:
        request, error = "", "not JSON"
    return draft.model_copy(update={"user_request": request or draft.user_request, "writer": "llm",
                                    "writer_error": error})


def _failed(example: Example, gates: Sequence[str]) -> dict[str, str]:
    return {g: r.reason for g in gates if not (r := CHECKS[g](example, CheckContext())).passed}


async def _drafts(n: int, seed: int) -> list[tuple[Trace, Task, list[Tool]]]:
    from tests.conftest import BUILTIN_CMD, TIME_CMD

    async with MCPToolset(BUILTIN_CMD) as builtin, MCPToolset(TIME_CMD) as clock:
        toolsets = {builtin.name: builtin, clock.name: clock}
        tools = [t for ts in toolsets.values() for t in await ts.list_tools()]
        allowed, _ = select_tools(tools)
        calls = await Explorer(toolsets, allowed, ExploreConfig(max_calls=120, seed=seed,
                                                                values={"time": ["09:30", "14:00"]})).run()
        traces = build_traces(calls, limit=3 * n, seed=seed)
        drafts, _ = build_drafts(calls, traces, total=n, seed=seed, tools=allowed)
    return [(t, k, allowed) for t, k in drafts]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    drafts = await _drafts(args.drafts, args.seed)
    random.Random(args.seed).shuffle(drafts)
    server = None
    if args.url:
        endpoint = Endpoint(args.url, args.model_name or "model")
    else:
        server = LocalModelServer(args.model)
        endpoint = server.start()
    results: dict[str, Any] = {}
    try:
        for name in ("before", "after"):
            async with ChatClient(endpoint) as client:
                writer = LLMWriter(client)
                started, written, unchanged = time.monotonic(), 0, 0
                for i, (trace, draft, tools) in enumerate(drafts):
                    if name == "before":
                        task = await _before(client, draft, i)
                        ok = not _failed(Example(task=task, trace=trace, tools=tools), _BEFORE_GATES)
                    else:
                        task = await writer.rewrite(draft, seed=i, trace=trace, tools=tools)
                        failed = _failed(Example(task=task, trace=trace, tools=tools), _REWRITE_GATES)
                        if failed and task.writer_error is None and set(failed) <= _ANSWER_GATES:
                            task = task.model_copy(update={"final_message": draft.final_message})
                            failed = _failed(Example(task=task, trace=trace, tools=tools), _REWRITE_GATES)
                        ok = not failed
                    written += ok
                    unchanged += ok and task.user_request == draft.user_request
                rows = len(drafts)
                tokens = client.prompt_tokens + client.completion_tokens
                results[name] = {
                    "rows": rows, "model_written": written, "unchanged_copies": unchanged,
                    "prompt_tokens": client.prompt_tokens, "completion_tokens": client.completion_tokens,
                    "tokens_per_accepted_row": tokens / rows if rows else 0.0,
                    "tokens_per_model_written_row": tokens / written if written else None,
                    "seconds": round(time.monotonic() - started, 1),
                }
    finally:
        if server is not None:
            server.stop()
    b, a = results["before"], results["after"]
    results["ratio_tokens_per_accepted_row"] = a["tokens_per_accepted_row"] / b["tokens_per_accepted_row"] \
        if b["tokens_per_accepted_row"] else None
    results["model"] = endpoint.model
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="bundled model: tiny, small or base")
    parser.add_argument("--url", help="an OpenAI-compatible endpoint instead of a bundled model")
    parser.add_argument("--model-name", help="the model name at --url")
    parser.add_argument("--drafts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    out = asyncio.run(main(parser.parse_args()))
    for name in ("before", "after"):
        r = out[name]
        print(f"{name:6}  rows {r['rows']:3}  model-written {r['model_written']:3} (unchanged copies "
              f"{r['unchanged_copies']})  tokens in {r['prompt_tokens']:6} out {r['completion_tokens']:5}  "
              f"per accepted row {r['tokens_per_accepted_row']:7.1f}  {r['seconds']} s")
    ratio = out["ratio_tokens_per_accepted_row"]
    print(f"model {out['model']}: writer tokens per accepted row, after / before = "
          f"{ratio:.2f}x (budget 1.5x)" if ratio else "no tokens counted")
    print(json.dumps(out))
