"""The tool-call cache over a real MCP server process and a real DuckDB file.

What is cached (a result, a tool's own error reply) and what is not (a
timeout), what the key covers, that a cached output comes back exactly as the
tool returned it, and which runs are marked interrupted.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from flows._caches import RunCaches, toolset_scope
from flows._config import ToolsetConfig
from generators import CallRecorder, MCPToolset, replay_purpose, tool_cache_key
from store import Store

SERVER = Path(__file__).parent / "servers" / "atlas_server.py"


def _executed(log: Path) -> list[str]:
    return [json.loads(line)["tool"] for line in log.read_text().splitlines()]


def test_results_and_error_replies_are_cached_timeouts_are_not(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    log.touch()
    db = tmp_path / "c.duckdb"

    async def calls(run_id: str, forecast_delay: float) -> list[tuple[bool, str | None, int]]:
        with Store(db) as store:
            recorder = CallRecorder(RunCaches(store, run_id))
            async with MCPToolset([sys.executable, str(SERVER), str(log)]) as ts:
                out = []
                for tool, args in (("city_info", {"city": "Lima"}), ("city_info", {"city": "Atlantis"}),
                                   ("forecast", {"latitude": 1.0, "longitude": 2.0})):
                    slow = tool == "forecast"
                    log.with_name("calls.jsonl.delay").write_text(str(forecast_delay if slow else 0.0))
                    obs = await recorder.call(ts.name, ts, tool, args, purpose="explore", timeout=2 if slow else 30)
                    out.append((obs.is_error, obs.error, recorder.hits))
                return out

    first = asyncio.run(calls("r1", 6))  # forecast sleeps past the timeout in the first run only
    assert first[0][:2] == (False, None)
    assert first[1][0] is True and first[1][1]  # the tool's own error reply
    assert first[2][:2] == (True, "timed out after 2 s")
    assert _executed(log) == ["city_info", "city_info", "forecast"]

    second = asyncio.run(calls("r2", 0.0))
    # The result and the error reply come from the store; the timed-out call is made again.
    assert [hits for *_, hits in second] == [1, 2, 2]
    assert second[1][:2] == first[1][:2]
    assert second[2][:2] == (False, None)
    assert _executed(log) == ["city_info", "city_info", "forecast", "forecast"]
    with Store(db, read_only=True) as store:
        _, rows = store.query("SELECT tool, run_id FROM call_cache ORDER BY created_at")
    assert rows == [("city_info", "r1"), ("city_info", "r1"), ("forecast", "r2")]


def test_a_cached_output_comes_back_exactly_as_the_tool_returned_it(tmp_path: Path) -> None:
    """Key order included: which field becomes a task's answer follows it (a rerun must match)."""
    log = tmp_path / "calls.jsonl"
    log.touch()

    async def one(store: Store) -> tuple[list[str], float]:
        recorder = CallRecorder(RunCaches(store, "r"))
        async with MCPToolset([sys.executable, str(SERVER), str(log)]) as ts:
            obs = await recorder.call(ts.name, ts, "forecast", {"latitude": 48.8566, "longitude": 2.3522},
                                      purpose="explore", timeout=10)
        return list(obs.output), obs.output["temperature_c"]

    with Store(tmp_path / "c.duckdb") as store:
        live = asyncio.run(one(store))
        cached = asyncio.run(one(store))
    assert live == cached == (["temperature_c", "summary"], live[1])  # not sorted
    assert len(_executed(log)) == 1


def test_the_key_covers_purpose_scope_version_tool_and_arguments() -> None:
    base = dict(purpose="explore", scope="s", toolset="atlas", toolset_version="1.0", tool="forecast",
                arguments={"latitude": 1.0, "longitude": 2.0})
    key = tool_cache_key(**base)  # type: ignore[arg-type]
    assert tool_cache_key(**{**base, "arguments": {"longitude": 2.0, "latitude": 1.0}}) == key  # type: ignore[arg-type]
    for change in ({"purpose": replay_purpose(1)}, {"scope": "t"}, {"toolset_version": "1.1"},
                   {"toolset": "atlas2"}, {"tool": "city_info"}, {"arguments": {"latitude": 1.0, "longitude": 3.0}},
                   {"arguments": {"latitude": 1, "longitude": 2.0}}):
        assert tool_cache_key(**{**base, **change}) != key, change  # type: ignore[arg-type]


def test_the_scope_tells_servers_with_one_name_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    staging = ToolsetConfig(openapi="shop.yaml", base_url="http://staging:8000")
    prod = ToolsetConfig(openapi="shop.yaml", base_url="http://prod:8000")
    assert toolset_scope(staging) != toolset_scope(prod)
    assert toolset_scope(ToolsetConfig(mcp="python -m a")) != toolset_scope(ToolsetConfig(mcp="python -m b"))
    authed = ToolsetConfig(url="http://h/mcp", auth_headers={"Authorization": "TOKEN_ENV"})
    monkeypatch.setenv("TOKEN_ENV", "alice")
    alice = toolset_scope(authed)
    monkeypatch.setenv("TOKEN_ENV", "bob")
    assert toolset_scope(authed) != alice  # another account may see other data


def test_runs_of_this_process_are_not_marked_interrupted(tmp_path: Path) -> None:
    with Store(tmp_path / "r.duckdb") as store:
        store.start_run("mine", "d", {}, {})
        store.claim_run("mine")
        store.start_run("dead", "d", {}, {})  # never claimed: as a run from before m006
        store.con.execute("UPDATE run_rows SET process = 'otherhost:1:abc' WHERE run_id = 'dead'")
        assert store.interrupt_abandoned_runs() == ["dead"]
        _, rows = store.query("SELECT run_id, status FROM runs ORDER BY run_id")
        assert rows == [("dead", "interrupted"), ("mine", "running")]
        _, owner = store.query("SELECT pid, host FROM run_rows WHERE run_id = 'mine'")
        assert owner == [(os.getpid(), socket.gethostname())]
