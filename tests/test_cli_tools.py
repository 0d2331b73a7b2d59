"""`backchain tools`, and the redaction promise checked through the whole CLI.

Real parts: a DuckDB file written through `Store`, the FastAPI shop app served
by uvicorn on 127.0.0.1, `backchain run` under Prefect's test harness.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from schemas import Observation, Tool
from store import Store
from tests.generators._openapi_app import AUTH_HEADER, SECRET, create_app
from tests.generators.test_openapi import _Server

runner = CliRunner()
ENV = "BACKCHAIN_TEST_SHOP_KEY"
T0 = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)


def _tool(name: str, side_effect: str, source: str, required: list[str], optional: list[str] = ()) -> Tool:  # type: ignore[assignment]
    props = {p: {"type": "string"} for p in [*required, *optional]}
    return Tool(toolset="shop", name=name, input_schema={"type": "object", "properties": props, "required": required},
                side_effect=side_effect, side_effect_source=source)  # type: ignore[arg-type]


def _obs(tool: str, n: int, error: bool = False) -> Observation:
    return Observation(toolset="shop", tool=tool, arguments={"n": n}, output=None if error else {"n": n},
                       is_error=error, error="HTTP 404 Not Found" if error else None, latency_ms=10.0 * (n + 1),
                       started_at=T0)


@pytest.fixture()
def recorded_db(tmp_path: Path) -> Path:
    db = tmp_path / "tools.duckdb"
    with Store(db) as store:
        store.start_run("r1", "default", {}, {})
        store.save_tools([_tool("getItem", "read", "http-method", ["item_id"]),
                          _tool("deleteItem", "destructive", "http-method", ["item_id"])], "r1")
        store.save_observations([_obs("getItem", 0), _obs("getItem", 1), _obs("getItem", 2, error=True)], "r1")
        store.finish_run("r1", status="completed", stats={})
        # A later run classified deleteItem by override and called nothing.
        store.start_run("r2", "default", {}, {})
        store.save_tools([_tool("getItem", "read", "http-method", ["item_id"]),
                          _tool("deleteItem", "write", "override", ["item_id"], ["force"])], "r2")
        store.finish_run("r2", status="completed", stats={})
    return db


def test_tools_lists_classification_parameters_and_counts(recorded_db: Path) -> None:
    result = runner.invoke(app, ["tools", "--db", str(recorded_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["tool"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"getItem", "deleteItem"}
    get, delete = rows["getItem"], rows["deleteItem"]
    assert (get["side_effect"], get["side_effect_source"], get["required"]) == ("read", "http-method", ["item_id"])
    assert (get["calls"], get["errors"], get["median_ms"]) == (3, 1, 20.0)
    # The latest run's classification, and a tool that was never called.
    assert (delete["side_effect"], delete["side_effect_source"]) == ("write", "override")
    assert (delete["optional"], delete["calls"], delete["errors"]) == (["force"], 0, 0)

    table = runner.invoke(app, ["tools", "--db", str(recorded_db)])
    assert table.exit_code == 0
    line = next(ln for ln in table.stdout.splitlines() if "getItem" in ln)
    assert all(word in line for word in ("shop", "read", "http-method", "item_id", "3", "1"))
    assert "2 rows" in table.stdout


def test_tools_filters_by_toolset_and_names_the_known_ones(recorded_db: Path) -> None:
    only = runner.invoke(app, ["tools", "--db", str(recorded_db), "--toolset", "shop", "--format", "csv"])
    assert only.exit_code == 0 and only.stdout.count("\n") == 3
    missing = runner.invoke(app, ["tools", "--db", str(recorded_db), "--toolset", "shp"])
    assert missing.exit_code == 1
    assert "no tools recorded for toolset 'shp'; recorded toolsets: shop" in " ".join(missing.output.split())


def test_tools_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tools", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1 and "no database at" in result.output


def _rows_containing(db: Path, needle: str) -> list[str]:
    """Every (table.column) of every table whose text contains the needle."""
    hits = []
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal ORDER BY 1, 2"
        ).fetchall()
        assert len({t for t, _ in columns}) >= 8, columns
        for table, column in columns:
            found = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?', [f"%{needle}%"]
            ).fetchall()[0][0]
            if found:
                hits.append(f"{table}.{column}")
    return hits


@pytest.fixture()
def prefect_logging(prefect_harness: None) -> None:
    """Prefect's own logging set up before the test runs, so caplog's handler stays in place.

    Importing ``prefect.main`` (which ``from prefect import flow`` does) applies
    Prefect's logging config and replaces the root handlers; mid-run it would
    remove caplog's handler and nothing after it would be captured.
    """
    import prefect.main  # noqa: F401


def test_api_key_from_env_reaches_the_server_but_no_row_and_no_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, prefect_logging: None,
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="prefect")
    # Loggers that do not propagate to the root still reach caplog's handler.
    quiet = [logging.getLogger(n) for n in ("prefect", "prefect.extra", "prefect._internal", "uvicorn")]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    db = tmp_path / "shop.duckdb"
    try:
        with _Server(create_app()) as server:
            url = server.url
            config = tmp_path / "run.toml"
            config.write_text(
                f'dataset = "shop"\nmax_calls = 40\nexamples = 4\n\n[[toolsets]]\nopenapi = "{server.url}/openapi.json"\n'
                f'name = "shop"\ntimeout = 5\nrate_limit = 6000\nauth_headers = {{ "{AUTH_HEADER}" = "{ENV}" }}\n'
            )
            result = runner.invoke(app, ["run", "--config", str(config), "--no-model", "--db", str(db)])
    finally:
        for logger in quiet:
            logger.removeHandler(caplog.handler)
    assert result.exit_code == 0, result.output
    assert "new version    shop@1" in result.stdout

    with Store(db, read_only=True) as store:
        _, who = store.query("SELECT output FROM observations WHERE tool = 'whoami'")
        _, echo = store.query("SELECT output FROM observations WHERE tool = 'echoAuth'")
        _, cfg = store.query("SELECT config FROM runs")
    assert json.loads(who[0][0])["auth_ok"] is True, "the key did not reach the server"
    assert json.loads(echo[0][0]) == {"you_sent": "[REDACTED]", "note": "key=[REDACTED]"}

    assert _rows_containing(db, SECRET) == []
    assert any(hit.endswith(".output") for hit in _rows_containing(db, "[REDACTED]"))  # the scan sees outputs
    stored_config = json.loads(cfg[0][0])
    assert stored_config["toolsets"][0]["auth_headers"] == {AUTH_HEADER: ENV}
    assert SECRET not in json.dumps(stored_config)

    names = {r.name for r in caplog.records}
    # The toolset's HTTP requests and Prefect's flow and task runs were all captured.
    assert {"httpx", "prefect.flow_runs", "prefect.task_runs"} <= names, sorted(names)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.__dict__}" for r in caplog.records)
    assert f"{url}/whoami" in logged  # the toolset's own requests were logged, and scanned
    assert SECRET not in logged
    assert SECRET not in result.output

    listed = runner.invoke(app, ["tools", "--db", str(db), "--toolset", "shop", "--format", "json"])
    tools: dict[str, Any] = {r["tool"]: r for r in json.loads(listed.stdout)}
    assert tools["whoami"]["calls"] >= 1 and tools["whoami"]["side_effect"] == "read"
    assert tools["deleteItem"]["side_effect"] == "destructive" and tools["deleteItem"]["calls"] == 0
    assert SECRET not in listed.output
