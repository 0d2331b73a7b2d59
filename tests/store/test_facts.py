"""Store facts: volatile fields, difficulty (latest per task and solver), observations read back."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas import Observation, TaskDifficulty, VolatileField
from store import Store


def test_volatile_fields_and_difficulty_views(tmp_path: Path) -> None:
    with Store(tmp_path / "f.duckdb") as store:
        fields = [VolatileField(toolset="mcp-time", tool="get_current_time", pointer="/datetime")]
        store.save_volatility("r1", fields)
        store.save_volatility("r2", fields)
        cols, rows = store.query("SELECT toolset, tool, pointer, runs FROM volatile_fields")
        assert rows == [("mcp-time", "get_current_time", "/datetime", 2)]

        store.save_difficulty([TaskDifficulty(example_id="e1", solver_model="m", attempts=4, passes=1)])
        store.save_difficulty([TaskDifficulty(example_id="e1", solver_model="m", attempts=4, passes=3)])
        cols, rows = store.query("SELECT example_id, passes, pass_rate, reward_variance FROM difficulty")
        assert rows == [("e1", 3, 0.75, pytest.approx(0.1875))]  # the latest measurement wins


def test_iter_observations_round_trips_records(tmp_path: Path) -> None:
    when = _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.UTC)
    obs = [
        Observation(toolset="a", tool="t", arguments={"x": 1}, output={"y": [1, 2]}, started_at=when),
        Observation(toolset="b", tool="u", arguments={}, output=None, is_error=True, error="boom", started_at=when),
    ]
    with Store(tmp_path / "o.duckdb") as store:
        store.save_observations(obs, "r1")
        assert {o.observation_id for o in store.iter_observations()} == {o.observation_id for o in obs}
        only_a = list(store.iter_observations(["a"]))
    assert len(only_a) == 1 and only_a[0] == obs[0].model_copy(update={"latency_ms": 0.0})


def test_difficulty_command_measures_a_version(tmp_path: Path, llama_endpoint: Any) -> None:
    import asyncio

    from flows import Reporter, RunConfig, run_pipeline
    from flows.cli import app
    from tests.conftest import TIME_CMD

    db = tmp_path / "d.duckdb"
    # mcp-server-time alone: two tools in the solver's prompt, not the embedded catalogue's ~3,000
    # tokens of schemas (45 s a prompt on a 2-core CI machine).
    zones = ["Europe/Paris", "Asia/Tokyo", "America/Lima"]
    config = RunConfig(dataset="default", examples=2, no_model=True, seed=3, kinds={"single": 1},
                       toolsets=[{"mcp": TIME_CMD}],
                       values={"timezone": zones, "source_timezone": zones, "target_timezone": zones,
                               "time": ["09:30", "18:05"]})
    asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    result = CliRunner().invoke(app, ["difficulty", "default@latest", "-k", "1", "--sample", "1", "--max-turns", "1",
                                      "--solver-url", llama_endpoint.url, "--solver-model", llama_endpoint.model,
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 tasks, 1 attempts each" in result.output
    rows = CliRunner().invoke(app, ["sql", "SELECT attempts FROM difficulty", "--format", "json", "--db", str(db)])
    assert json.loads(rows.stdout) == [{"attempts": 1}]


@pytest.mark.parametrize(
    ("output", "empty"),
    [([], True), ({}, True), ("", True), (None, True), ({"route": "JFK-EEN", "flights": [], "carriers": []}, True),
     ({"route": "JFK-ORD", "flights": [1]}, False), ({"a": 1}, False), ("text", False)],
)
def test_observations_flag_empty_results(tmp_path: Path, output: object, empty: bool) -> None:
    when = _dt.datetime(2026, 1, 2, tzinfo=_dt.UTC)
    with Store(tmp_path / "e.duckdb") as store:
        store.save_observations([Observation(toolset="a", tool="t", arguments={}, output=output, started_at=when)], "r")
        _, rows = store.query("SELECT is_empty FROM observations")
    assert rows == [(empty,)]


def test_an_error_is_not_an_empty_result(tmp_path: Path) -> None:
    when = _dt.datetime(2026, 1, 2, tzinfo=_dt.UTC)
    with Store(tmp_path / "e.duckdb") as store:
        store.save_observations([Observation(toolset="a", tool="t", arguments={}, is_error=True, error="x",
                                             started_at=when)], "r")
        _, rows = store.query("SELECT is_error, is_empty FROM observations")
    assert rows == [(True, False)]
