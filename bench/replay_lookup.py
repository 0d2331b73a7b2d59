"""Benchmark: replay lookups per second from an exported replay table, inside a tool call.

An RL rollout's tool calls are answered from ``<stem>.replay.parquet`` (issue 19); the
environment must never make a rollout wait. This builds a replay table of ``--calls`` recorded
observations over a handful of tools with realistic arguments (strings, numbers, nested
objects), in exactly the layout ``write_replay_table`` writes (``exporters.REPLAY_SCHEMA``, the
tools in the file's metadata), writes the TRL tools module for those tools
(``exporters._trl_tools.tools_module_source``, what ``--tools-module`` writes), and times, on
one core (the process pinned to CPU 0, one thread):

* ``tools.<fn>(**arguments)``: a call of the generated tool function, as GRPOTrainer makes it
  (the replay session, argument mapping, lookup, recorded text), for recorded calls;
* the same for calls nobody recorded (the miss policy's error text);
* ``BackchainReplayTool.execute`` (verl's tool, awaited as the agent loop does) when verl is
  installed;
* ``ReplayTools.answer`` alone.

Every timed call's answer is checked against the recorded output first. Loading the table is
timed apart. The target is at least 10,000 lookups per second.

    .venv/bin/python bench/replay_lookup.py
    .venv/bin/python bench/replay_lookup.py --calls 200000 --lookups 50000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.parquet as pq

from exporters import REPLAY_SCHEMA
from exporters._trl_tools import tools_module_source
from exporters.rl_env import ReplayTools
from generators import TOOLS_METADATA_KEY, normalised_key
from schemas import Tool, VersionInfo, canonical_json, compact_json

TARGET = 10_000
TOOLSET = "bench"
WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _tool(name: str, properties: dict[str, Any], required: list[str]) -> Tool:
    return Tool(toolset=TOOLSET, name=name, description=f"The {name} tool.", side_effect="read",
                side_effect_source="annotations",
                input_schema={"type": "object", "properties": properties, "required": required})


TOOLS = [
    _tool("country_info", {"country": {"type": "string", "description": "Country name."}}, ["country"]),
    _tool("timezone_at", {"latitude": {"type": "number", "description": "Latitude."},
                          "longitude": {"type": "number", "description": "Longitude."}}, ["latitude", "longitude"]),
    _tool("route_flights", {"origin": {"type": "string", "description": "From."},
                            "dest": {"type": "string", "description": "To."},
                            "month": {"type": "integer", "description": "Month."},
                            "limit": {"type": "integer", "description": "How many."}}, ["origin", "dest", "month"]),
    _tool("search", {"query": {"type": "string", "description": "Text."},
                     "filters": {"type": "object", "description": "Filters."}}, ["query"]),
]


def _arguments(tool: str, i: int) -> dict[str, Any]:
    if tool == "country_info":
        return {"country": f"Country {i}"}
    if tool == "timezone_at":
        return {"latitude": round(-80 + (i * 0.0137) % 160, 6), "longitude": round(-170 + (i * 0.0291) % 340, 6)}
    if tool == "route_flights":
        return {"origin": f"A{i % 997:03d}", "dest": f"B{i % 991:03d}", "month": 1 + i % 12, "limit": 5}
    return {"query": f"thing number {i}", "filters": {"year": 2000 + i % 25, "tags": ["x", f"t{i % 7}"]}}


def _output(tool: str, i: int) -> Any:
    return {"tool": tool, "id": i, "rows": [{"k": j, "v": f"value {i}-{j}"} for j in range(3)]}


def build_table(path: Path, calls: int) -> list[tuple[str, dict[str, Any], Any]]:
    """A replay table of ``calls`` observations; returns (tool, arguments, output) of each."""
    recorded = []
    columns: dict[str, list[Any]] = {name: [] for name in REPLAY_SCHEMA.names}
    for i in range(calls):
        tool = TOOLS[i % len(TOOLS)].name
        arguments, output = _arguments(tool, i), _output(tool, i)
        recorded.append((tool, arguments, output))
        columns["toolset"].append(TOOLSET)
        columns["toolset_version"].append("1.0")
        columns["tool"].append(tool)
        columns["arguments_json"].append(canonical_json(arguments))
        columns["normalised_key"].append(normalised_key(TOOLSET, tool, arguments))
        columns["output_json"].append(canonical_json(output))
        columns["is_error"].append(False)
        columns["error"].append(None)
        columns["observation_id"].append(f"obs-{i:09d}")
        columns["started_at"].append(WHEN)
    table = pa.Table.from_pydict(columns, schema=REPLAY_SCHEMA)
    metadata = {TOOLS_METADATA_KEY: canonical_json([t.model_dump(mode="json") for t in TOOLS])}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return recorded


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} lookups/s  ({seconds / n * 1e6:6.1f} µs each)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="recorded observations in the table")
    parser.add_argument("--lookups", type=int, default=20_000, help="timed lookups per measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recorded = build_table(root / "bench.replay.parquet", args.calls)
        version = VersionInfo(dataset="bench", version=1, version_id="b" * 32, parent_id=None, created_at=WHEN,
                              row_count=0, content_hash="c" * 32, run_id=None, message="", tags=[])
        source = tools_module_source(TOOLS, version, "bench", ("bench.reward_spec.json", "bench.replay.parquet"))
        (root / "bench.tools.py").write_text(source, encoding="utf-8")
        spec = spec_from_file_location("bench_tools", root / "bench.tools.py")
        assert spec is not None and spec.loader is not None
        tools = module_from_spec(spec)
        spec.loader.exec_module(tools)
        functions = {f.__name__: f for f in tools.TOOLS}

        started = time.perf_counter()
        replay = ReplayTools.load(root / "bench.replay.parquet")
        load_s = time.perf_counter() - started

        sample = [recorded[rng.randrange(len(recorded))] for _ in range(args.lookups)]
        for tool, arguments, output in sample[:500]:  # the answers are the recorded outputs (keys as stored)
            assert functions[tool](**arguments) == compact_json(json.loads(canonical_json(output)))
        misses = [(tool, {**arguments, **({"country": "Atlantis"} if tool == "country_info" else {"limit": 99})})
                  for tool, arguments, _ in sample if tool in ("country_info", "route_flights")]
        assert functions[misses[0][0]](**misses[0][1]).startswith("Error: no recorded observation")

        def timed(fn: Any) -> float:
            started = time.perf_counter()
            fn()
            return time.perf_counter() - started

        results = {
            "tool function (TRL --tools-module), hits": (len(sample), timed(
                lambda: [functions[t](**a) for t, a, _ in sample])),
            "tool function (TRL --tools-module), misses": (len(misses), timed(
                lambda: [functions[t](**a) for t, a in misses])),
            "ReplayTools.answer alone, hits": (len(sample), timed(
                lambda: [replay.answer(t, a) for t, a, _ in sample])),
        }
        try:
            from verl.tools.schemas import OpenAIFunctionToolSchema

            from exporters.rl_env.verl_tool import BackchainReplayTool
        except ImportError:
            verl_tool = None
        else:
            import contextlib
            import io

            schema = OpenAIFunctionToolSchema.model_validate({"type": "function", "function": {
                "name": "route_flights", "description": "x", "parameters": {"type": "object", "properties": {}}}})
            with contextlib.redirect_stdout(io.StringIO()):  # BaseTool prints its schema
                verl_tool = BackchainReplayTool({"type": "native", "tool": "route_flights", "toolset": TOOLSET,
                                                 "replay": str(root / "bench.replay.parquet")}, schema)
        if verl_tool is not None:
            routes = [a for t, a, _ in sample if t == "route_flights"]

            async def loop() -> None:
                for arguments in routes:  # as ToolAgentLoop._call_tool: create, execute, release
                    instance, _ = await verl_tool.create(create_kwargs={"example_id": "e"})
                    await verl_tool.execute(instance, arguments)
                    await verl_tool.release(instance)

            results["verl BackchainReplayTool create+execute+release"] = (len(routes), timed(lambda: asyncio.run(loop())))

    print(f"replay table: {args.calls:,} recorded calls over {len(TOOLS)} tools; loaded in {load_s:.2f} s; one core")
    worst = min(n / s for n, s in results.values())
    for name, (n, seconds) in results.items():
        print(f"  {name:<52} {_rate(n, seconds)}")
    verdict = "meets" if worst >= TARGET else "MISSES"
    print(f"slowest path: {worst:,.0f} lookups/s, {worst / TARGET:.1f}x the target of {TARGET:,}/s ({verdict} it)")
    print(json.dumps({name: round(n / s) for name, (n, s) in results.items()}))
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
