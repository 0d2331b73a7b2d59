"""The tool graph from real exploration: candidates by name and type, confirmed by execution."""

from __future__ import annotations

import asyncio
from pathlib import Path

from generators import ExploreConfig, Explorer, MCPToolset, candidate_edges, field_of, observed_edges, select_tools
from schemas import ToolEdge
from store import Store
from tests.conftest import BUILTIN_CMD


def test_field_of_replaces_list_indices() -> None:
    assert field_of("/destinations/3/dest") == "/destinations/*/dest"
    assert field_of("/a/10") == "/a/*"
    assert field_of("/timezone") == "/timezone"


def test_edges_from_real_calls_are_confirmed_and_stored(tmp_path: Path) -> None:
    async def go():
        async with MCPToolset(BUILTIN_CMD) as ts:
            tools, _ = select_tools(await ts.list_tools())
            explorer = Explorer({ts.name: ts}, tools, ExploreConfig(max_calls=90, seed=7))
            return await explorer.run(), tools

    calls, tools = asyncio.run(go())
    confirmed = observed_edges(calls)
    assert confirmed and all(e.kind in ("confirmed", "failed") and e.n >= 1 for e in confirmed)
    # Every confirmed edge is a real value flow: the child call's argument came from the parent's output.
    by_obs = {c.observation.observation_id: c for c in calls}
    flows = {(by_obs[p.observation_id].observation.tool, field_of(p.pointer), c.observation.tool, param)
             for c in calls if not c.observation.is_error for param, p in c.parents.items()}
    assert {(e.from_tool, e.field, e.to_tool, e.param) for e in confirmed if e.kind == "confirmed"} == flows
    candidates = candidate_edges(tools, calls)
    assert any(e.from_tool == "country_info" and e.to_tool == "timezone_at" and e.param == "latitude"
               for e in candidates)
    assert not any(e.from_tool == e.to_tool for e in candidates)

    with Store(tmp_path / "g.duckdb") as store:
        store.save_edges("run-1", confirmed + candidates)
        store.save_edges("run-2", confirmed)
        cols, rows = store.query("SELECT * FROM tool_edges WHERE confirmed > 0")
    view = [dict(zip(cols, r)) for r in rows]
    assert view and all(r["runs"] == 2 for r in view)
    one = confirmed[0] if confirmed[0].kind == "confirmed" else next(e for e in confirmed if e.kind == "confirmed")
    row = next(r for r in view if (r["from_tool"], r["field"], r["to_tool"], r["param"]) ==
               (one.from_tool, one.field, one.to_tool, one.param))
    assert row["confirmed"] == 2 * one.n


def test_tool_edge_record_rejects_unknown_kinds() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        ToolEdge(from_toolset="a", from_tool="b", field="/x", to_toolset="a", to_tool="c", param="x", kind="maybe")


