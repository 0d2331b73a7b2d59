"""Replay against a real in-process toolset: a stable tool, a volatile one, a failing one.

Calls are recorded through the toolset exactly as exploration records them, then
re-executed by `replay_steps`; `check_replay` reads the resulting report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest

from generators import PythonToolset
from schemas import Answer, AnswerPointer, ArgumentSource, Example, Normaliser, Step, Task, Trace, call_key
from validators import CHECKS, CheckContext, ReplayReport, diff_pointers, replay_steps

from ._examples import step as make_step


class Tools:
    """The functions behind the toolset, with a call counter and a switch that makes one fail."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.broken = False

    def toolset(self) -> PythonToolset:
        def capital_of(country: str) -> dict[str, Any]:
            """The capital of a country."""
            self.calls["capital_of"] = self.calls.get("capital_of", 0) + 1
            return {"country": country, "capital": {"France": "Paris", "Japan": "Tokyo"}[country]}

        def server_clock(zone: str) -> dict[str, Any]:
            """The server's clock in a zone."""
            self.calls["server_clock"] = self.calls.get("server_clock", 0) + 1
            return {"zone": zone, "offset": "+01:00", "now_ns": time.time_ns()}

        def station_status(station: str) -> dict[str, Any]:
            """Whether a weather station answers."""
            if self.broken:
                raise RuntimeError(f"station {station} is offline")
            return {"station": station, "online": True}

        async def slow_lookup(key: str) -> str:
            """Takes its time."""
            await asyncio.sleep(5)
            return key

        return PythonToolset([capital_of, server_clock, station_status, slow_lookup], name="local")


def record(toolset: PythonToolset, tool: str, arguments: dict[str, Any]) -> Step:
    outcome = asyncio.run(toolset.call(tool, arguments))
    return make_step(tool, arguments, {p: ArgumentSource(origin="user") for p in arguments},
                     outcome.output, is_error=outcome.is_error, toolset=toolset.name)


def replay(toolset: PythonToolset, steps: list[Step], **kwargs: Any) -> ReplayReport:
    return asyncio.run(replay_steps({toolset.name: toolset}, steps, **kwargs))


def result_for(report: ReplayReport, s: Step) -> Any:
    return report.results[call_key(s.toolset, None, s.tool, s.arguments)]


def test_only_the_volatile_tool_is_marked_with_the_pointer_that_differed() -> None:
    tools = Tools()
    ts = tools.toolset()
    stable, volatile = record(ts, "capital_of", {"country": "France"}), record(ts, "server_clock", {"zone": "CET"})
    report = replay(ts, [stable, volatile])
    assert result_for(report, stable).same and result_for(report, stable).differing == ()
    clock = result_for(report, volatile)
    assert clock.differing == ("/now_ns",) and clock.error is None and not clock.same
    assert clock.tool == "server_clock"
    assert report.volatile_tools == {"server_clock": ["/now_ns"]}


def test_each_distinct_call_is_replayed_once() -> None:
    tools = Tools()
    ts = tools.toolset()
    france = record(ts, "capital_of", {"country": "France"})
    japan = record(ts, "capital_of", {"country": "Japan"})
    tools.calls.clear()
    report = replay(ts, [france, japan, france])
    assert tools.calls == {"capital_of": 2} and len(report.results) == 2
    assert all(r.same for r in report.results.values())


def test_success_then_error_is_a_replay_error() -> None:
    tools = Tools()
    ts = tools.toolset()
    ok = record(ts, "station_status", {"station": "LFPG"})
    tools.broken = True
    result = result_for(replay(ts, [ok]), ok)
    assert result.error == "replay failed: RuntimeError: station LFPG is offline"
    assert result.differing == ("/",) and not result.same


def test_error_then_success_differs_everywhere() -> None:
    tools = Tools()
    ts = tools.toolset()
    tools.broken = True
    failed = record(ts, "station_status", {"station": "LFPG"})
    assert failed.is_error
    tools.broken = False
    result = result_for(replay(ts, [failed]), failed)
    assert result.error is None and result.differing == ("/",)


def test_error_both_times_is_the_same() -> None:
    tools = Tools()
    ts = tools.toolset()
    tools.broken = True
    failed = record(ts, "station_status", {"station": "LFPG"})
    assert result_for(replay(ts, [failed]), failed).same


def test_unconnected_toolset_and_timeout_are_errors() -> None:
    ts = Tools().toolset()
    elsewhere = make_step("capital_of", {"country": "France"}, {}, {"capital": "Paris"}, toolset="remote")
    slow = make_step("slow_lookup", {"key": "k"}, {}, "k", toolset="local")
    report = replay(ts, [elsewhere, slow], timeout=0.2, backoff=0.01)
    assert result_for(report, elsewhere).error == "toolset 'remote' is not connected"
    timed_out = result_for(report, slow)
    assert timed_out.error == "unreplayable: replay timed out (3 attempts)"
    assert timed_out.unreplayable and timed_out.differing == ()
    assert report.volatile_fields() == [] and report.volatile_tools == {}


def _flaky_api(failures: int) -> Any:
    """A real HTTP API on loopback whose item endpoint answers 500 ``failures`` times after the first call."""
    from tests.generators._fault_server import FaultServer, ok

    def script(method: str, path: str, before: int) -> Any:
        if 1 <= before <= failures:
            return 500, {}, {"detail": "upstream hiccup"}
        return ok(path)

    return FaultServer(script)


@pytest.mark.parametrize(("failures", "same"), [(2, True), (50, False)])
def test_a_replay_that_gets_no_answer_is_retried_then_unreplayable_never_volatile(failures: int, same: bool) -> None:
    from generators import OpenAPIToolset, RetryPolicy

    versions: dict[str, str | None] = {}

    async def go(url: str) -> tuple[Step, ReplayReport]:
        async with OpenAPIToolset(f"{url}/openapi.json", retry=RetryPolicy(attempts=1)) as ts:
            versions[ts.name] = ts.version
            outcome = await ts.call("getItem", {"item_id": 7})
            assert not outcome.is_error
            s = make_step("getItem", {"item_id": 7}, {"item_id": ArgumentSource(origin="user")}, outcome.output,
                          toolset=ts.name)
            return s, await replay_steps({ts.name: ts}, [s], backoff=0.01)

    with _flaky_api(failures) as api:
        s, report = asyncio.run(go(api.url))
    [result] = report.results.values()
    assert report.volatile_fields() == [] and report.volatile_tools == {}
    if same:  # two 500s, then the same item: retried into a clean comparison
        assert result.same and len(api.hits("/items/7")) == 4
    else:
        assert result.unreplayable and result.differing == ()
        assert result.error is not None and result.error.startswith("unreplayable: replay failed: ")
        assert "500" in result.error and len(api.hits("/items/7")) == 4
        checked = CHECKS["replay"](_example_of(s), CheckContext(replay=report, toolset_versions=versions))
        assert not checked.passed and "unreplayable" in checked.reason and "volatile" not in checked.reason


def _example_of(s: Step) -> Example:
    return Example(
        task=Task(user_request="What is item 7 called?", user_values={"item_id": 7},
                  answer=Answer(pointers=[AnswerPointer(step=0, pointer="/name")], value=s.output["name"],
                                normaliser=Normaliser(kind="exact")),
                  final_message="It is item 7.", writer="template"),
        trace=Trace(steps=[s]), tools=[],
    )


def test_replay_waits_until_the_record_is_old_enough() -> None:
    ts = Tools().toolset()
    s = record(ts, "capital_of", {"country": "France"})
    started = time.monotonic()
    replay(ts, [s], recorded_at=dt.datetime.now(dt.UTC), min_age=0.3)
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    replay(ts, [s], recorded_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5), min_age=0.3)
    assert time.monotonic() - started < 0.25


def _example(steps: list[Step], pointer: str, tools: PythonToolset) -> Example:
    last = len(steps) - 1
    value = steps[last].output[pointer.strip("/")]
    return Example(
        task=Task(user_request="What is the clock offset in CET?", user_values={"zone": "CET"},
                  answer=Answer(pointers=[AnswerPointer(step=last, pointer=pointer)], value=value,
                                normaliser=Normaliser(kind="exact")),
                  final_message=f"It is {value}.", writer="template"),
        trace=Trace(steps=steps),
        tools=asyncio.run(tools.list_tools()),
    )


def test_check_replay_on_a_real_report_fails_only_when_the_task_uses_the_volatile_field() -> None:
    ts = Tools().toolset()
    clock = record(ts, "server_clock", {"zone": "CET"})
    report = replay(ts, [clock])
    ctx = CheckContext(replay=report)
    assert CHECKS["replay"](_example([clock], "/offset", ts), ctx).passed
    failed = CHECKS["replay"](_example([clock], "/now_ns", ts), ctx)
    assert not failed.passed
    assert failed.reason == "step 1 (server_clock): volatile: /now_ns changed when the call was replayed"


@pytest.mark.parametrize(
    ("a", "b", "pointers"),
    [
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}, []),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, ["/a/c"]),
        ({"a": 1, "gone": 2}, {"a": 1, "new": 3}, ["/gone", "/new"]),
        ({"a": None}, {}, ["/a"]),
        ({"items": [1, 2]}, {"items": [1, 2, 3]}, ["/items"]),
        ({"items": [1, 2, {"x": 1}]}, {"items": [1, 5, {"x": 2}]}, ["/items/1", "/items/2/x"]),
        ({"x": 1}, {"x": 1.0}, ["/x"]),
        ({"x": True}, {"x": 1}, ["/x"]),
        ({"x": [1]}, {"x": {"0": 1}}, ["/x"]),
        ({"a/b": 1, "m~n": 1}, {"a/b": 2, "m~n": 2}, ["/a~1b", "/m~0n"]),
        ("same", "same", []),
        ("before", "after", ["/"]),
        ([1, 2], [1], ["/"]),
        ({"z": 1, "a": 1, "m": 1}, {"z": 2, "a": 2, "m": 2}, ["/a", "/m", "/z"]),
    ],
)
def test_diff_pointers(a: Any, b: Any, pointers: list[str]) -> None:
    assert diff_pointers(a, b) == pointers
