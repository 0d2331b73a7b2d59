"""What exploration is told (`ExploreConfig`) and what it gives back: executed calls with where each argument came from, and the report for the run summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import ArgumentSource, Observation

from ._pool import PoolValue


@dataclass(frozen=True)
class ExploredCall:
    """An executed call with, for each argument, where its value came from."""

    observation: Observation
    sources: Mapping[str, ArgumentSource]
    parents: Mapping[str, PoolValue]  # argument name -> pool value, for origin "step"
    depth: int
    #: Fields of this tool's output (``/a/*/b``) that changed when an identical call was made
    #: again during exploration: an answer must not be read from them.
    volatile: frozenset[str] = frozenset()


@dataclass
class ExploreConfig:
    """Budget and policy for one exploration."""

    max_calls: int = 120
    #: Rounds the budget is spread over; past them, rounds go on while anything new is left.
    rounds: int = 4
    calls_per_tool_per_round: int = 3
    concurrency: int = 4
    call_timeout: float = 30.0
    seed: int = 0
    values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    error_probes: int = 4  # calls repeated with a typo, to record real error paths
    # Values seeded for one toolset only: toolset name -> parameter -> values.
    toolset_values: Mapping[str, Mapping[str, Sequence[Any]]] = field(default_factory=dict)
    #: A call that got no answer (timeout, lost connection, HTTP 429/5xx) is tried this many more times.
    retries: int = 2
    #: Tools whose first successful call is made once more (as replay will), to learn which
    #: output fields are volatile before tasks are written; 0 turns it off.
    volatility_probes: int = 12


@dataclass(frozen=True)
class MissingValue:
    """A tool never called because a required parameter had no value, and how to give one."""

    toolset: str
    tool: str
    param: str
    what: str
    hint: str


@dataclass
class ExploreReport:
    """What exploration did, for the run summary."""

    calls: int = 0
    budget: int = 0
    rounds: int = 0
    stop: str = ""
    repeats: int = 0  # identical calls made again to learn volatile fields (counted in calls)
    retried: int = 0
    still_failing: int = 0
    inferred_errors: Counter[str] = field(default_factory=Counter)
    missing: list[MissingValue] = field(default_factory=list)
    #: toolset -> what happened to its server (it died, it stopped answering).
    toolset_events: dict[str, str] = field(default_factory=dict)
    #: "toolset.tool" -> output fields that changed when an identical call was made again.
    volatile: dict[str, list[str]] = field(default_factory=dict)
    #: Anchors not used because the call would not keep their meaning (generators._meaning).
    meaning_refused: int = 0

    def lines(self) -> list[str]:
        """The report as short lines for a terminal."""
        again = f" (with {self.repeats} repeated to learn volatile fields)" if self.repeats else ""
        out = [f"{self.calls} of {self.budget} calls in {self.rounds} rounds{again}; stopped: {self.stop}"]
        if self.retried:
            out.append(f"{self.retried} calls that got no answer were retried"
                       + (f", {self.still_failing} never answered" if self.still_failing else ""))
        if self.inferred_errors:
            tools = ", ".join(f"{t} x{n}" for t, n in self.inferred_errors.most_common(5))
            out.append(f"{sum(self.inferred_errors.values())} outputs read as failures the tool did not flag ({tools})")
        for m in self.missing:
            out.append(f"never called {m.toolset}.{m.tool}: no value for {m.param!r} ({m.what}); pass {m.hint}")
        if self.volatile:
            shown = ", ".join(f"{t} ({', '.join(f[:2])}{', ...' if len(f) > 2 else ''})"
                              for t, f in sorted(self.volatile.items())[:4])
            out.append(f"{len(self.volatile)} tools answered an identical call differently: {shown}")
        if self.meaning_refused:
            out.append(f"{self.meaning_refused} chain links not tried: the value would not keep its meaning "
                       "(another place's coordinates, a unit not recorded, an unrelated source)")
        for name, event in sorted(self.toolset_events.items()):
            out.append(f"toolset {name}: {event}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "budget": self.budget, "rounds": self.rounds, "stop": self.stop,
            "repeats": self.repeats,
            "retried": self.retried, "still_failing": self.still_failing,
            "inferred_errors": dict(self.inferred_errors),
            "missing_values": [{"toolset": m.toolset, "tool": m.tool, "param": m.param, "what": m.what,
                                "hint": m.hint} for m in self.missing],
            "toolset_events": dict(self.toolset_events), "volatile": dict(self.volatile),
            "meaning_refused": self.meaning_refused,
        }
