"""The MCP connector and exploration against real MCP server processes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from generators import (
    ExploreConfig,
    Explorer,
    MCPToolset,
    build_traces,
    choose_answer,
    resolve_pointer,
    select_tools,
    template_task,
)
from schemas import Example, ToolsetStartError
from tests.conftest import BUILTIN_CMD, TIME_CMD
from validators import CHECKS, CheckContext

WRITER_SERVER = Path(__file__).parent / "servers" / "writer_server.py"


def test_mcp_time_tools_calls_and_errors() -> None:
    async def go() -> None:
        async with MCPToolset(TIME_CMD) as ts:
            assert ts.name == "mcp-time"
            assert ts.version and ts.version.startswith("mcp-time ")
            tools = {t.name: t for t in await ts.list_tools()}
            assert set(tools) == {"get_current_time", "convert_time"}
            assert all(t.side_effect == "read" and t.side_effect_source == "annotations" for t in tools.values())
            assert tools["convert_time"].input_schema["required"] == ["source_timezone", "time", "target_timezone"]
            ok = await ts.call("convert_time", {"source_timezone": "Europe/Paris", "time": "14:00", "target_timezone": "UTC"})
            assert not ok.is_error
            assert ok.output["target"]["datetime"].endswith("13:00:00+00:00") or "T13:00:00" in ok.output["target"]["datetime"]
            bad = await ts.call("get_current_time", {"timezone": "Not/AZone"})
            assert bad.is_error and "Invalid timezone" in (bad.error or "")
            unknown = await ts.call("no_such_tool", {})
            assert unknown.is_error and "no_such_tool" in (unknown.error or "")

    asyncio.run(go())


@pytest.mark.parametrize(
    "command,needle",
    [
        (["definitely-not-a-command-xyz"], "No such file"),
        ([sys.executable, "-c", "print('hello, not MCP')"], "did not start"),
    ],
)
def test_mcp_server_that_does_not_start_is_one_clear_error(command: list[str], needle: str) -> None:
    async def go() -> None:
        async with MCPToolset(command, start_timeout=10):
            pass

    with pytest.raises(ToolsetStartError) as info:
        asyncio.run(go())
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_side_effect_policy_no_write_happens_without_opt_in(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    log.touch()

    async def explore(allow_writes: bool, allow: tuple[str, ...]) -> set[str]:
        async with MCPToolset([sys.executable, str(WRITER_SERVER)], env={"WRITE_LOG": str(log)}) as ts:
            tools = await ts.list_tools()
            classes = {t.name: (t.side_effect, t.side_effect_source) for t in tools}
            assert classes == {
                "read_note": ("read", "annotations"),
                "write_note": ("write", "annotations"),
                "purge_notes": ("destructive", "mcp-default"),
            }
            allowed, skipped = select_tools(tools, allow_writes=allow_writes, allow=allow)
            explorer = Explorer({ts.name: ts}, allowed, ExploreConfig(values={"note_id": ["n1"], "text": ["hi"]}))
            await explorer.run()
            return {c.observation.tool for c in explorer.calls}

    called = asyncio.run(explore(False, ()))
    assert called == {"read_note"}
    assert set(log.read_text().split()) == {"read_note"}, "a write or destructive tool was executed"
    called = asyncio.run(explore(True, ()))
    assert called == {"read_note", "write_note"}
    assert "purge_notes" not in log.read_text()
    called = asyncio.run(explore(False, ("purge_notes",)))
    assert called == {"read_note", "purge_notes"}


def test_skip_reasons_name_the_flag_to_pass() -> None:
    async def go() -> list[str]:
        async with MCPToolset([sys.executable, str(WRITER_SERVER)], env={"WRITE_LOG": "/dev/null"}) as ts:
            _, skipped = select_tools(await ts.list_tools())
            return sorted(f"{s.tool}: {s.reason}" for s in skipped)

    reasons = asyncio.run(go())
    assert reasons[0].startswith("purge_notes: destructive") and "--allow purge_notes" in reasons[0]
    assert reasons[1].startswith("write_note: write") and "--allow-writes" in reasons[1]


def test_exploration_chains_real_outputs_across_two_servers() -> None:
    async def go() -> tuple[list, list]:
        async with MCPToolset(BUILTIN_CMD) as builtin, MCPToolset(TIME_CMD) as clock:
            toolsets = {builtin.name: builtin, clock.name: clock}
            tools = [t for ts in toolsets.values() for t in await ts.list_tools()]
            allowed, skipped = select_tools(tools)
            assert not skipped
            explorer = Explorer(toolsets, allowed, ExploreConfig(max_calls=90, seed=5, values={"time": ["14:00"]}))
            calls = await explorer.run()
            return calls, tools

    calls, tools = asyncio.run(go())
    assert {c.observation.toolset for c in calls} == {"backchain-builtin", "mcp-time"}
    assert len({c.observation.call_key for c in calls}) == len(calls), "an identical call was made twice"
    chained = [c for c in calls if c.parents]
    assert chained, "no call took an argument from an earlier output"
    by_obs = {c.observation.observation_id: c for c in calls}
    for c in chained:
        for param, parent in c.parents.items():
            source = by_obs[parent.observation_id].observation
            assert resolve_pointer(source.output, parent.pointer) == c.observation.arguments[param]
            assert not source.is_error
    traces = build_traces(calls, limit=10, max_steps=4)
    multi = [t for t in traces if len(t.steps) >= 2]
    assert multi
    from generators._chains import _asks_apart, _time_frame

    for trace in build_traces(calls, limit=200, max_steps=4):  # no chain joins two months, years or airports
        for step in trace.steps:
            for src in step.sources.values():
                if src.origin == "step" and src.step is not None:
                    given = {p: v for p, v in step.arguments.items() if step.sources[p].origin != "step"}
                    assert not _asks_apart(trace.steps[src.step].arguments, given), trace.signature
                    assert trace.steps[src.step].tool != step.tool, trace.signature  # no tool fed its own output
    assert _time_frame({"month": 12, "origin": "EWR"}) == {"month": 12}
    assert _asks_apart({"month": 12, "origin": "EWR"}, {"date": "2013-07-04", "origin": "EWR"})
    assert not _asks_apart({"country_code": "FR", "year": 2025}, {"date": "2025-01-01"})
    assert _asks_apart({"month": 7, "origin": "JFK"}, {"origin": "EWR"})  # two airports, one question
    for trace in multi:
        answer = choose_answer(trace)
        if answer is None:
            continue
        example = Example(task=template_task(trace, answer), trace=trace, tools=tools)
        for name in ("provenance", "leakage", "answer_pointers", "arguments_schema", "no_tool_names"):
            result = CHECKS[name](example, CheckContext())
            assert result.passed, f"{name}: {result.reason} for {example.task.user_request!r}"
