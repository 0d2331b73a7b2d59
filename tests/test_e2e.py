"""End to end: `backchain run` on the embedded default, then everything checked through SQL.

Real parts only: mcp-server-time and the built-in toolset as MCP server
processes, the llama.cpp server with the bundled SmolLM2 GGUF as writer and
judge, a DuckDB file, Prefect's test harness, and `datasets` loading the exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.cli import app
from generators import resolve_pointer
from schemas import Answer, SealedVersionError
from store import Store
from validators import values_equal

runner = CliRunner()


def _sql(db: Path, query: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["sql", query, "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def e2e_db(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    db = tmp_path_factory.mktemp("e2e") / "backchain.duckdb"
    result = runner.invoke(app, ["run", "--examples", "6", "--seed", "3", "--db", str(db), "--max-calls", "80"])
    assert result.exit_code == 0, result.output
    assert "new version    default@1" in result.stdout
    assert "Next:" in result.stdout and "backchain export" in result.stdout
    return db


def test_observations_from_both_servers(e2e_db: Path) -> None:
    rows = _sql(e2e_db, "SELECT toolset, count(*) AS n FROM observations GROUP BY toolset ORDER BY toolset")
    toolsets = {r["toolset"]: r["n"] for r in rows}
    assert set(toolsets) == {"backchain-builtin", "mcp-time"}
    assert all(n > 0 for n in toolsets.values())


def test_accepted_chain_passes_an_output_value_forward(e2e_db: Path) -> None:
    rows = _sql(e2e_db, "SELECT trace FROM candidates WHERE status = 'accepted'")
    assert rows, "the embedded default produced no accepted example"
    chained = 0
    for row in rows:
        steps = _json(row["trace"])["steps"]
        for k, step in enumerate(steps):
            for param, source in step["sources"].items():
                if source["origin"] == "step":
                    assert source["step"] < k
                    earlier = resolve_pointer(steps[source["step"]]["output"], source["pointer"])
                    assert step["arguments"][param] == earlier
                    chained += 1
    assert chained > 0, "no accepted example has a later argument taken from an earlier output"


def test_every_accepted_answer_is_in_the_recorded_outputs(e2e_db: Path) -> None:
    rows = _sql(e2e_db, "SELECT kind, trace, answer FROM candidates WHERE status = 'accepted'")
    observations = {r["observation_id"]: _json(r["output"]) for r in _sql(e2e_db, "SELECT observation_id, output FROM observations")}
    checked = 0
    for row in rows:
        steps = _json(row["trace"])["steps"]
        if row["kind"] == "no_call":
            assert steps == [] and _json(row["answer"]) is None
            continue
        answer = Answer.model_validate(_json(row["answer"]))
        for ptr, expected in zip(answer.pointers, answer.values()):
            recorded = observations[steps[ptr.step]["observation_id"]]
            assert values_equal(expected, resolve_pointer(recorded, ptr.pointer), answer.normaliser)
            checked += 1
    assert checked > 0


def test_rejections_and_leaves_are_stored_with_reasons(e2e_db: Path) -> None:
    for row in _sql(e2e_db, "SELECT status, reason FROM candidates"):
        assert row["status"] in {"accepted", "rejected", "judge_error"}
        if row["status"] != "accepted":
            assert row["reason"]
    leaves = _sql(e2e_db, "SELECT kind, count(*) AS n, count(p_yes) AS with_p FROM leaf_results GROUP BY kind")
    kinds = {r["kind"]: r for r in leaves}
    assert kinds["check"]["n"] > 0
    assert kinds["judge"]["with_p"] > 0, "no judge leaf was scored from logprobs"


def test_sealed_version_cannot_be_changed(e2e_db: Path) -> None:
    version = _sql(e2e_db, "SELECT version_id, row_count, content_hash FROM versions WHERE dataset = 'default'")[0]
    refused = runner.invoke(app, ["sql", "DELETE FROM member_rows", "--db", str(e2e_db)])
    assert refused.exit_code == 1
    assert "read-only" in refused.output
    with Store(e2e_db) as store:
        with pytest.raises(SealedVersionError):
            store.add_members(version["version_id"], [])
        assert store.verify(version["version_id"])
    again = _sql(e2e_db, "SELECT row_count, content_hash FROM versions WHERE dataset = 'default'")[0]
    assert again["row_count"] == version["row_count"]
    assert again["content_hash"] == version["content_hash"]
    rows = _sql(e2e_db, "SELECT count(*) AS n FROM dataset_rows('default', 'latest')")
    assert rows[0]["n"] == version["row_count"]


@pytest.mark.parametrize("fmt,suffix", [("trl-sft", "jsonl"), ("verl", "parquet")])
def test_exports_load_with_datasets(e2e_db: Path, tmp_path: Path, fmt: str, suffix: str) -> None:
    import datasets

    out = tmp_path / f"train.{suffix}"
    result = runner.invoke(app, ["export", "default@latest", "--format", fmt, "--out", str(out), "--db", str(e2e_db)])
    assert result.exit_code == 0, result.output
    builder = "json" if suffix == "jsonl" else "parquet"
    ds = datasets.load_dataset(builder, data_files=str(out), split="train")
    n = _sql(e2e_db, "SELECT row_count FROM versions WHERE dataset = 'default'")[0]["row_count"]
    assert len(ds) == n > 0
    row = ds[0]
    if fmt == "trl-sft":
        assert row["tools"]
        messages = row["messages"]
        assert any(m.get("tool_calls") for m in messages if m["role"] == "assistant")
        assert any(m["role"] == "tool" for m in messages)
    else:
        assert row["reward_model"]["style"] == "rule"
        assert row["prompt"][-1]["role"] == "user"
        assert "tool" in json.dumps(row["prompt"]).lower()
