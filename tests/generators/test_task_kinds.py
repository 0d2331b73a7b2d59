"""Every task kind built from real traces of the built-in toolset and mcp-server-time."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from exporters._base import conversation
from generators import MCPToolset, build_drafts, build_traces, select_tools
from generators._explore import ExploreConfig, Explorer
from generators._task_kinds import allocate
from schemas import Example, Tool
from tests.conftest import BUILTIN_CMD, TIME_CMD
from validators import CHECKS, CheckContext, ReplayReport, replay_steps, value_in_text

GATES = ("record_schema", "arguments_schema", "calls_succeeded", "provenance", "leakage",
         "no_tool_names", "answer_pointers", "replay")


@pytest.fixture(scope="module")
def built() -> tuple[list[Example], object, ReplayReport, dict[str, str | None]]:
    async def go():
        async with MCPToolset(BUILTIN_CMD) as builtin, MCPToolset(TIME_CMD) as clock:
            toolsets = {builtin.name: builtin, clock.name: clock}
            tools: list[Tool] = [t for ts in toolsets.values() for t in await ts.list_tools()]
            allowed, _ = select_tools(tools)
            explorer = Explorer(toolsets, allowed, ExploreConfig(max_calls=120, seed=4, values={"time": ["14:00"]}))
            calls = await explorer.run()
            traces = build_traces(calls, limit=40, seed=4)
            mix = {"single": 2, "multi_step": 2, "parallel": 2, "multi_turn": 2, "error_recovery": 2, "no_call": 2}
            drafts, plan = build_drafts(calls, traces, total=12, mix=mix, seed=4)
            examples = [Example(task=task, trace=trace, tools=allowed) for trace, task in drafts]
            report = await replay_steps(toolsets, [s for e in examples for s in e.trace.steps],
                                        recorded_at=max(c.observation.started_at for c in calls))
            return examples, plan, report, {n: t.version for n, t in toolsets.items()}

    return asyncio.run(go())


def test_every_kind_is_built_from_real_calls(built) -> None:
    examples, plan, _, _ = built
    kinds = Counter(e.task.kind for e in examples)
    assert set(kinds) == {"single", "multi_step", "parallel", "multi_turn", "error_recovery", "no_call"}, plan.shortfall()


def test_every_kind_passes_the_deterministic_gates(built) -> None:
    examples, _, report, versions = built
    ctx = CheckContext(replay=report, toolset_versions=versions)
    for e in examples:
        for gate in GATES:
            result = CHECKS[gate](e, ctx)
            if gate == "replay" and "volatile" in result.reason:
                continue  # get_current_time: the replay check is right to reject it
            assert result.passed, f"{e.task.kind} failed {gate}: {result.reason} ({e.task.user_request!r})"


def test_kind_shapes(built) -> None:
    examples, _, _, _ = built
    for e in examples:
        steps, task = e.trace.steps, e.task
        if task.kind == "parallel":
            assert len(steps) == 2 and steps[0].group == steps[1].group == 0
            assert len(e.trace.turns()) == 1
            assert isinstance(task.answer.value, list) and len(task.answer.pointers) == 2
            messages = conversation(e)
            assert len([m for m in messages if m.get("tool_calls")][0]["tool_calls"]) == 2
        elif task.kind == "multi_turn":
            assistant, user = task.dialogue
            assert assistant.role == "assistant" and user.role == "user"
            withheld = [v for v in task.user_values.values() if value_in_text(v, user.content)]
            assert withheld and not any(value_in_text(v, task.user_request) for v in withheld)
        elif task.kind == "error_recovery":
            assert steps[0].is_error and not steps[-1].is_error and steps[0].tool == steps[-1].tool
            assert task.answer.pointers[0].step == len(steps) - 1
        elif task.kind == "no_call":
            assert steps == [] and task.answer is None
            a, b = task.user_values.values()
            assert str(round(a + b, 6)).rstrip("0").rstrip(".") in task.final_message.replace(",", "")
        elif task.kind == "multi_step":
            assert any(src.origin == "step" for s in steps for src in s.sources.values())
        else:
            assert len(steps) == 1


def test_allocate_splits_by_weight_and_sums_to_total() -> None:
    assert allocate({"a": 3, "b": 1}, 8) == {"a": 6, "b": 2}
    assert sum(allocate({"a": 1, "b": 1, "c": 1}, 10).values()) == 10
    assert allocate({"a": 0, "b": 1}, 3) == {"b": 3}
