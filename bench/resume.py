"""Benchmark: a run killed half way and started again finishes in about the remaining half.

An HTTP API on 127.0.0.1 whose every endpoint takes a fixed time (50 ms by
default), reached through the OpenAPI connector, so tool time dominates a run.
The same `generate` path (`run_pipeline`, as `backchain run` takes it, in a
child process of its own) runs three times, each child timing itself from
just before the pipeline starts (so Python's imports are not counted):

1. uninterrupted, on a fresh database;
2. on another fresh database, killed with SIGKILL once the API has executed
   about half of the calls run 1 executed;
3. started again on that database with the same config: it finds the killed
   run's calls in the store and makes only the rest;
4. once more on that database: every call is in the store, so this is what a
   run costs besides its tool calls (start, checks, judging, sealing).

Prints run 3's time / run 1's time (target about 0.5: the remaining half; the
part of a run that does not depend on calls, run 4, keeps it above that), the
same ratio without that fixed part,
the content hashes (equal), and the calls made again: a call the killed run
had finished and recorded, executed again by the resumed run (target 0), and
separately the calls that were in flight at the kill (executed by the API, never
recorded, so made again: at most the concurrency).

    .venv/bin/python bench/resume.py
    .venv/bin/python bench/resume.py --latency-ms 50 --families 12 --concurrency 2 --kill-at 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent


def _api(families: int, latency: float, executed: Counter[tuple[str, str]], lock: threading.Lock) -> Any:
    """Per family k: listShelf{k}(page) -> three skus; getItem{k}(sku) -> price and stock (404 if unknown)."""
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="shelves", version="1.0")

    def count(path: str, args: dict[str, Any]) -> None:
        with lock:
            executed[(path, json.dumps(args, sort_keys=True))] += 1

    def add_family(k: int) -> None:
        @app.get(f"/shelf{k}", operation_id=f"listShelf{k}", summary=f"Items on shelf {k}, one page.")
        async def list_shelf(page: Literal["a", "b", "c", "d", "e", "f"]) -> dict[str, Any]:
            count(f"/shelf{k}", {"page": page})
            await asyncio.sleep(latency)
            return {"shelf": k, "page": page, "items": [{"sku": f"S{k}-{page}-{j}"} for j in range(3)]}

        @app.get(f"/shelf{k}/items/{{sku}}", operation_id=f"getItem{k}", summary=f"One item of shelf {k}.")
        async def get_item(sku: str) -> dict[str, Any]:
            count(f"/shelf{k}/items", {"sku": sku})
            await asyncio.sleep(latency)
            parts = sku.split("-")
            if len(parts) != 3 or parts[0] != f"S{k}" or parts[1] not in "abcdef" or not parts[2].isdigit():
                raise HTTPException(status_code=404, detail=f"no item {sku!r} on shelf {k}")
            page, j = "abcdef".index(parts[1]), int(parts[2])
            return {"sku": sku, "price_eur": round(1.5 + k + page * 0.25 + j * 0.1, 2), "stock": (k * 7 + page * 3 + j) % 11}

    for k in range(families):
        add_family(k)
    return app


def _serve(app: Any) -> tuple[str, Any]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return url, server


def _child(config_path: str, db: str, out: str) -> None:
    """Run the pipeline once and write its own wall time and result to ``out``."""
    from flows import Reporter, RunConfig, run_pipeline

    config = RunConfig.model_validate(json.loads(Path(config_path).read_text()))
    t0 = time.perf_counter()
    summary = asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    seconds = time.perf_counter() - t0
    if summary.version is None:
        raise SystemExit("the run sealed no version")
    Path(out).write_text(json.dumps({
        "seconds": seconds, "hash": summary.version.content_hash, "rows": summary.version.row_count,
        "cached_calls": summary.cached_calls, "calls": summary.calls,
    }))


def _start(config: Path, db: Path, out: Path) -> subprocess.Popen[bytes]:
    with open(out.with_suffix(".err"), "wb") as err:
        return subprocess.Popen(
            [sys.executable, __file__, "--child", str(config), str(db), str(out)],
            cwd=ROOT, start_new_session=True, stderr=err,
        )


def _finish(proc: subprocess.Popen[bytes], out: Path, what: str) -> dict[str, Any]:
    if proc.wait() != 0:
        raise SystemExit(f"the {what} run failed:\n" + out.with_suffix(".err").read_text()[-2000:])
    return dict(json.loads(out.read_text()))


def _recorded(db: Path) -> Counter[tuple[str, str]]:
    """The calls the store had recorded (path, arguments), as the API counts them."""
    from store import Store

    with Store(db, read_only=True) as store:
        _, rows = store.query("SELECT observation FROM call_cache")
    found: Counter[tuple[str, str]] = Counter()
    for (raw,) in rows:
        obs = json.loads(raw)
        family = obs["tool"].removeprefix("listShelf").removeprefix("getItem")
        path = f"/shelf{family}" if obs["tool"].startswith("listShelf") else f"/shelf{family}/items"
        found[(path, json.dumps(obs["arguments"], sort_keys=True))] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--families", type=int, default=12, help="endpoint pairs (list + get) in the API")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of run 1's calls executed before the kill")
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    executed: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    url, server = _serve(_api(args.families, args.latency_ms / 1000, executed, lock))

    def snapshot() -> Counter[tuple[str, str]]:
        with lock:
            taken = Counter(executed)
            executed.clear()
        return taken

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        config = tmp / "run.json"
        config.write_text(json.dumps({
            "dataset": "shelves", "examples": args.examples, "seed": 1, "no_model": True, "dedup_threshold": 0,
            "max_calls": 1000, "rounds": 6, "concurrency": args.concurrency,
            "openapi": [{"spec": f"{url}/openapi.json", "base_url": url}],
        }))

        ref_out = tmp / "ref.json"
        reference = _finish(_start(config, tmp / "ref.duckdb", ref_out), ref_out, "uninterrupted")
        ref_calls = snapshot()
        total = sum(ref_calls.values())

        db = tmp / "resume.duckdb"
        proc = _start(config, db, tmp / "killed.json")
        t0 = time.perf_counter()
        while True:
            with lock:
                done = sum(executed.values())
            if done >= args.kill_at * total:
                break
            if proc.poll() is not None:
                raise SystemExit("the run ended before it could be killed; raise --families")
            time.sleep(0.002)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_seconds = time.perf_counter() - t0
        killed_calls = snapshot()
        recorded = _recorded(db)

        resumed_out = tmp / "resumed.json"
        resumed = _finish(_start(config, db, resumed_out), resumed_out, "resumed")
        resumed_calls = snapshot()

        cached_out = tmp / "cached.json"
        cached = _finish(_start(config, db, cached_out), cached_out, "fully cached")
        cached_calls = snapshot()
    server.should_exit = True

    # Per call: what both runs executed beyond the reference, less the calls lost in flight.
    repeated = sum(((resumed_calls + recorded) - ref_calls).values())
    in_flight = sum((killed_calls - recorded).values())
    ratio = resumed["seconds"] / reference["seconds"]
    fixed = cached["seconds"]
    call_bound = (resumed["seconds"] - fixed) / (reference["seconds"] - fixed)
    print(f"API latency per call      {args.latency_ms:.0f} ms, concurrency {args.concurrency}")
    print(f"uninterrupted run         {reference['seconds']:6.2f} s  {total} calls executed, "
          f"{reference['rows']} rows, content {reference['hash'][:12]}")
    print(f"killed run                {killed_seconds:6.2f} s  (wall, incl. start) {sum(killed_calls.values())} "
          f"executed, {sum(recorded.values())} recorded at the kill")
    print(f"resumed run               {resumed['seconds']:6.2f} s  {sum(resumed_calls.values())} executed, "
          f"{resumed['cached_calls']} from the store, content {resumed['hash'][:12]}")
    print(f"rerun, everything cached  {fixed:6.2f} s  {sum(cached_calls.values())} executed: the fixed part of a run")
    print(f"same version              {resumed['hash'] == reference['hash'] == cached['hash']}")
    print(f"resumed / uninterrupted   {ratio:.2f}  (target about {1 - args.kill_at:.2f})")
    print(f"  without the fixed part  {call_bound:.2f}  (calls left after the kill: "
          f"{sum(resumed_calls.values()) / total:.2f} of the run's)")
    print(f"recorded calls made again {repeated}  (target 0)")
    print(f"in flight at the kill     {in_flight}  (executed, never recorded, so made again)")


if __name__ == "__main__":
    main()
