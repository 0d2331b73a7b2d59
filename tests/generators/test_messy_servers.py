"""Messy MCP servers, started for real (servers/messy_server.py): nothing they do crashes a run.

The server prints a banner on stdout before the protocol, starts slowly, answers in prose (its
values exist only in text), reports failures as ordinary text, returns an image block and an
embedded resource, and can die mid-run. Each is recorded and the run summary says what happened.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from flows import Reporter, RunConfig, run_pipeline
from store import Store

MESSY = Path(__file__).parent / "servers" / "messy_server.py"


def _command(**env: str) -> str:
    settings = " ".join(f"{k}={v}" for k, v in env.items())
    return f"env {settings} {sys.executable} {MESSY}"


def test_a_messy_server_is_explored_and_every_oddity_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "messy.duckdb"
    config = RunConfig(mcp=[_command(SLOW_START="1")], allow_likely_readonly=True, examples=6, no_model=True,
                       dedup_threshold=0, max_calls=40)
    summary = asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    report = summary.exploration
    assert report is not None
    [event] = report.toolset_events.values()
    assert "non-protocol line(s) on stdout" in event and "messy-server 0.1 starting" in event
    lines = "\n".join(report.lines())
    # A failure reported as text with is_error false: an error observation, flagged as inferred.
    assert report.inferred_errors["messy-fixture.get_order"] >= 1
    # A tool never called for want of a value is named, with the flag that would give one.
    assert "never called messy-fixture.find_parcel: no value for 'parcel_id' (text); pass --value parcel_id=TEXT" in lines
    with Store(db, read_only=True) as store:
        _, obs = store.query("SELECT tool, output, raw, parser, is_error, error_inferred, error FROM observations")
        _, edges = store.query("SELECT from_tool, field, to_tool, param FROM tool_edges WHERE confirmed")
        _, accepted = store.query("SELECT kind, trace FROM candidates WHERE status = 'accepted'")
    by_tool: dict[str, list[tuple]] = {}
    for row in obs:
        by_tool.setdefault(row[0], []).append(row)
    inferred = [r for r in by_tool["get_order"] if r[5]]
    assert inferred and inferred[0][4] and inferred[0][6].startswith("Error: unknown order")
    # Image and resource blocks are recorded (described, never their bytes); their text is viewed.
    chart = json.loads(by_tool["show_chart"][0][2])
    assert chart["content"][0]["type"] == "image" and chart["content"][0]["mime_type"] == "image/png"
    assert "sha256" in chart["content"][0] and "data" not in chart["content"][0]
    manual = json.loads(by_tool["get_manual"][0][2])
    assert manual["content"][0]["type"] == "resource" and by_tool["get_manual"][0][3] == "text-spans/1"
    # Value flow through text: a commit hash found only in prose fed the next call.
    assert ("get_order", "/spans/*/value", "get_commit", "sha") in edges
    chains = [json.loads(t) for kind, t in accepted if kind == "multi_step"]
    assert any([s["tool"] for s in t["steps"]] == ["get_order", "get_commit"] for t in chains)
    step = next(s for t in chains for s in t["steps"] if s["tool"] == "get_commit")
    assert step["parser"] == "text-spans/1" and step["raw"]["text"] and step["sources"]["sha"]["pointer"].startswith("/spans/")
    # The errors are never value sources: no call took an argument from an error observation.
    assert all(not r[4] or r[0] != "get_order" or "Error" in (r[6] or "") for r in obs)


def test_a_server_that_dies_mid_run_is_recorded_and_the_run_completes(tmp_path: Path) -> None:
    config = RunConfig(mcp=[_command(DIE_AFTER="3")], allow_likely_readonly=True, examples=4, no_model=True,
                       dedup_threshold=0, max_calls=40)
    summary = asyncio.run(run_pipeline(config, tmp_path / "dies.duckdb", Reporter(quiet=True)))
    assert summary.version is not None  # the run completed and sealed what it had
    report = summary.exploration
    assert report is not None
    [event] = report.toolset_events.values()
    assert re.search(r"stopped answering after [0-3] call\(s\)", event) and "out of memory" in event
    assert "its tools were not called again" in event
    assert report.calls < 40  # nothing more was tried once it was gone
