"""Benchmark: what Prefect orchestration adds to a generate run (target: ratio <= 1.05).

Two arms in one process, on the embedded toolsets (the built-in MCP server and
mcp-server-time, started by each run, with seeded values and enough exploration
rounds to reach about 1,000 tasks), each on a fresh database so both make
every tool call (and model request) themselves:

* flow:  ``generate_flow()(config=..., db=...)``, the Prefect flow `backchain run`
         starts: a flow run, one task per stage (coarse tasks), artifacts, on
         Prefect's temporary local API;
* plain: ``run_pipeline(config, db, ...)`` with the stage functions called one
         after another in plain Python: the same code without Prefect.

The arms alternate (plain, flow, plain, flow, ...) for ``--repeat`` rounds,
after one small untimed run of each (what a process loads once: the embedding
model, lazy imports), and the ratio of medians flow / plain is printed. Prefect's temporary API server is
started before timing (its ~10 s start-up is paid once per process, not per run;
`backchain serve` uses a long-lived server), so the ratio is what each run adds.

By default the runs have no model (``--no-model``: template writer,
deterministic checks), the stricter setting: orchestration costs about the same
per stage whatever the stage does, and without model time there is less work to
hide it behind. ``--model`` uses the bundled model (one llama.cpp server for the
whole benchmark, shared by both arms) as writer and judge; the 135M model on two
cores needs several seconds an example, so use it with a smaller ``--examples``.

    .venv/bin/python bench/orchestration.py                      # 1,000 examples, no model
    .venv/bin/python bench/orchestration.py --model --examples 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows import Reporter, RunConfig, generate_flow, run_pipeline


def _seeds() -> dict[str, list[Any]]:
    """Values for the built-in tools' parameters, so that exploration finds enough distinct calls
    for about 1,000 tasks (without them it runs out of new arguments at a few hundred)."""
    import pycountry

    countries = sorted(pycountry.countries, key=lambda c: c.alpha_2)[:60]
    return {"country": [c.name for c in countries], "country_code": [c.alpha_2 for c in countries],
            "year": [2024, 2025, 2026], "month": list(range(1, 13)), "origin": ["JFK", "LGA", "EWR"],
            "currency_code": ["EUR", "USD", "JPY", "GBP", "CHF"]}


def _config(args: argparse.Namespace, endpoint: Any) -> RunConfig:
    data: dict[str, Any] = {
        "examples": args.examples, "max_calls": args.max_calls or max(120, 4 * args.examples),
        "rounds": args.rounds, "seed": args.seed, "concurrency": 8, "values": _seeds(),
    }
    if endpoint is None:
        data["no_model"] = True
    else:
        model = {"url": endpoint.url, "model": endpoint.model}
        data.update(llm=model, judge=model)
    return RunConfig.model_validate(data)


async def _warm_prefect() -> None:
    """Start Prefect's temporary API (once per process) before anything is timed."""
    from prefect import get_client

    async with get_client() as client:
        await client.hello()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--max-calls", type=int, default=None, help="default: max(120, 4 x examples)")
    parser.add_argument("--rounds", type=int, default=80, help="exploration rounds (more rounds, more distinct calls)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of (plain, flow)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", action="store_true", help="the bundled model as writer and judge")
    args = parser.parse_args()

    times: dict[str, list[float]] = {"plain": [], "flow": []}
    sizes: dict[str, list[int]] = {"plain": [], "flow": []}
    written = 0
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        endpoint = None
        if args.model:
            from generators import LocalModelServer

            endpoint = stack.enter_context(LocalModelServer("tiny"))
        config = _config(args, endpoint)
        asyncio.run(_warm_prefect())
        flow = generate_flow()
        # Untimed: loads what any first run in a process loads (the embedding model for dedup,
        # lazy imports), so neither arm pays it.
        small = config.model_copy(update={"examples": min(args.examples, 10), "max_calls": 60, "rounds": 4})
        asyncio.run(flow(config=small, db=str(Path(tmp) / "warm-flow.duckdb")))
        asyncio.run(run_pipeline(small, Path(tmp) / "warm-plain.duckdb", Reporter(quiet=True)))
        for round_ in range(args.repeat):
            for arm in ("plain", "flow"):
                db = Path(tmp) / f"{arm}-{round_}.duckdb"
                started = time.perf_counter()
                if arm == "flow":
                    summary = asyncio.run(flow(config=config, db=str(db)))
                else:
                    summary = asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
                took = time.perf_counter() - started
                times[arm].append(took)
                sizes[arm].append(summary.version.row_count if summary.version else 0)
                written = summary.tasks_written
                print(f"round {round_ + 1} {arm:5}: {took:7.2f} s  {summary.calls} calls, "
                      f"{summary.tasks_written} tasks, {sizes[arm][-1]} accepted", flush=True)
    plain, flow_t = statistics.median(times["plain"]), statistics.median(times["flow"])
    mode = "bundled model" if args.model else "no model"
    print(f"\n{args.examples} examples asked for, {written} tasks written ({mode}); median of {args.repeat}:")
    print(f"  plain Python loop: {plain:8.2f} s")
    print(f"  Prefect flow:      {flow_t:8.2f} s")
    print(f"  ratio flow/plain = {flow_t / plain:.3f}  (target <= 1.05)")
    if sizes["plain"] != sizes["flow"]:
        print(f"  note: accepted rows differ between arms: {sizes}")


if __name__ == "__main__":
    main()
