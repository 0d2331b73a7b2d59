"""`backchain run --openapi` against an API that starts failing: the circuit breaker stops the run.

The API is a real HTTP server on 127.0.0.1 (tests/generators/_fault_server.py)
that answers six item lookups and then 503 to everything, the fault a real
API cannot be made to produce on cue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from flows.cli import app
from tests.generators._fault_server import FaultServer, Reply, ok

runner = CliRunner()
HEALTHY = 6


def _sql(db: Path, query: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["sql", query, "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_an_api_that_starts_failing_stops_the_run_with_one_line(tmp_path: Path, prefect_harness: None) -> None:
    def script(method: str, path: str, before: int) -> Reply:
        return ok(path) if len(server.hits("/items")) <= HEALTHY else (503, {"Retry-After": "0"}, {"error": "down"})

    # Enough distinct calls that, unchecked, the run would send hundreds of requests:
    # 20 rounds of 3 lookups, each failing one retried 4 times.
    config = tmp_path / "run.toml"
    config.write_text("rounds = 20\nmax_calls = 60\n[values]\nitem_id = [" + ", ".join(map(str, range(1, 61)))
                      + "]\n", encoding="utf-8")
    db = tmp_path / "flaky.duckdb"
    with FaultServer(script) as server:
        result = runner.invoke(app, ["run", "--openapi", f"{server.url}/openapi.json", "--config", str(config),
                                     "--no-model", "--examples", "3", "--db", str(db)])
    lookups = len(server.hits("/items"))

    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    message = errors[0].removeprefix("error: ")
    assert message.startswith("stopped: ") and "calls to toolset 'flaky-api' failed" in message, message
    assert "(HTTP 503 Service Unavailable after 4 attempts; Retry-After 0 s: " in message
    assert message.endswith("the circuit breaker threshold is 50% (--max-error-rate)")
    # Opened after at most 13 calls (6 answered, 7 failed) plus the 2 others of that round:
    # 6 + 9 * 4 requests at most, against 6 + 54 * 4 = 222 had it not stopped.
    assert HEALTHY < lookups <= 6 + 9 * 4, lookups

    runs = _sql(db, "SELECT status FROM runs")
    assert [r["status"] for r in runs] == [f"failed: {message}"]
    assert _sql(db, "SELECT count(*) AS n FROM versions") == [{"n": 0}]


def test_max_error_rate_one_lets_the_same_run_go_on(tmp_path: Path, prefect_harness: None) -> None:
    """The control: with the breaker off, failures are recorded and the run completes."""
    def script(method: str, path: str, before: int) -> Reply:
        return ok(path) if len(server.hits("/items")) <= HEALTHY else (503, {"Retry-After": "0"}, {"error": "down"})

    config = tmp_path / "run.toml"
    config.write_text("rounds = 10\nmax_calls = 30\n[values]\nitem_id = [" + ", ".join(map(str, range(1, 31)))
                      + "]\n", encoding="utf-8")
    db = tmp_path / "flaky.duckdb"
    with FaultServer(script) as server:
        result = runner.invoke(app, ["run", "--openapi", f"{server.url}/openapi.json", "--config", str(config),
                                     "--no-model", "--examples", "3", "--max-error-rate", "1", "--db", str(db)])
    assert result.exit_code == 0, result.output
    failed = _sql(db, "SELECT count(*) AS n FROM observations WHERE is_error")[0]["n"]
    assert failed >= 7  # past the point where the breaker opened above
    assert len(server.hits("/items")) > 6 + 9 * 4
