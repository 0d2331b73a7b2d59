"""The pipeline's stages as plain async functions over a batch.

Each stage takes the whole batch and returns records; the Prefect flow wraps
each one in a single task (coarse tasks: Prefect's per-task overhead is far
larger than one example's work). The only stage that writes is `commit`,
through store/.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generators import (
    ExploreConfig,
    ExploredCall,
    Explorer,
    LLMWriter,
    SkippedTool,
    Toolset,
    build_traces,
    choose_answer,
    select_tools,
    template_task,
)
from schemas import Example, Judgement, Observation, Rubric, Tool, Trace
from validators import CHECKS, CheckContext, Judge, ReplayReport, evaluate, replay_steps

from ._config import RunConfig

Advance = Callable[[int], None]

# Checks a rewrite must pass before it replaces the template draft.
_REWRITE_GATES = ("writer", "provenance", "leakage", "no_tool_names")


def _noop(_: int) -> None:
    return None


@dataclass
class ToolCatalog:
    tools: list[Tool]
    allowed: list[Tool]
    skipped: list[SkippedTool]


async def list_tools(toolsets: Mapping[str, Toolset], config: RunConfig) -> ToolCatalog:
    tools: list[Tool] = []
    for toolset in toolsets.values():
        tools.extend(await toolset.list_tools())
    allowed, skipped = select_tools(tools, allow_writes=config.allow_writes, allow=config.allow)
    return ToolCatalog(tools, allowed, skipped)


async def explore(
    toolsets: Mapping[str, Toolset], catalog: ToolCatalog, config: RunConfig,
    values: Mapping[str, Sequence[Any]], advance: Advance = _noop,
) -> list[ExploredCall]:
    explorer = Explorer(
        toolsets,
        catalog.allowed,
        ExploreConfig(
            max_calls=config.max_calls,
            rounds=config.rounds,
            concurrency=config.concurrency,
            call_timeout=config.call_timeout,
            seed=config.seed,
            values=values,
        ),
    )
    return await explorer.run(on_round=lambda _r, new: advance(len(new)))


async def chain(calls: Sequence[ExploredCall], config: RunConfig) -> list[Trace]:
    return build_traces(calls, limit=config.examples, max_steps=config.max_steps, seed=config.seed)


@dataclass
class Written:
    examples: list[Example] = field(default_factory=list)
    unanswerable: int = 0


def _tools_for(trace: Trace, catalog: ToolCatalog) -> list[Tool]:
    """The tools offered in the example: every allowed tool of the toolsets the trace used."""
    used = {s.toolset for s in trace.steps}
    return [t for t in catalog.allowed if t.toolset in used]


async def write(
    traces: Sequence[Trace], catalog: ToolCatalog, writer: LLMWriter | None, config: RunConfig,
    advance: Advance = _noop,
) -> Written:
    """Back-chain a task for each trace: template draft, then an LLM rewrite if configured.

    A rewrite that fails the cheap gates is kept (it becomes a rejected candidate
    with its reason) and the draft is used in its place, marked as the fallback.
    """
    out = Written()

    async def one(index: int, trace: Trace) -> list[Example]:
        answer = choose_answer(trace)
        if answer is None:
            out.unanswerable += 1
            return []
        tools = _tools_for(trace, catalog)
        draft = Example(task=template_task(trace, answer), trace=trace, tools=tools)
        if writer is None:
            return [draft]
        rewritten = Example(task=await writer.rewrite(draft.task, seed=config.seed + index), trace=trace, tools=tools)
        ctx = CheckContext()
        failed = [r.reason for name in _REWRITE_GATES if not (r := CHECKS[name](rewritten, ctx)).passed]
        if not failed:
            return [rewritten]
        fallback = draft.model_copy(
            update={"task": draft.task.model_copy(update={"writer_note": f"fallback: llm rewrite failed: {failed[0]}"})}
        )
        return [rewritten, fallback]

    async def tracked(index: int, trace: Trace) -> list[Example]:
        result = await one(index, trace)
        advance(1)
        return result

    for batch in await asyncio.gather(*(tracked(i, t) for i, t in enumerate(traces))):
        out.examples.extend(batch)
    return out


async def replay(toolsets: Mapping[str, Toolset], examples: Sequence[Example], recorded_at: _dt.datetime | None, config: RunConfig) -> ReplayReport:
    steps = [s for e in examples for s in e.trace.steps]
    return await replay_steps(toolsets, steps, timeout=config.call_timeout, recorded_at=recorded_at)


async def judge(
    examples: Sequence[Example], rubric: Rubric, ctx: CheckContext, judge_: Judge | None,
    advance: Advance = _noop,
) -> list[Judgement]:
    async def one(example: Example) -> Judgement:
        result = await evaluate(rubric, example, ctx, judge_)
        advance(1)
        return result

    return list(await asyncio.gather(*(one(e) for e in examples)))


def observations_of(calls: Sequence[ExploredCall]) -> list[Observation]:
    return [c.observation for c in calls]
