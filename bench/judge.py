"""Benchmark: the judge stage, prefix-shared and short-circuited vs one fresh request per leaf.

Makes N examples with the embedded default (`run_pipeline`, no model, so the
examples, the replay report and the checks are the pipeline's own), then
judges the same examples twice with the default rubric's judge questions:

- shared: what `backchain run` does (`flows._stages.judge`): deterministic
  leaves first, a failed critical gate skips the judge leaves below it, each
  example's leaves share one prompt prefix with the question last, examples in
  prompt order, one example per llama.cpp server at a time;
- fresh: every judge leaf of every example asked as its own request with the
  question first, so no two requests share more than the system prompt, and no
  short-circuit.

It prints judge leaves decided per second (a leaf skipped by a failed gate is
decided too: that is the point of gating), requests, and the prompt tokens the
server actually evaluated, and the ratios. On the llama.cpp server those
tokens are read from its log ("prompt eval time = ... / N tokens", one line per
request, after prefix reuse); against vLLM (--url/--model) from /metrics:
``vllm:prompt_tokens_total`` minus ``vllm:prefix_cache_hits_total``.

    .venv/bin/python bench/judge.py                    # the bundled 1.5B (llama.cpp), 12 examples
    .venv/bin/python bench/judge.py --examples 20
    .venv/bin/python bench/judge.py --url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-1.7B --concurrency 64

The reply cache is off: every request reaches the server. Ratios, not absolute
times, are the result; these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import (
    Reporter,
    RunConfig,
    _stages,
    run_pipeline,
)
from generators import ChatClient, Endpoint, LocalModelServer
from schemas import Example, Rubric
from validators import CheckContext, Judge, judge_leaves

_PROMPT_EVAL = re.compile(r"prompt eval time\s*=\s*[\d.]+ ms /\s*(\d+) tokens")


class QuestionFirstJudge(Judge):
    """The baseline's layout: the question before the example, so no prefix is shared."""

    def messages(self, context: str, question: str) -> list[dict[str, str]]:
        *before, _example = super().messages(context, question)  # the rules and worked examples stay
        return [*before, {"role": "user", "content": f"Question: {question}\nAnswer yes or no.\n\n{context}"}]


async def make_examples(n: int, seed: int, db: Path) -> tuple[list[Example], CheckContext, Rubric]:
    """The pipeline's examples, replay report and rubric, as its judge stage receives them."""
    seen: dict[str, Any] = {}

    def capture(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        if name == "dedup":  # judge what was written, near duplicates included: N examples
            async def dedup(written: list[Example], config: RunConfig) -> Any:
                seen["written"] = list(written)
                return await fn(written, config)
            return dedup
        if name == "judge":
            async def judge(examples: list[Example], rubric: Rubric, ctx: CheckContext, *rest: Any) -> Any:
                seen.update(ctx=ctx, rubric=rubric)
                return await fn(examples, rubric, ctx, *rest)
            return judge
        return fn

    await run_pipeline(RunConfig(examples=n, seed=seed, no_model=True), db, Reporter(quiet=True), capture)
    return seen["written"], seen["ctx"], seen["rubric"]


class TokenMeter:
    """Prompt tokens the server evaluated since the last reading."""

    def __init__(self, log: Path | None, url: str | None) -> None:
        self.log, self.metrics_url, self._mark = log, url, 0.0
        self.reset()

    def _total(self) -> float:
        if self.log is not None:
            return float(sum(int(n) for n in _PROMPT_EVAL.findall(self.log.read_text(errors="replace"))))
        assert self.metrics_url is not None
        text = httpx.get(self.metrics_url, timeout=10).text
        return _counter(text, "vllm:prompt_tokens_total") - _counter(text, "vllm:prefix_cache_hits_total")

    def reset(self) -> None:
        self._mark = self._total()

    def read(self) -> float:
        return self._total() - self._mark


def _counter(metrics: str, name: str) -> float:
    """Sum of one Prometheus counter over its labels (0 if absent)."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Result:
    name: str
    seconds: float
    leaves: int
    requests: int
    tokens: float

    def line(self) -> str:
        return (f"{self.name:<8} {self.leaves:>6} leaves in {self.seconds:7.1f} s = {self.leaves / self.seconds:6.2f}/s"
                f"  {self.requests:>5} requests  {self.tokens:>9.0f} prompt tokens evaluated")


async def run_shared(examples: list[Example], ctx: CheckContext, rubric: Rubric, make_judge: Callable[[], Judge],
                     meter: TokenMeter) -> Result:
    judge = make_judge()
    meter.reset()
    t0 = time.perf_counter()
    await _stages.judge(examples, rubric, ctx, judge)
    seconds = time.perf_counter() - t0
    result = Result("shared", seconds, len(examples) * len(judge_leaves(rubric)), judge.requests, meter.read())
    await judge.aclose()
    return result


async def run_fresh(examples: list[Example], rubric: Rubric, make_judge: Callable[[], Judge],
                    meter: TokenMeter) -> Result:
    judge = make_judge()
    questions = [leaf.question or "" for leaf in judge_leaves(rubric)]
    meter.reset()
    t0 = time.perf_counter()
    # Every leaf, no gate: the judge's own semaphore bounds what is in flight.
    await asyncio.gather(*(judge.score(e, q) for e in examples for q in questions))
    seconds = time.perf_counter() - t0
    result = Result("fresh", seconds, len(examples) * len(questions), judge.requests, meter.read())
    await judge.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=12,
                        help="Examples judged (default: 12; the bundled 1.5B takes about 30 s an example on 2 cores).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="A judge endpoint (…/v1), e.g. vLLM; default: the bundled llama.cpp model.")
    parser.add_argument("--model", help="The model served at --url.")
    parser.add_argument("--concurrency", type=int, default=4, help="Requests in flight (default: 4).")
    parser.add_argument("--min-coverage", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="Seconds per request (default: 1800). Throughput, not latency, is measured: the "
                             "baseline queues --concurrency long prompts at a one-slot llama.cpp server.")
    parser.add_argument("--json", type=Path, help="Also write the numbers to this file.")
    args = parser.parse_args()
    if bool(args.url) != bool(args.model):
        parser.error("--url and --model go together")

    with tempfile.TemporaryDirectory() as tmp:
        print(f"making {args.examples} examples with the embedded default (no model) ...", flush=True)
        examples, ctx, rubric = asyncio.run(make_examples(args.examples, args.seed, Path(tmp) / "bench.duckdb"))
        server = None
        if args.url:
            endpoint = Endpoint(args.url, args.model)
            meter = TokenMeter(None, args.url.rstrip("/").removesuffix("/v1") + "/metrics")
        else:
            server = LocalModelServer(log_path=Path(tmp) / "llama.log")
            endpoint = server.start()
            meter = TokenMeter(server.log_path, None)
        try:
            def make(cls: type[Judge]) -> Callable[[], Judge]:
                return lambda: cls(ChatClient(endpoint, concurrency=args.concurrency, timeout=args.timeout),
                                   min_coverage=args.min_coverage, seed=args.seed, shots=rubric.judge_shots())

            async def both() -> tuple[Result, Result]:
                warm = make(Judge)()  # the first request pays for loading; not either mode's cost
                await warm.score(examples[0], "Is this a warm-up?")
                await warm.aclose()
                fresh = await run_fresh(examples, rubric, make(QuestionFirstJudge), meter)
                shared = await run_shared(examples, ctx, rubric, make(Judge), meter)
                return fresh, shared

            fresh, shared = asyncio.run(both())
        finally:
            if server is not None:
                server.stop()

    speed = (shared.leaves / shared.seconds) / (fresh.leaves / fresh.seconds)
    tokens = fresh.tokens / shared.tokens if shared.tokens else float("inf")
    print(f"judge: {endpoint.model} at {endpoint.url}; {len(examples)} examples, "
          f"{len(judge_leaves(rubric))} judge questions each; concurrency {args.concurrency}")
    print(fresh.line())
    print(shared.line())
    print(f"leaves/s            {speed:5.2f}x  (target >= 2x)")
    print(f"prompt tokens       {tokens:5.2f}x fewer  (target >= 3x)")
    if args.json:
        args.json.write_text(json.dumps({
            "model": endpoint.model, "url": endpoint.url, "examples": len(examples),
            "fresh": fresh.__dict__, "shared": shared.__dict__,
            "leaves_per_s_ratio": speed, "prompt_tokens_ratio": tokens,
        }, indent=1))


if __name__ == "__main__":
    main()
