"""Benchmark: deriving output views (issue 17), per output, over every captured real-server output.

Each raw output of tests/generators/views/fixtures (the text of each call, and its structured
content when there is one) is derived --repeat times after one warm-up pass (which loads
markdown-it, pint and pycountry once, as a long run does). Prints the median and p99 of the
per-output time over all runs, the slowest outputs, and the parsers that made the views.
Target: under 1 ms median per output.

Then the share of exploration wall time spent deriving views: exploration of the built-in toolset
(``python -m generators.builtin``, a real MCP server process) with every call's output derived as
a run derives it, the time inside the view code summed call by call. Target: under 5%. pint's
unit registry (0.5-2 s to load, once per process) is loaded by a background thread the explorer
starts (``views.warm_up``), overlapping the server's start and first calls; the A/B line runs the
same exploration with derivation switched off (in a fresh process, so pint is not loaded at all)
for the end-to-end difference, which on a busy machine is within the noise.

    .venv/bin/python bench/views.py
    .venv/bin/python bench/views.py --repeat 200 --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from generators.views import derive_view

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "generators" / "views" / "fixtures"


def _raw_outputs() -> list[tuple[str, Any]]:
    outputs: list[tuple[str, Any]] = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for launch in data["launches"]:
            for call in launch.get("calls", []):
                if "content" not in call:
                    continue
                texts = [block["text"] for block in call["content"] if block["type"] == "text"]
                outputs.append((f"{path.stem}:{call['tool']}", texts[0] if len(texts) == 1 else texts))
                if call.get("structured_content") is not None:
                    outputs.append((f"{path.stem}:{call['tool']} (structured)", call["structured_content"]))
    return outputs


def _size(raw: Any) -> int:
    return len(raw) if isinstance(raw, str) else len(json.dumps(raw, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=100, help="derivations of each output (default 100)")
    parser.add_argument("--calls", type=int, default=120, help="exploration calls of the built-in toolset (default 120)")
    parser.add_argument("--explore-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-views", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.explore_only:  # one timed exploration in this (fresh) process, for the A/B line
        if args.no_views:
            from generators import _mcp

            _mcp.viewed_outcome = _plain_outcome  # type: ignore[assignment]
        n, seconds, _, _ = asyncio.run(_explore_builtin(args.calls, time_views=not args.no_views))
        print(n, seconds)
        return
    outputs = _raw_outputs()
    if not outputs:
        raise SystemExit(f"no fixtures under {FIXTURES}: run tests/generators/views/capture_fixtures.py")
    parsers = collections.Counter(derive_view(raw).parser for _, raw in outputs)  # also the warm-up pass
    samples: list[float] = []
    per_output: list[tuple[float, str, int]] = []
    for name, raw in outputs:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            derive_view(raw)
            times.append(time.perf_counter() - start)
        samples.extend(times)
        per_output.append((statistics.median(times), name, _size(raw)))
    samples.sort()
    median = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    sizes = sorted(size for _, _, size in per_output)
    print(f"outputs            {len(outputs)} from {len(list(FIXTURES.glob('*.json')))} servers, "
          f"{sizes[0]}-{sizes[-1]} chars (median {statistics.median(sizes):.0f}), {args.repeat} runs each")
    print(f"derive_view median {median * 1e3:.3f} ms per output   (target < 1 ms)")
    print(f"derive_view p99    {p99 * 1e3:.3f} ms per output")
    print(f"derive_view mean   {statistics.fmean(samples) * 1e3:.3f} ms per output")
    print("slowest outputs (median):")
    for seconds, name, size in sorted(per_output, reverse=True)[:5]:
        print(f"  {seconds * 1e3:7.3f} ms  {size:6} chars  {name}")
    print("parsers:", ", ".join(f"{pid} x{n}" for pid, n in parsers.most_common()))
    calls, wall, deriving, derived = asyncio.run(_explore_builtin(args.calls))
    print(f"exploration        {calls} calls of the built-in toolset in {wall:.2f} s; {derived} outputs derived "
          f"in {deriving * 1e3:.1f} ms")
    print(f"views share        {deriving / wall * 100:.2f}% of exploration wall time   (target < 5%)")
    import subprocess

    off = subprocess.run([sys.executable, __file__, "--explore-only", "--no-views", "--calls", str(args.calls)],
                         capture_output=True, text=True, check=True).stdout.split()
    on = subprocess.run([sys.executable, __file__, "--explore-only", "--calls", str(args.calls)],
                        capture_output=True, text=True, check=True).stdout.split()
    print(f"A/B (fresh processes)  exploration {float(on[1]):.2f} s with views, {float(off[1]):.2f} s without "
          f"({(float(on[1]) / float(off[1]) - 1) * 100:+.1f}%)")


def _plain_outcome(raw: Any, **kw: Any) -> Any:
    """Views switched off: the output as the connector used to keep it (for the A/B line)."""
    from generators import CallOutcome
    from schemas import raw_text

    structured = raw.get("structured") if isinstance(raw, dict) else None
    return CallOutcome(output=structured if structured is not None else raw_text(raw), is_error=kw.get("is_error", False),
                       error=kw.get("error"), transient=kw.get("transient", False))


async def _explore_builtin(calls: int, time_views: bool = True) -> tuple[int, float, float, int]:
    """Explore the built-in toolset; (calls, wall seconds, seconds deriving views, outputs derived)."""
    from generators import ExploreConfig, Explorer, MCPToolset, _outputs, select_tools

    spent = [0.0, 0]
    original = _outputs.viewed_outcome

    def timed(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            spent[0] += time.perf_counter() - start
            spent[1] += 1

    async with MCPToolset([sys.executable, "-m", "generators.builtin"]) as toolset:
        tools, _ = select_tools(await toolset.list_tools())
        explorer = Explorer({toolset.name: toolset}, tools, ExploreConfig(max_calls=calls, seed=0))
        # The MCP connector calls viewed_outcome by the name it imported: time that one.
        from generators import _mcp

        if time_views:
            _mcp.viewed_outcome = timed  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            done = await explorer.run()
            wall = time.perf_counter() - start
        finally:
            if time_views:
                _mcp.viewed_outcome = original  # type: ignore[assignment]
    return len(done), wall, spent[0], int(spent[1])


if __name__ == "__main__":
    main()
