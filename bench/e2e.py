"""Benchmark: the embedded default end to end.

Runs the whole pipeline (`run_pipeline`, the path `backchain run` takes, without
Prefect's temporary server so its ~10 s start does not distort a small run) on
N examples and prints examples per minute and the share of wall time spent
waiting on model calls, on tool calls, and in everything else: backchain's own
overhead. Shares are ratios of wall time measured in the same process; absolute
times on these machines are noisy.

    .venv/bin/python bench/e2e.py --examples 12                       # the default: the bundled 1.5B
    .venv/bin/python bench/e2e.py --examples 12 --local-model small   # the 0.5B
    .venv/bin/python bench/e2e.py --examples 30 --no-model            # tools + checks only

It ends with the wall time by stage (explore, write, replay, judge, seal) and the model
tokens each spent.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from flows import Reporter, RunConfig, run_pipeline
from generators import MODEL_CLOCK, TOOL_CLOCK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=12)
    parser.add_argument("--max-calls", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--local-model", default=None,
                        help="Bundled model: tiny, small or base (default: $BACKCHAIN_LOCAL_MODEL, else base).")
    args = parser.parse_args()
    config = RunConfig(examples=args.examples, max_calls=args.max_calls, seed=args.seed, no_model=args.no_model,
                       local_model=args.local_model)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = asyncio.run(run_pipeline(config, Path(tmp) / "bench.duckdb", Reporter(quiet=True)))
        wall = time.perf_counter() - t0
    model, tools = MODEL_CLOCK.seconds, TOOL_CLOCK.seconds
    other = max(wall - model - tools, 0.0)
    written = summary.tasks_written
    print(f"examples written   {written} ({summary.status_counts.get('accepted', 0)} accepted) in {wall:.1f} s")
    print(f"examples / minute  {written / wall * 60:.1f}")
    print(f"model calls        {MODEL_CLOCK.calls:>5}  {model / wall:6.1%} of wall time")
    print(f"tool calls         {TOOL_CLOCK.calls:>5}  {tools / wall:6.1%} of wall time")
    print(f"everything else           {other / wall:6.1%} of wall time  (process starts, checks, store)")
    if summary.accounting is not None:  # the default run's wall time by stage: explore, write, judge, seal
        totals = summary.accounting.totals()
        groups = {"explore": ("list-tools", "explore", "chain", "draft"), "write": ("back-chain", "dedup"),
                  "replay": ("replay",), "judge": ("judge",), "seal": ("commit",)}
        for group, stages in groups.items():
            seconds = sum(totals[s].seconds for s in stages if s in totals)
            tokens = sum(totals[s].tokens_in + totals[s].tokens_out for s in stages if s in totals)
            print(f"stage {group:<8} {seconds:7.1f} s  {seconds / wall:6.1%} of wall time  {tokens:>7} model tokens")


if __name__ == "__main__":
    main()
