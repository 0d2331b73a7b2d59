"""The pipeline's stages as plain async functions over a batch.

Each stage takes the whole batch and returns records; the Prefect flow wraps
each one in a single task (coarse tasks: Prefect's per-task overhead is far
larger than one example's work). The only stage that writes is `commit`,
through store/; the tool calls of `explore` and `replay` are recorded as they
return by the `CallRecorder` the flow hands them (its cache is the store's).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generators import (
    CallRecorder,
    Draft,
    ExploreConfig,
    ExploredCall,
    Explorer,
    ExploreReport,
    KindPlan,
    LLMWriter,
    SkippedTool,
    Toolset,
    ValueProposer,
    build_drafts,
    build_traces,
    select_tools,
)
from schemas import Example, Judgement, Observation, Rubric, Task, Tool, Trace
from validators import (
    CHECKS,
    CheckContext,
    Judge,
    ReplayReport,
    evaluate,
    judge_context,
    normalise_text,
    replay_steps,
)

from ._config import RunConfig

Advance = Callable[[int], None]

# Checks a rewrite must pass before it replaces the template draft: it kept the user's values,
# gave nothing away, states the answer and nothing the recorded calls do not hold (issue 18).
_REWRITE_GATES = ("writer", "provenance", "leakage", "no_tool_names", "plain_words", "intermediate_hidden",
                  "withheld_hidden", "direction_kept", "link_named", "question_fits", "answer_named", "answer_stated", "grounded", "no_call_arithmetic", "not_copied")
# The gates that read only the final answer: a rewrite that fails only these keeps its request
# and takes the template's answer.
_ANSWER_GATES = frozenset({"answer_stated", "grounded", "no_call_arithmetic", "not_copied"})


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
    allowed, skipped = select_tools(tools, allow_writes=config.allow_writes, allow=config.allow,
                                    allow_likely_readonly=config.allow_likely_readonly)
    return ToolCatalog(tools, allowed, skipped)


@dataclass
class Explored:
    """The explore stage's result: every call, and what exploration did (for the run summary)."""

    calls: list[ExploredCall]
    report: ExploreReport


async def explore(
    toolsets: Mapping[str, Toolset], catalog: ToolCatalog, config: RunConfig,
    values: Mapping[str, Sequence[Any]], advance: Advance = _noop,
    toolset_values: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    proposer: ValueProposer | None = None,
    recorder: CallRecorder | None = None,
) -> Explored:
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
            toolset_values=toolset_values or {},
        ),
        proposer=proposer,
        recorder=recorder,
    )
    calls = await explorer.run(on_round=lambda _r, new: advance(len(new)))
    explorer.report.toolset_events.update(toolset_events(toolsets))
    return Explored(calls, explorer.report)


def toolset_events(toolsets: Mapping[str, Toolset]) -> dict[str, str]:
    """What happened to each toolset's server during the run, when something did (it died)."""
    events: dict[str, str] = {}
    for name, toolset in toolsets.items():
        event = getattr(toolset, "event", None)
        if isinstance(event, str) and event:
            events[name] = event
    return events


async def chain(calls: Sequence[ExploredCall], config: RunConfig) -> list[Trace]:
    # More traces than tasks: the kind mix draws singles, chains and multi_turn from them.
    return build_traces(calls, limit=3 * config.examples, max_steps=config.max_steps, seed=config.seed)


@dataclass
class Written:
    examples: list[Example] = field(default_factory=list)
    plan: KindPlan = field(default_factory=KindPlan)


def _tools_for(trace: Trace, catalog: ToolCatalog) -> list[Tool]:
    """The tools offered in the example: every allowed tool of the toolsets the trace used.

    A no_call task has no trace: it is offered the first toolset's tools, so
    not calling is a choice, not the only option.
    """
    used = {s.toolset for s in trace.steps} or {catalog.allowed[0].toolset}
    return [t for t in catalog.allowed if t.toolset in used]


async def draft(calls: Sequence[ExploredCall], traces: Sequence[Trace], config: RunConfig,
                catalog: ToolCatalog | None = None) -> tuple[list[Draft], KindPlan]:
    """Template drafts in the configured kind mix, from real calls and chains.

    The catalog's tool descriptions and schemas are what the sentences are built from.
    """
    return build_drafts(calls, traces, total=config.examples, mix=config.kinds, seed=config.seed,
                        tools=catalog.allowed if catalog is not None else None)


async def write(
    drafts: Sequence[Draft], catalog: ToolCatalog, writer: LLMWriter | None, config: RunConfig,
    advance: Advance = _noop, first_index: int = 0,
) -> list[Example]:
    """Turn drafts into examples: the template text, or LLM rewrites (``variants`` per draft).

    ``first_index`` is the position of ``drafts[0]`` in the run's drafts: sampling
    seeds follow the position, so a batch writes what the whole stage would.

    A rewrite that fails the cheap gates is kept (it becomes a rejected candidate
    with its reason). When no rewrite of a draft passes, the draft is used in
    their place, marked as the fallback. Identical rewrites are kept once.
    """

    async def one(index: int, trace: Trace, task: Task) -> list[Example]:
        tools = _tools_for(trace, catalog)
        template = Example(task=task, trace=trace, tools=tools)
        if writer is None:
            return [template]
        out: list[Example] = []
        seen: set[str] = set()
        passed_any, first_failure = False, ""
        for v in range(config.variants):
            seed = config.seed + index * config.variants + v
            # Several variants need sampling; one is the deterministic best guess.
            temperature = 0.0 if config.variants == 1 else 0.8
            rewritten = Example(task=await writer.rewrite(task, seed=seed, temperature=temperature,
                                                          trace=trace, tools=tools),
                                trace=trace, tools=tools)
            failed = _failed_gates(rewritten)
            if failed and rewritten.task.writer_error is None and set(failed) <= _ANSWER_GATES:
                # The request is good, the answer is not: keep the request, state the answer as drafted.
                kept = rewritten.model_copy(update={"task": rewritten.task.model_copy(update={
                    "final_message": task.final_message,
                    "writer_note": f"answer kept from the template: {next(iter(failed.values()))}"})})
                if not _failed_gates(kept):
                    rewritten, failed = kept, {}
            text = normalise_text(rewritten.task.user_request)
            if text in seen:
                continue
            seen.add(text)
            out.append(rewritten)
            passed_any = passed_any or not failed
            first_failure = first_failure or next(iter(failed.values()), "")
        if not passed_any:
            note = f"fallback: llm rewrite failed: {first_failure}"
            out.append(template.model_copy(update={"task": task.model_copy(update={"writer_note": note})}))
        return out

    async def tracked(index: int, trace: Trace, task: Task) -> list[Example]:
        result = await one(index, trace, task)
        advance(1)
        return result

    batches = await asyncio.gather(*(tracked(first_index + i, t, k) for i, (t, k) in enumerate(drafts)))
    return [e for batch in batches for e in batch]


def _failed_gates(example: Example) -> dict[str, str]:
    """The rewrite gates an example fails, in order: name -> reason."""
    return {name: f"{name}: {r.reason}" for name in _REWRITE_GATES
            if not (r := CHECKS[name](example, CheckContext())).passed}


async def replay(
    toolsets: Mapping[str, Toolset], examples: Sequence[Example], recorded_at: _dt.datetime | None,
    config: RunConfig, recorder: CallRecorder | None = None,
) -> ReplayReport:
    steps = [s for e in examples for s in e.trace.steps]
    return await replay_steps(toolsets, steps, timeout=config.call_timeout, recorded_at=recorded_at,
                              recorder=recorder)


async def judge(
    examples: Sequence[Example], rubric: Rubric, ctx: CheckContext, judge_: Judge | None,
    advance: Advance = _noop,
) -> list[Judgement]:
    """Evaluate every example; judgements come back in the examples' order.

    Examples start in the order of their judge prompts, so neighbours share the
    longest prefix (the same tools, then the same request): a llama.cpp server,
    which reuses only the previous request's prefix, evaluates it once. The
    judge's sessions decide what runs at once (see validators.Judge).
    """
    async def one(example: Example) -> Judgement:
        result = await evaluate(rubric, example, ctx, judge_)
        advance(1)
        return result

    order = sorted(range(len(examples)), key=lambda i: judge_context(examples[i]))
    results = await asyncio.gather(*(one(examples[i]) for i in order))
    by_position = dict(zip(order, results))
    return [by_position[i] for i in range(len(examples))]


def observations_of(calls: Sequence[ExploredCall]) -> list[Observation]:
    return [c.observation for c in calls]


async def dedup(examples: list[Example], config: RunConfig) -> tuple[list[Example], list[tuple[str, str, float]]]:
    """Remove near-duplicate requests before replay and judging (``dedup_threshold`` 0: off).

    Returns the kept examples and (removed id, kept id, cosine) for the rest,
    which the flow stores as rejected candidates. Of a duplicate group, the one
    that passes the cheap rewrite gates is kept, so a failed rewrite never
    displaces the template it duplicates. The embedding model is CPU-bound:
    it runs in a thread so the toolsets' sessions keep being served.
    """
    from validators import dedup as remove_near_duplicates

    if config.dedup_threshold <= 0 or len(examples) < 2:
        return list(examples), []
    passes = [float(all(CHECKS[name](e, CheckContext()).passed for name in _REWRITE_GATES)) for e in examples]
    return await asyncio.to_thread(remove_near_duplicates, examples, config.dedup_threshold, passes)
