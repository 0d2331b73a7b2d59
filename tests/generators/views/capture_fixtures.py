"""Capture raw outputs of real third-party MCP servers as fixtures for the view parsers (issue 17).

    .venv/bin/python tests/generators/views/capture_fixtures.py             # every server
    .venv/bin/python tests/generators/views/capture_fixtures.py gnomon-mcp  # only those named

Each server runs from its own venv (``install_servers.sh`` creates them, pinned, under
``~/.cache/backchain/mcp-servers/<package>``; this script runs it first, which is a no-op when they
exist). The server starts over stdio with the ``mcp`` 2.x client SDK of backchain's venv, with its
working directory in a fresh scratch directory, lists its tools and answers a handful of calls with
hand-chosen arguments, read-only tools only (nothing that writes or deletes files). Each raw result
(the text of its content blocks, structured content, is_error, tool and arguments) goes to
``fixtures/<package>.json`` next to this script.

The fixtures are inputs for parser tests, not stand-ins for servers: the pipeline's own tests start
these servers for real. Outputs of random or clock-dependent tools are captured once; the tests
read only what the parsers make of the captured text.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SERVERS_ROOT = Path(os.environ.get("BACKCHAIN_MCP_SERVERS", Path.home() / ".cache/backchain/mcp-servers"))
START_TIMEOUT = 90.0  # a busy 2-core machine needs up to ~17 s for some servers
CALL_TIMEOUT = 60.0
MAX_TEXT = 20_000  # longer text blocks are cut (and marked): fixtures stay small

Call = tuple[str, dict[str, Any]]


@dataclass
class Launch:
    """One console script of a package, and the calls to make on it."""

    argv: list[str]  # argv[0] is a script in the venv's bin/; "{scratch}" is replaced
    calls: list[Call]


@dataclass
class Server:
    package: str
    launches: list[Launch]
    #: Prepares the scratch directory (seed data files) with the server venv's python.
    setup: Callable[[Path, Path], None] | None = None
    notes: list[str] = field(default_factory=list)


def _seed_duckdb(venv: Path, scratch: Path) -> None:
    """A small table in a DuckDB file, written by the server venv's own duckdb (our setup, not a tool call)."""
    script = (
        "import duckdb, sys\n"
        "c = duckdb.connect(sys.argv[1])\n"
        "c.execute('CREATE TABLE cities (id INTEGER, name VARCHAR, country VARCHAR, population INTEGER, founded DATE)')\n"
        "c.execute(\"INSERT INTO cities VALUES (1, 'Paris', 'FR', 2102650, '0052-01-01'), "
        "(2, 'Lyon', 'FR', 522250, '0043-10-09'), (3, 'Berlin', 'DE', 3878100, '1237-10-28'), "
        "(4, 'Zürich', 'CH', 421878, '0015-01-01')\")\n"
        "c.close()\n"
    )
    subprocess.run([str(venv / "bin/python"), "-c", script, str(scratch / "cities.duckdb")], check=True)


def _seed_csv(venv: Path, scratch: Path) -> None:
    (scratch / "sales.csv").write_text(
        "region,quarter,revenue,closed\nNorth,Q1,1200.5,true\nSouth,Q1,830,false\nNorth,Q2,1410.25,true\n",
        encoding="utf-8",
    )


_DIFF = """--- a/app/config.py
+++ b/app/config.py
@@ -1,4 +1,5 @@
 import os
-DEBUG = True
+DEBUG = False
+LOG_LEVEL = "info"
 PORT = 8080
 HOST = "0.0.0.0"
"""

SERVERS: list[Server] = [
    Server("mcp-server-time", [Launch(["python", "-m", "mcp_server_time", "--local-timezone", "UTC"], [
        ("convert_time", {"source_timezone": "Europe/Paris", "time": "14:30", "target_timezone": "Asia/Tokyo"}),
        ("get_current_time", {"timezone": "America/New_York"}),
        ("convert_time", {"source_timezone": "Mars/Olympus", "time": "14:30", "target_timezone": "UTC"}),
    ])]),
    Server("mcp-server-bmi-calculator", [Launch(["mcp-server-bmi-calculator"], [
        ("calculate_bmi", {"height": 1.75, "weight": 70}),
        ("calculate_bmi", {"height": 175, "weight": 70}),
    ])]),
    Server("mcp-server-duckdb", [Launch(["mcp-server-duckdb", "--db-path", "{scratch}/cities.duckdb", "--readonly"], [
        ("query", {"query": "SELECT id, name, country, population FROM cities ORDER BY id"}),
        ("query", {"query": "SELECT count(*) AS n, sum(population) AS total FROM cities"}),
        ("query", {"query": "SELECT name FROM cities WHERE country = 'FR' ORDER BY name"}),
        ("query", {"query": "SELECT * FROM no_such_table"}),
    ])], setup=_seed_duckdb),
    Server("mcp-server-motherduck", [Launch(
        ["mcp-server-motherduck", "--db-path", "{scratch}/cities.duckdb", "--home-dir", "{scratch}"], [
            ("list_tables", {}),
            ("list_columns", {"table": "cities"}),
            ("execute_query", {"sql": "SELECT name, population FROM cities WHERE population > 500000 ORDER BY population DESC"}),
            ("execute_query", {"sql": "SELECT * FROM no_such_table"}),
        ])], setup=_seed_duckdb),
    Server("mcp-server-spreadsheet", [Launch(["mcp-server-spreadsheet"], [
        ("list_sheets", {"file": "{scratch}/sales.csv"}),
        ("read_sheet", {"file": "{scratch}/sales.csv"}),
        ("read_cell", {"file": "{scratch}/sales.csv", "cell": "C3"}),
        ("describe_table", {"file": "{scratch}/sales.csv"}),
        ("sql_query", {"file": "{scratch}/sales.csv", "sql": "SELECT region, SUM(revenue) AS total FROM \"default\" GROUP BY region ORDER BY region"}),
        ("search_sheet", {"file": "{scratch}/sales.csv", "pattern": "^North$"}),
    ])], setup=_seed_csv),
    Server("eggcalc", [Launch(["calc", "--mcp"], [
        ("math_eval", {"expression": "100 * 9 / 5 + 32"}),
        ("unit_convert", {"value": 100, "from_unit": "km", "to_unit": "mi"}),
        ("cron_inspect", {"expression": "30 9 * * 1-5", "after": "2024-02-28T12:00:00Z", "count": 3}),
        ("version_compare", {"a": "1.4.0-rc.1", "b": "1.4.0"}),
        ("text_hash", {"text": "hello world", "algorithms": ["sha256", "md5"]}),
        ("patch_summary", {"patch_text": _DIFF}),
        ("constant_lookup", {"name": "avogadro"}),
        ("math_eval", {"expr": "1 + 1"}),  # a wrong argument name: a JSON-RPC error, not is_error
    ])]),
    Server("nwtools-mcp", [Launch(["nwtools-mcp"], [
        ("parse_cidr", {"cidr": "10.0.0.0/24"}),
        ("find_gaps", {"container_cidr": "10.0.0.0/24", "used_cidrs": ["10.0.0.0/26", "10.0.0.128/26"]}),
        ("range_to_cidrs", {"first_ip": "10.0.0.0", "last_ip": "10.0.0.10"}),
        ("ip_convert", {"ip": "192.168.1.10"}),
        ("classify_ip", {"ip": "8.8.8.8"}),
        ("parse_cidr", {"cidr": "10.0.0.300/24"}),
    ])]),
    Server("calcnook-mcp", [Launch(["calcnook-mcp"], [
        ("calculate_compound_interest", {"principal": 5000, "annual_rate": 0.07, "years": 10}),
        ("calculate_loan_payment", {"principal": 12000, "annual_rate": 0.085, "years": 1, "include_schedule": True}),
        ("format_currency_amount", {"amount": 2500000, "currency": "INR", "lakh_crore_format": True}),
        ("calculate_vat", {"country": "ae", "amount": 1000}),
        ("calculate_bmi_bmr_tdee", {"mode": "bmi", "weight_kg": 70, "height_cm": 175}),
        ("calculate_retirement", {"mode": "corpus_needed"}),
    ])]),
    Server("gnomon-mcp", [Launch(["gnomon-mcp"], [
        ("calendar", {"ops": [
            {"op": "diff", "start": "2024-01-01", "end": "2024-03-01", "unit": "days"},
            {"op": "add", "date": "2024-02-28", "n": 1, "unit": "days"},
            {"op": "weekday", "date": "2024-02-29"},
        ]}),
        ("calc", {"expressions": ["100 * 9 / 5 + 32", "mean([2, 4, 9])", "sqrt(2)"]}),
        ("calc_convert", {"value": 100, "from_unit": "degC", "to_unit": "degF"}),
        ("now", {"tz": "UTC"}),
        ("calendar", {"ops": [{"op": "weekday", "date": "not-a-date"}]}),
    ])]),
    Server("emojifyi", [Launch(["python", "-m", "emojifyi.mcp_server"], [
        ("emoji_lookup", {"slug": "grinning-face"}),
        ("emoji_search", {"query": "heart", "limit": 4}),
        ("emoji_categories", {}),
        ("emoji_by_category", {"category_slug": "smileys-and-emotion", "limit": 4}),
        ("emoji_encode", {"character": "🔥"}),
        ("emoji_lookup", {"slug": "no-such-emoji"}),
    ])]),
    Server("fakedata-mcp", [Launch(["fakedata-mcp"], [
        ("generate_dataset", {"columns": json.dumps({"id": "integer", "name": "name", "signup": "date"}), "rows": 4, "format": "csv"}),
        ("generate_dataset", {"columns": json.dumps({"email": "email", "score": "float"}), "rows": 2}),
        ("generate_users", {"count": 2}),
        ("generate_text", {"type": "words", "count": 5}),
        ("generate_dataset", {"columns": "id,name"}),
    ])]),
    Server("mcpzoo-prime", [Launch(["mcpzoo-prime"], [
        ("check_prime", {"number": 360}),
        ("check_prime", {"number": 97}),
        ("check_prime", {"number": -5}),
    ])]),
    Server("electronics-mcp-servers", [
        Launch(["resistor-decoder"], [
            ("decode_resistor_color_bands", {"band1": "yellow", "band2": "violet", "band3": "red"}),
            ("encode_resistor_value", {"resistance_ohms": 4700}),
            ("find_standard_resistor", {"target_ohms": 5000}),
            ("decode_resistor_color_bands", {"band1": "pink", "band2": "violet", "band3": "red"}),
        ]),
        Launch(["capacitor-calc"], [
            ("calculate_rc_time_constant", {"resistance_ohms": 10000, "capacitance_farads": 1e-6}),
            ("suggest_capacitor_for_filter", {"cutoff_frequency_hz": 1000, "resistance_ohms": 10000}),
        ]),
    ], notes=["gpio-reference (the third console script) dies at import: ImportError: cannot import name 'main'"]),
    Server("alevlas-random-mcp", [Launch(["alevlas-random-mcp"], [
        ("generate_random_int", {"min_value": 1, "max_value": 10}),
        ("generate_uuid", {}),
        ("generate_random_string", {"length": 16, "alphabet": "hex"}),
        ("generate_random_int", {"min_value": 10, "max_value": 1}),
        ("generate_uuid", {"version": 7}),
    ])]),
    Server("mcp-dice-roller", [Launch(["mcp-dice-roller"], [
        ("roll_dice", {"notation": "2d6+3"}),
        ("roll_multiple", {"notation": "1d20+5", "times": 3}),
        ("roll_dnd_stats", {}),
        ("flip_coin", {"times": 3}),
        ("pick_random", {"options": "pizza, burger, sushi"}),
        ("roll_dice", {"notation": "bogus"}),
    ])]),
]


def _fill(value: Any, scratch: Path) -> Any:
    """Replace "{scratch}" in every string of an argument value."""
    if isinstance(value, str):
        return value.replace("{scratch}", str(scratch))
    if isinstance(value, list):
        return [_fill(v, scratch) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, scratch) for k, v in value.items()}
    return value


def _unfill(value: Any, scratch: Path) -> Any:
    """The inverse for recording: scratch paths are not stable across captures."""
    if isinstance(value, str):
        return value.replace(str(scratch), "{scratch}")
    if isinstance(value, list):
        return [_unfill(v, scratch) for v in value]
    if isinstance(value, dict):
        return {k: _unfill(v, scratch) for k, v in value.items()}
    return value


def _block(block: Any) -> dict[str, Any]:
    kind = getattr(block, "type", type(block).__name__)
    if kind == "text":
        text = block.text
        out: dict[str, Any] = {"type": "text", "text": text[:MAX_TEXT]}
        if len(text) > MAX_TEXT:
            out["truncated_from"] = len(text)
        return out
    return {"type": kind, "mime_type": getattr(block, "mime_type", None)}


async def _run_launch(server: Server, launch: Launch, venv: Path, scratch: Path) -> dict[str, Any]:
    argv = [_fill(a, scratch) for a in launch.argv]
    exe = str(venv / "bin" / argv[0])
    params = StdioServerParameters(command=exe, args=argv[1:], cwd=str(scratch))
    record: dict[str, Any] = {"argv": _unfill(argv, scratch), "tools": [], "calls": []}
    with open(scratch / "stderr.log", "w", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(START_TIMEOUT):
                await session.initialize()
                listed = await session.list_tools()
            record["tools"] = sorted(t.name for t in listed.tools)
            for tool, arguments in launch.calls:
                args = _fill(arguments, scratch)
                entry: dict[str, Any] = {"tool": tool, "arguments": _unfill(args, scratch)}
                started = time.perf_counter()
                try:
                    with anyio.fail_after(CALL_TIMEOUT):
                        result = await session.call_tool(tool, args)
                except Exception as exc:  # a JSON-RPC error is a captured outcome too
                    entry["rpc_error"] = f"{type(exc).__name__}: {exc}"
                else:
                    entry["content"] = [_block(b) for b in result.content]
                    entry["structured_content"] = result.structured_content
                    entry["is_error"] = bool(result.is_error)
                entry["seconds"] = round(time.perf_counter() - started, 3)
                record["calls"].append(_unfill(entry, scratch))
    return record


def _install(packages: list[str]) -> None:
    subprocess.run(["bash", str(HERE / "install_servers.sh"), *packages], check=True)


def _pinned_line(package: str) -> str:
    marker = SERVERS_ROOT / package / ".backchain-installed"
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else ""


async def _capture(server: Server) -> dict[str, Any]:
    venv = SERVERS_ROOT / server.package
    out: dict[str, Any] = {
        "package": server.package,
        "install": _pinned_line(server.package),
        "notes": server.notes,
        "launches": [],
    }
    for launch in server.launches:
        with tempfile.TemporaryDirectory(prefix="backchain-capture-") as tmp:
            scratch = Path(tmp)
            if server.setup is not None:
                server.setup(venv, scratch)
            try:
                out["launches"].append(await _run_launch(server, launch, venv, scratch))
            except Exception as exc:
                stderr = (scratch / "stderr.log").read_text(encoding="utf-8", errors="replace")[-800:]
                out["launches"].append({"argv": launch.argv, "failed": f"{type(exc).__name__}: {exc}", "stderr_tail": stderr})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="only these packages (default: all)")
    parser.add_argument("--no-install", action="store_true", help="do not run install_servers.sh first")
    opts = parser.parse_args()
    chosen = [s for s in SERVERS if not opts.packages or s.package in opts.packages]
    if not opts.no_install:
        _install([s.package for s in chosen])
    FIXTURES.mkdir(exist_ok=True)
    failures = 0
    for server in chosen:
        started = time.perf_counter()
        captured = anyio.run(_capture, server)
        calls = sum(len(launch.get("calls", [])) for launch in captured["launches"])
        failed = [launch for launch in captured["launches"] if "failed" in launch]
        failures += bool(failed)
        path = FIXTURES / f"{server.package}.json"
        path.write_text(json.dumps(captured, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        status = "FAILED " + "; ".join(f["failed"] for f in failed) if failed else "ok"
        print(f"{server.package:28} {calls:2} calls  {time.perf_counter() - started:5.1f}s  {status}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
