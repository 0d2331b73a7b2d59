"""The replay simulator and the replay table, over a dataset the real pipeline made.

The dataset comes from `run_pipeline` on the embedded default (the built-in MCP server and
mcp-server-time as processes, no model), stored in a DuckDB file. Live calls go to real servers;
the only Python toolset stands in for nothing: it is the live side of a test that must prove no
call reached it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from exporters import REPLAY_SCHEMA, export_replay_table
from flows import Reporter, RunConfig, run_pipeline
from flows.cli import app
from generators import (
    REPLAY_COLUMNS,
    MCPToolset,
    PythonToolset,
    ReplaySimulator,
    SimulatedOutcome,
    normalise_arguments,
    normalised_key,
)
from schemas import ConfigError, Example, Observation, Tool, VersionInfo, canonical_json
from store import Store
from tests.conftest import BUILTIN_CMD, TIME_CMD
from validators import diff_pointers, replay_steps


class Recorded:
    """The pipeline's output: its database, version, examples, observations and tools."""

    def __init__(self, db: Path) -> None:
        self.db = db
        with Store(db, read_only=True) as store:
            self.version: VersionInfo = store.resolve("default", "latest")
            self.examples: list[Example] = [e for e, _, _ in store.iter_examples(self.version.version_id)]
            _, rows = store.query(
                "SELECT toolset, toolset_version, tool, arguments, output, is_error, error, latency_ms, "
                "started_at FROM observations ORDER BY started_at"
            )
        self.observations = [
            Observation(
                toolset=ts, toolset_version=v, tool=tool, arguments=json.loads(args),
                output=None if out is None else json.loads(out), is_error=err, error=msg,
                latency_ms=ms, started_at=at,
            )
            for ts, v, tool, args, out, err, msg, ms, at in rows
        ]
        tools: dict[tuple[str, str], Tool] = {}
        for example in self.examples:
            for tool in example.tools:
                tools.setdefault((tool.toolset, tool.name), tool)
        self.tools = list(tools.values())

    @property
    def steps(self) -> list[Any]:
        return [step for example in self.examples for step in example.trace.steps]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    db = tmp_path_factory.mktemp("simulator") / "backchain.duckdb"
    asyncio.run(run_pipeline(RunConfig(examples=4, no_model=True, seed=1), db, Reporter(quiet=True)))
    data = Recorded(db)
    assert data.examples, "the embedded default sealed no example"
    return data


class _Unreachable:
    """Functions of a live toolset that must never be called; they count if they are."""

    def __init__(self) -> None:
        self.calls = 0

    def anything(self) -> str:
        self.calls += 1
        return "live"


def _answer_all(sim: ReplaySimulator, steps: list[Any]) -> list[SimulatedOutcome]:
    async def go() -> list[SimulatedOutcome]:
        return [await sim.call(step.tool, step.arguments) for step in steps]  # type: ignore[misc]

    return asyncio.run(go())


def _assert_identical(outcomes: list[SimulatedOutcome], steps: list[Any]) -> None:
    for outcome, step in zip(outcomes, steps, strict=True):
        assert outcome.source == "recorded", (step.tool, outcome.error)
        assert outcome.observation_id == step.observation_id
        assert outcome.is_error == step.is_error
        assert diff_pointers(step.output, outcome.output) == []  # same values and JSON types
        assert json.dumps(outcome.output) == json.dumps(step.output)  # and the same key order


# --- answering recorded calls -------------------------------------------------------------------

def test_every_recorded_step_is_answered_identically_with_no_live_call(recorded: Recorded) -> None:
    probe = _Unreachable()
    live = PythonToolset({"anything": probe.anything}, name="live")
    sim = ReplaySimulator.from_observations(recorded.observations, recorded.tools, miss="live", live=live)
    outcomes = _answer_all(sim, recorded.steps)
    _assert_identical(outcomes, recorded.steps)
    assert sim.counts == {"recorded": len(recorded.steps)}
    assert probe.calls == 0 and sim.live_observations == []
    tools = asyncio.run(sim.list_tools())
    assert {(t.toolset, t.name) for t in tools} == {(t.toolset, t.name) for t in recorded.tools}


def test_backchain_replay_runs_against_the_per_toolset_simulators(recorded: Recorded) -> None:
    sim = ReplaySimulator.from_observations(recorded.observations, recorded.tools)
    toolsets = sim.toolsets()
    # every toolset a step or an offered tool names, and no other than the recorded observations name
    assert {s.toolset for s in recorded.steps} | {t.toolset for t in recorded.tools} <= set(toolsets)
    assert set(toolsets) <= {o.toolset for o in recorded.observations} | {t.toolset for t in recorded.tools}
    for name, view in toolsets.items():
        assert view.name == name
        assert {t.toolset for t in asyncio.run(view.list_tools())} <= {name}
    report = asyncio.run(replay_steps(toolsets, recorded.steps))
    assert report.results and all(r.same for r in report.results.values())


def test_arguments_match_after_normalisation(recorded: Recorded) -> None:
    def perturb(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return float(value)  # 2 -> 2.0
        if isinstance(value, str):
            return f"  {unicodedata.normalize('NFD', value)} "  # decomposed, padded
        if isinstance(value, dict):
            return {k: perturb(value[k]) for k in reversed(list(value))}  # other key order
        if isinstance(value, list):
            return [perturb(v) for v in value]
        return value

    sim = ReplaySimulator.from_observations(recorded.observations, recorded.tools)
    steps = [s for s in recorded.steps if s.arguments]
    assert steps
    outcomes = _answer_all(sim, [s.model_copy(update={"arguments": perturb(s.arguments)}) for s in steps])
    _assert_identical(outcomes, steps)


def test_normalisation_rules() -> None:
    assert normalise_arguments({"b": 2.0, "a": " Caf\u0065\u0301 "}) == {"a": "Caf\u00e9", "b": 2}
    assert normalise_arguments({"x": -0.0, "y": 2.5, "z": [1.0, {"k": " v"}]}) == {"x": 0, "y": 2.5, "z": [1, {"k": "v"}]}
    key = normalised_key("t", "tool", {"n": 1})
    assert normalised_key("t", "tool", {"n": 1.0}) == key
    assert normalised_key("t", "tool", {"n": True}) != key  # booleans are not numbers
    assert normalised_key("t", "tool", {"n": "1"}) != key  # nor are digit strings
    assert normalised_key("t", "tool", {"n": 1, "m": None}) != key  # null is a value
    assert normalised_key("t", "tool", {"s": "Paris"}) != normalised_key("t", "tool", {"s": "paris"})
    assert normalised_key("other", "tool", {"n": 1}) != key
    with pytest.raises(TypeError):
        normalise_arguments({"when": dt.date(2024, 1, 1)})


# --- misses -------------------------------------------------------------------------------------

def _multi_argument_step(recorded: Recorded) -> Any:
    step = next((s for s in recorded.steps if len(s.arguments) >= 2 and not s.is_error), None)
    assert step is not None, "no recorded step with two arguments"
    return step


def _changed(arguments: dict[str, Any], name: str) -> dict[str, Any]:
    value = arguments[name]
    new = value + 1 if isinstance(value, int | float) and not isinstance(value, bool) else f"{value}-x"
    return {**arguments, name: new}


def test_miss_policy_error(recorded: Recorded) -> None:
    sim = ReplaySimulator.from_observations(recorded.observations, recorded.tools)
    step = _multi_argument_step(recorded)
    args = _changed(step.arguments, sorted(step.arguments)[0])
    outcome = asyncio.run(sim.call(step.tool, args))
    assert isinstance(outcome, SimulatedOutcome)
    assert outcome.is_error and outcome.source == "miss" and outcome.output is None
    assert outcome.error == f"no recorded observation for {step.tool}({canonical_json(args)})"
    unknown = asyncio.run(sim.call("no_such_tool", {}))
    assert unknown.is_error and unknown.error == "no recorded observation for no_such_tool({})"
    assert sim.counts == {"miss": 2}


def test_miss_policy_nearest_returns_the_recorded_output_flagged(recorded: Recorded) -> None:
    step = _multi_argument_step(recorded)
    name = sorted(step.arguments)[0]
    # leave out other calls that agree on every other argument: the step's call is the nearest
    rivals = {o.observation_id for o in recorded.observations
              if o.tool == step.tool and o.observation_id != step.observation_id
              and all(o.arguments.get(k) == v for k, v in step.arguments.items() if k != name)}
    observations = [o for o in recorded.observations if o.observation_id not in rivals]
    sim = ReplaySimulator.from_observations(observations, recorded.tools, miss="nearest")
    outcome = asyncio.run(sim.call(step.tool, _changed(step.arguments, name)))
    assert outcome.source == "nearest" and outcome.distance == 1 and not outcome.is_error
    assert outcome.observation_id == step.observation_id
    assert json.dumps(outcome.output) == json.dumps(step.output)  # the recorded JSON, unchanged
    strict = ReplaySimulator.from_observations(observations, miss="nearest", max_distance=0)
    missed = asyncio.run(strict.call(step.tool, _changed(step.arguments, name)))
    assert missed.source == "miss" and missed.is_error and "within distance 0" in (missed.error or "")
    assert asyncio.run(sim.call("no_such_tool", {"a": 1})).source == "miss"


def test_miss_policy_live_calls_the_real_server_and_records_it(recorded: Recorded) -> None:
    step = next(s for s in recorded.steps if s.toolset == "backchain-builtin")
    explored = {o.arguments.get("country") for o in recorded.observations if o.tool == "country_info"}
    country = next(c for c in ("Iceland", "Norway", "Chile", "Kenya", "Peru") if c not in explored)

    async def go() -> tuple[ReplaySimulator, SimulatedOutcome, SimulatedOutcome, Any]:
        async with MCPToolset(BUILTIN_CMD) as live:
            sim = ReplaySimulator.from_observations(recorded.observations, recorded.tools, miss="live", live=live)
            hit = await sim.call(step.tool, step.arguments)
            fresh = await sim.call("country_info", {"country": country})
            direct = await live.call("country_info", {"country": country})
            return sim, hit, fresh, direct  # type: ignore[return-value]

    sim, hit, fresh, direct = asyncio.run(go())
    assert hit.source == "recorded"
    assert fresh.source == "live" and not fresh.is_error and fresh.output == direct.output
    [obs] = sim.live_observations
    assert (obs.toolset, obs.tool, obs.arguments) == ("backchain-builtin", "country_info", {"country": country})
    assert obs.observation_id == fresh.observation_id and obs.output == direct.output
    assert sim.counts == {"recorded": 1, "live": 1}


def test_volatile_call_answers_with_the_earliest_and_names_the_others() -> None:
    async def record() -> list[Observation]:
        out = []
        async with MCPToolset(TIME_CMD) as clock:
            for i in range(2):
                if i:
                    await asyncio.sleep(1.1)  # its output changes by the second
                started = dt.datetime.now(dt.UTC)
                outcome = await clock.call("get_current_time", {"timezone": "UTC"})
                out.append(Observation(toolset=clock.name, toolset_version=clock.version, tool="get_current_time",
                                       arguments={"timezone": "UTC"}, output=outcome.output,
                                       is_error=outcome.is_error, error=outcome.error, started_at=started))
        return out

    first, second = asyncio.run(record())
    assert first.observation_id != second.observation_id
    sim = ReplaySimulator.from_observations([second, first])
    outcome = asyncio.run(sim.call("get_current_time", {"timezone": " UTC"}))
    assert outcome.source == "recorded" and outcome.output == first.output
    assert outcome.observation_id == first.observation_id
    assert outcome.alternatives == (second.observation_id,)
    assert [c.observation_id for c in sim.recorded("get_current_time", {"timezone": "UTC"})] == [
        first.observation_id, second.observation_id]


def test_outputs_are_copies(recorded: Recorded) -> None:
    sim = ReplaySimulator.from_observations(recorded.observations)
    step = next(s for s in recorded.steps if isinstance(s.output, dict))
    first = asyncio.run(sim.call(step.tool, step.arguments))
    first.output.clear()
    assert asyncio.run(sim.call(step.tool, step.arguments)).output == step.output


def test_bad_options_are_config_errors(recorded: Recorded) -> None:
    with pytest.raises(ConfigError, match="needs a live toolset"):
        ReplaySimulator.from_observations(recorded.observations, miss="live")
    with pytest.raises(ConfigError, match="unknown miss policy"):
        ReplaySimulator.from_observations(recorded.observations, miss="guess")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no toolset 'nope'"):
        ReplaySimulator.from_observations(recorded.observations).for_toolset("nope")


# --- the replay table ---------------------------------------------------------------------------

def test_replay_table_round_trip(recorded: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "out" / "replay.parquet"
    with Store(recorded.db, read_only=True) as store:
        result = export_replay_table(store, recorded.version, out)
        again = export_replay_table(store, recorded.version, tmp_path / "again.parquet")
        streamed = export_replay_table(store, recorded.version, tmp_path / "streamed.parquet", batch_size=1)
    step_ids = {s.observation_id for s in recorded.steps}
    assert result.format == "replay" and result.row_count == len(step_ids)
    assert again.sha256 == result.sha256  # the same version exports to the same bytes
    assert streamed.row_count == result.row_count
    # one example per batch: more row groups, the same rows
    assert len(recorded.examples) > 1 and pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups > 1
    assert pq.read_table(tmp_path / "streamed.parquet").sort_by("observation_id").equals(
        pq.read_table(out).sort_by("observation_id"))

    table = pq.read_table(out)
    assert tuple(table.column_names) == REPLAY_COLUMNS and table.schema.equals(REPLAY_SCHEMA)
    rows = table.to_pylist()
    assert {r["observation_id"] for r in rows} == step_ids and len(rows) == len(step_ids)
    for row in rows:
        assert row["normalised_key"] == normalised_key(row["toolset"], row["tool"], json.loads(row["arguments_json"]))
        assert row["started_at"].tzinfo is not None
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert manifest["format"] == "replay" and manifest["row_count"] == len(rows)
    assert manifest["version_id"] == recorded.version.version_id and manifest["sha256"] == result.sha256

    sim = ReplaySimulator.from_parquet(out)
    _assert_identical(_answer_all(sim, recorded.steps), recorded.steps)
    assert asyncio.run(sim.list_tools()) == recorded.tools


def test_export_replay_through_the_cli(recorded: Recorded, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "calls.parquet"
    ref = f"default@{recorded.version.version}"
    result = runner.invoke(app, ["export", ref, "--format", "replay", "--out", str(out), "--db", str(recorded.db)])
    assert result.exit_code == 0, result.output
    assert "as replay" in result.stdout and out.exists()
    assert (tmp_path / "calls.parquet.manifest.json").exists()
    bad = runner.invoke(app, ["export", ref, "--format", "replay", "--out", str(tmp_path / "c.jsonl"),
                              "--db", str(recorded.db)])
    assert bad.exit_code == 1 and "replay table is parquet" in bad.output
    assert not (tmp_path / "c.jsonl").exists()


def test_loading_a_file_that_is_not_a_replay_table_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        ReplaySimulator.from_parquet(tmp_path / "missing.parquet")
    other = tmp_path / "other.parquet"
    pq.write_table(REPLAY_SCHEMA.empty_table().drop_columns(["normalised_key"]), other)
    with pytest.raises(ConfigError, match="missing columns normalised_key"):
        ReplaySimulator.from_parquet(other)
