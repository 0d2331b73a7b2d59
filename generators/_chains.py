"""Chains: traces assembled from the provenance of explored calls.

Every explored call knows which earlier observation (and JSON pointer) each of
its pooled arguments came from. A trace for call C is C plus its ancestors in
execution order, so a chain is a walk that actually happened: the later
argument *is* the earlier output value, not a guess that it would fit.

Selection prefers longer chains and chain shapes seen least often, so a small
budget still covers many tools and edges. A chain through a value read from a field that
changed when the identical call was made again (``ExploredCall.volatile``) is not built: its
replay would not pass the same value along.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

from schemas import ArgumentSource, Step, Trace

from ._explore import ExploredCall
from ._phrasing import words_of


def trace_for(call: ExploredCall, by_obs: dict[str, ExploredCall], max_steps: int) -> Trace | None:
    """The trace ending in ``call``: its ancestors first, then the call. None if too long."""
    ordered: list[ExploredCall] = []
    seen: set[str] = set()

    def visit(c: ExploredCall) -> bool:
        oid = c.observation.observation_id
        if oid in seen:
            return True
        for parent in c.parents.values():
            p = by_obs.get(parent.observation_id)
            if p is None or p.observation.is_error or not visit(p):
                return False
            if re.sub(r"/\d+(?=/|$)", "/*", parent.pointer) in p.volatile:
                return False  # the value came from a field that changes on an identical call
            if p.observation.tool == c.observation.tool and p.observation.toolset == c.observation.toolset:
                return False  # "the holiday after the next holiday after June 1": a rewrite drops the hop
            given = {k: v for k, v in c.observation.arguments.items() if k not in c.parents}  # the date it passed on agrees
            if _asks_apart(p.observation.arguments, given):
                return False  # December's busiest destination fed to July 4's departures: no question joins them
        seen.add(oid)
        ordered.append(c)
        return len(ordered) <= max_steps

    if not visit(call) or len(ordered) > max_steps:
        return None
    index = {c.observation.observation_id: i for i, c in enumerate(ordered)}
    steps = []
    for c in ordered:
        sources = dict(c.sources)
        for param, parent in c.parents.items():
            given = c.sources.get(param)
            # "unit-of": the unit that value was recorded in (generators._meaning), not the value itself.
            how = given.how if given is not None and given.how == "unit-of" else "pool"
            sources[param] = ArgumentSource(
                origin="step", how=how, step=index[parent.observation_id], pointer=parent.pointer
            )
        steps.append(Step.from_observation(c.observation, sources))
    return Trace(steps=steps)


_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-\d{2}")


def _time_frame(arguments: dict[str, object]) -> dict[str, int]:
    """The year and month a call's arguments ask about: a date's, or a 'month' / 'year' parameter's."""
    frame: dict[str, int] = {}
    for param, value in arguments.items():
        words = set(words_of(param))
        if isinstance(value, str) and (m := _ISO_DAY.match(value)):  # not parse_when: it reads '09:30' as today
            frame.setdefault("year", int(m.group(1)))
            frame.setdefault("month", int(m.group(2)))
        elif isinstance(value, int) and not isinstance(value, bool):
            if "month" in words and 1 <= value <= 12:
                frame["month"] = value
            elif "year" in words and 1000 <= value <= 9999:
                frame["year"] = value
    return frame


def _asks_apart(parent: dict[str, object], child: dict[str, object]) -> bool:
    """Two linked calls ask about different months or years, or give one parameter two values (JFK's busiest
    destination fed to a route from EWR): a chain no one would ask for."""
    a, b = _time_frame(parent), _time_frame(child)
    if any(k in a and k in b and a[k] != b[k] for k in ("year", "month")):
        return True
    return any(p in parent and parent[p] != v for p, v in child.items())


def build_traces(
    calls: Sequence[ExploredCall], *, limit: int, max_steps: int = 4, seed: int = 0
) -> list[Trace]:
    """Up to ``limit`` distinct traces ending in successful calls, multi-step chains first."""
    by_obs: dict[str, ExploredCall] = {}
    for c in calls:
        by_obs.setdefault(c.observation.observation_id, c)
    traces: dict[str, Trace] = {}
    for c in calls:
        if c.observation.is_error or c.observation.output in (None, "", [], {}):
            continue
        trace = trace_for(c, by_obs, max_steps)
        if trace is not None:
            traces.setdefault(trace.trace_id, trace)
    rng = random.Random(seed)
    pool = list(traces.values())
    rng.shuffle(pool)
    chosen: list[Trace] = []
    shapes: Counter[str] = Counter()
    tools_used: Counter[str] = Counter()
    while pool and len(chosen) < limit:
        # Longest chains first; among equals, the least-seen shape and tools.
        def rank(t: Trace) -> tuple[int, int, int]:
            return (
                shapes[t.signature],
                -min(len(t.steps), max_steps),
                sum(tools_used[s.tool] for s in t.steps),
            )

        best = min(pool, key=rank)
        pool.remove(best)
        chosen.append(best)
        shapes[best.signature] += 1
        tools_used.update(s.tool for s in best.steps)
    return chosen
