"""Benchmark: exploration throughput and backchain's own per-call overhead.

1. Calls per second with concurrency N vs 1 (sequential), same seed and
   budget, printed as a ratio: against the real built-in MCP server (CPU-bound
   tools in one process: concurrency cannot help much on 2 cores) and against an
   HTTP API on 127.0.0.1 whose endpoint takes 50 ms (I/O-bound, like most real
   APIs), reached through the OpenAPI connector.
2. Overhead per call outside the tool: exploration over an in-process Python
   toolset whose function returns at once, so almost all of the wall time is
   ours (argument choice, schema checks, pooling, records). Target < 5 ms.

    .venv/bin/python bench/explore.py --calls 150 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from generators import TOOL_CLOCK, ExploreConfig, Explorer, MCPToolset, PythonToolset, select_tools


async def _mcp_rate(calls: int, concurrency: int, seed: int) -> tuple[int, float]:
    async with MCPToolset([sys.executable, "-m", "generators.builtin"]) as ts:
        tools, _ = select_tools(await ts.list_tools())
        explorer = Explorer({ts.name: ts}, tools, ExploreConfig(
            max_calls=calls, rounds=50, calls_per_tool_per_round=4, concurrency=concurrency, seed=seed))
        t0 = time.perf_counter()
        done = await explorer.run()
        return len(done), time.perf_counter() - t0


def _latency_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI(title="latency")

    @app.get("/quotes/{symbol}", operation_id="getQuote")
    async def get_quote(symbol: str, day: int = 1) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"symbol": symbol, "day": day, "price": 100 + len(symbol) + day}

    return app


async def _http_rate(calls: int, concurrency: int) -> tuple[int, float]:
    import socket
    import threading

    import uvicorn

    from generators import OpenAPIToolset

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(_latency_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with OpenAPIToolset(f"{url}/openapi.json") as ts:
            tools = await ts.list_tools()
            symbols = [f"S{i:03d}" for i in range(calls)]
            explorer = Explorer({ts.name: ts}, tools, ExploreConfig(
                max_calls=calls, rounds=1, calls_per_tool_per_round=calls, concurrency=concurrency,
                values={"symbol": symbols}))
            t0 = time.perf_counter()
            done = await explorer.run()
            return len(done), time.perf_counter() - t0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def lookup(code: str, year: int = 2024) -> dict[str, Any]:
    """Return a record for a code (instant: the benchmark measures our overhead)."""
    return {"code": code, "year": year, "next_code": code[::-1], "value": len(code) * year}


def echo_code(next_code: str) -> dict[str, Any]:
    """Take a code from another record."""
    return {"seen": next_code, "length": len(next_code)}


async def _overhead(calls: int) -> tuple[int, float, float]:
    codes = [f"C{i:04d}" for i in range(calls)]
    async with PythonToolset([lookup, echo_code], side_effects={"lookup": "read", "echo_code": "read"}) as ts:
        tools = await ts.list_tools()
        explorer = Explorer({ts.name: ts}, tools, ExploreConfig(
            max_calls=calls, rounds=calls, calls_per_tool_per_round=calls, concurrency=1,
            values={"code": codes}))
        busy0 = TOOL_CLOCK.seconds
        t0 = time.perf_counter()
        done = await explorer.run()
        wall = time.perf_counter() - t0
        return len(done), wall, TOOL_CLOCK.seconds - busy0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    n1, t1 = asyncio.run(_mcp_rate(args.calls, 1, args.seed))
    nn, tn = asyncio.run(_mcp_rate(args.calls, args.concurrency, args.seed))
    print(f"built-in MCP server, sequential     {n1} calls in {t1:.2f} s = {n1 / t1:7.1f} calls/s")
    print(f"built-in MCP server, concurrency {args.concurrency:<3} {nn} calls in {tn:.2f} s = {nn / tn:7.1f} calls/s")
    print(f"speed-up (concurrent / sequential)  {(nn / tn) / (n1 / t1):.2f}x")

    h1, u1 = asyncio.run(_http_rate(min(args.calls, 60), 1))
    hn, un = asyncio.run(_http_rate(min(args.calls, 60), args.concurrency))
    print(f"HTTP API (50 ms), sequential        {h1} calls in {u1:.2f} s = {h1 / u1:7.1f} calls/s")
    print(f"HTTP API (50 ms), concurrency {args.concurrency:<3}    {hn} calls in {un:.2f} s = {hn / un:7.1f} calls/s")
    print(f"speed-up (concurrent / sequential)  {(hn / un) / (h1 / u1):.2f}x")

    n, wall, busy = asyncio.run(_overhead(max(args.calls, 500)))
    print(f"overhead per call outside the tool  {(wall - busy) / n * 1000:.2f} ms "
          f"({n} calls, {wall:.2f} s wall, {busy:.2f} s inside the tool)  target < 5 ms")


if __name__ == "__main__":
    main()
