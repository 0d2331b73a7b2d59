"""Artifacts of a generate flow run, read back through the Prefect client (test harness API)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from flows import Reporter, RunConfig, generate_flow, run_pipeline
from flows._artifacts import artifact_key
from store import Store


async def _artifacts_of(flow_run_id: str) -> list[object]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return list(await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))))


def test_a_flow_run_carries_a_counts_table_and_a_report(tmp_path: Path, prefect_harness: None) -> None:
    db = tmp_path / "a.duckdb"
    config = RunConfig(dataset="Art_1", no_model=True, examples=2, max_calls=16, dedup_threshold=0)
    summary = asyncio.run(generate_flow()(config=config, db=str(db)))
    with Store(db, read_only=True) as store:
        _, rows = store.query(f"SELECT flow_run_id FROM runs WHERE run_id = '{summary.run_id}'")
    flow_run_id = rows[0][0]
    artifacts = {a.key: a for a in asyncio.run(_artifacts_of(flow_run_id))}  # type: ignore[attr-defined]
    assert set(artifacts) == {"backchain-art-1-counts", "backchain-art-1-report"}
    table = artifacts["backchain-art-1-counts"]
    assert table.type == "table"  # type: ignore[attr-defined]
    assert '"metric": "calls"' in table.data and f'"value": {summary.calls}' in table.data  # type: ignore[attr-defined]
    report = artifacts["backchain-art-1-report"]
    assert report.type == "markdown"  # type: ignore[attr-defined]
    assert summary.run_id[:12] in report.data and f"{summary.calls} tool calls" in report.data  # type: ignore[attr-defined]
    # the run's accounting, the same numbers the run_stages view holds
    rows = json.loads(table.data)  # type: ignore[attr-defined]
    with Store(db, read_only=True) as store:
        _, stages = store.query("SELECT stage, seconds, tool_calls FROM run_stages WHERE run_id = ?", [summary.run_id])
    seconds = {(r["stage"]): r["value"] for r in rows if r["metric"] == "seconds"}
    assert seconds == {stage: round(s, 3) for stage, s, _ in stages}
    explore = next(n for stage, _, n in stages if stage == "explore")
    assert {"stage": "explore", "metric": "tool calls backchain-builtin", "value": explore} in rows
    assert "## Accounting" in report.data and "| explore |" in report.data  # type: ignore[attr-defined]


def test_keys_use_prefects_alphabet() -> None:
    assert artifact_key("Geo.v2_EU", "counts") == "backchain-geo-v2-eu-counts"
    assert artifact_key("__", "report") == "backchain-dataset-report"


async def _artifacts_keyed(key: str) -> list[object]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        return list(await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))


def test_run_pipeline_without_the_flow_creates_no_artifact(tmp_path: Path, prefect_harness: None) -> None:
    config = RunConfig(dataset="plain", no_model=True, examples=2, max_calls=16, dedup_threshold=0)
    asyncio.run(run_pipeline(config, tmp_path / "b.duckdb", Reporter(quiet=True)))
    assert asyncio.run(_artifacts_keyed("backchain-plain-counts")) == []


def test_rejection_reasons_group_by_shape_and_still_read() -> None:
    from flows._generate import _reason_key

    a = _reason_key("withheld_hidden: withheld value given: the request already states 'INR', which the user "
                    "supplies only later")
    b = _reason_key("withheld_hidden: withheld value given: the request already states 'JFK', which the user "
                    "supplies only later")
    assert a == b == ("withheld_hidden: withheld value given: the request already states …, which the user "
                      "supplies only later")
    assert _reason_key("answer_matches_request: judge score 0.41 below 0.6") == \
        "answer_matches_request: judge score … below …"
