"""The replay simulator: answer tool calls from recorded observations, offline.

Firefly's point, kept: once exploration has recorded what real tools returned, an RL
environment (or backchain itself) can answer the same calls again without touching a live API
that drifts, rate-limits or costs money. ``ReplaySimulator`` is a ``Toolset``, so anything
that drives a toolset (an RL rollout loop, ``validators.replay_steps``, the explorer) can drive
it instead.

Matching is the replay table's own (``schemas.normalised_key``; the rules are in
schemas/_replay.py): toolset, tool and normalised arguments equal (keys sorted, strings NFC
and stripped, integral floats as integers, booleans not numbers); the toolset's version is
not part of the match.

Volatile tools. The same call recorded with different outcomes (``get_current_time``) keeps
every outcome; the earliest (by ``started_at``, then observation id) answers, so replay is
deterministic, and the outcome's ``alternatives`` names the others (``recorded()`` returns
them all, earliest first).

Misses, by policy (``miss=``):

* ``"error"`` (default): an ``is_error`` outcome, "no recorded observation for TOOL({args})".
  An agent learns that a call nobody recorded fails, instead of receiving invented data.
* ``"nearest"``: the recorded call of the same tool whose arguments agree on the most values
  (ties: the smaller distance, then the earliest). Distance is the number of argument names,
  over both calls, whose normalised values differ or that only one call has. The output is the
  recorded one, byte for byte; only the outcome's ``source == "nearest"`` and ``distance`` say
  it was not an exact hit. ``max_distance`` turns matches further away into misses.
* ``"live"``: the call goes to a live ``Toolset`` given at construction (one, or a mapping by
  toolset name), which the caller starts and closes. The outcome has ``source == "live"`` and
  the call is kept as an ``Observation`` in ``live_observations`` (store them with
  ``Store.save_observations`` to grow the table); it is not added to the index, so every miss
  goes live.

Every outcome is a ``SimulatedOutcome``: a ``CallOutcome`` (so ``output``, ``is_error`` and
``error`` read as from any toolset) plus ``source``, ``distance``, ``observation_id`` and
``alternatives``. ``counts`` tallies outcomes by source, so a test can prove no call went live.
"""

from __future__ import annotations

import copy
import datetime as _dt
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from schemas import (
    ConfigError,
    Observation,
    RecordedCall,
    ReplayIndex,
    Tool,
    canonical_json,
    content_hash,
    normalise_arguments,
    read_replay_table,
)

from ._base import CallOutcome, Toolset

MissPolicy = Literal["error", "nearest", "live"]
Source = Literal["recorded", "nearest", "live", "miss"]
_POLICIES = get_args(MissPolicy)


@dataclass(frozen=True)
class SimulatedOutcome(CallOutcome):
    """A ``CallOutcome`` that also says where it came from.

    ``source``: ``recorded`` (exact match), ``nearest``, ``live`` or ``miss`` (no answer: an
    error outcome). ``distance``: argument names that differ (0 unless ``nearest``).
    ``observation_id``: the recorded (or live) observation answering. ``alternatives``: ids of
    other recorded outcomes of the same call (a volatile tool), earliest first.
    """

    source: Source = "recorded"
    distance: int = 0
    observation_id: str | None = None
    alternatives: tuple[str, ...] = ()


def _describe_call(tool: str, arguments: Any) -> str:
    try:
        text = canonical_json(arguments)
    except (TypeError, ValueError):
        text = repr(arguments)
    return f"{tool}({text if len(text) <= 300 else text[:299] + '…'})"


def _canonical_values(arguments: Mapping[str, Any]) -> dict[str, str]:
    """Each normalised argument value as canonical JSON: ``true`` and ``1`` stay apart."""
    return {k: canonical_json(v) for k, v in normalise_arguments(arguments).items()}


def _distance(query: Mapping[str, str], recorded: Mapping[str, str]) -> tuple[int, int]:
    """(equal values, distance) between two calls' canonical argument values."""
    equal = sum(1 for k in query.keys() & recorded.keys() if query[k] == recorded[k])
    return equal, len(query.keys() | recorded.keys()) - equal


class ReplaySimulator(Toolset):
    """A toolset that answers from recorded observations; see the module docstring."""

    def __init__(
        self,
        calls: Iterable[RecordedCall],
        tools: Iterable[Tool] = (),
        *,
        miss: MissPolicy = "error",
        live: Toolset | Mapping[str, Toolset] | None = None,
        max_distance: int | None = None,
        name: str | None = None,
    ) -> None:
        if miss not in _POLICIES:
            raise ConfigError(f"unknown miss policy {miss!r}; use one of {', '.join(_POLICIES)}")
        if miss == "live" and live is None:
            raise ConfigError("miss='live' needs a live toolset: pass live=<a started Toolset>")
        if max_distance is not None and max_distance < 0:
            raise ConfigError(f"max_distance must be 0 or more, not {max_distance}")
        self.miss: MissPolicy = miss
        self.max_distance = max_distance
        self._live = live
        index = ReplayIndex(calls, tools)  # earliest first, one of each observation (schemas/_replay.py)
        self._index = index
        self._tools = index.tools
        self._calls = index.calls
        self._by_key = index.by_key
        self._by_tool = index.by_tool
        self._homes = index.homes
        names = sorted({ts for ts, _ in [*self._by_tool, *self._tools]})
        self.name = name or (names[0] if len(names) == 1 else "replay")
        versions = {c.toolset_version for c in self._calls}
        self.version = versions.pop() if len(names) == 1 and len(versions) == 1 else None
        self._values: dict[str, dict[str, str]] = {}  # nearest's per-call cache
        self.counts: Counter[str] = Counter()
        self.live_observations: list[Observation] = []

    # -- constructors ---------------------------------------------------------------

    @classmethod
    def from_observations(
        cls, observations: Iterable[Observation], tools: Iterable[Tool] = (), **options: Any
    ) -> ReplaySimulator:
        """A simulator over recorded observations (e.g. read from the store)."""
        return cls((RecordedCall.from_observation(o) for o in observations), tools, **options)

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Any) -> ReplaySimulator:
        """A simulator over a replay table (``backchain export ... --format replay``)."""
        calls, tools = read_replay_table(path)
        return cls(calls, tools, **options)

    def __repr__(self) -> str:
        return (f"ReplaySimulator(name={self.name!r}, calls={len(self._calls)}, "
                f"tools={len(self._tools)}, miss={self.miss!r})")

    # -- views ----------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every recorded call, earliest first."""
        return list(self._calls)

    def toolset_names(self) -> list[str]:
        return sorted({ts for ts, _ in [*self._by_tool, *self._tools]})

    def for_toolset(self, name: str) -> ReplaySimulator:
        """The part of this simulator that one toolset recorded, named as that toolset."""
        if name not in self.toolset_names():
            raise ConfigError(
                f"the replay table has no toolset {name!r}; it has {', '.join(self.toolset_names())}"
            )
        live = self._live.get(name) if isinstance(self._live, Mapping) else self._live
        if self.miss == "live" and live is None:
            raise ConfigError(f"miss='live' but no live toolset is given for {name!r}; add it to live=")
        return ReplaySimulator(
            (c for c in self._calls if c.toolset == name),
            (t for t in self._tools.values() if t.toolset == name),
            miss=self.miss, live=live, max_distance=self.max_distance, name=name,
        )

    def toolsets(self) -> dict[str, ReplaySimulator]:
        """One simulator per recorded toolset, by name: the mapping ``replay_steps`` takes."""
        return {name: self.for_toolset(name) for name in self.toolset_names()}

    def recorded(self, tool: str, arguments: Mapping[str, Any], *, toolset: str | None = None) -> list[RecordedCall]:
        """Every recorded outcome of this exact call, earliest first (several: a volatile tool)."""
        return self._index.recorded(tool, arguments, toolset=toolset)

    # -- the Toolset contract -----------------------------------------------------------

    async def list_tools(self) -> list[Tool]:
        return list(self._tools.values())

    async def call(self, tool: str, arguments: dict[str, Any]) -> SimulatedOutcome:
        """The recorded outcome, or the miss policy's answer (only a live toolset may raise)."""
        outcome = await self._answer(tool, arguments)
        self.counts[outcome.source] += 1
        return outcome

    async def _answer(self, tool: str, arguments: dict[str, Any]) -> SimulatedOutcome:
        try:
            wanted = normalise_arguments(arguments)
        except TypeError as exc:
            return self._missed(f"{_describe_call(tool, arguments)}: arguments are not JSON ({exc})")
        homes = sorted(self._homes.get(tool, ()))
        if len(homes) > 1:
            return self._missed(
                f"tool {tool!r} is recorded in toolsets {', '.join(homes)}; call it through "
                f"simulator.for_toolset({homes[0]!r})"
            )
        home = homes[0] if homes else None
        if home is not None:
            hits = self._by_key.get(content_hash([home, tool, wanted]), [])
            if hits:
                alternatives = tuple(c.observation_id for c in hits[1:])
                return self._from(hits[0], "recorded", 0, alternatives)
        if self.miss == "nearest" and home is not None:
            nearest = self._nearest(home, tool, wanted)
            if nearest is not None:
                return self._from(nearest[0], "nearest", nearest[1], ())
        if self.miss == "live":
            return await self._call_live(home, tool, arguments)
        detail = ""
        if self.miss == "nearest":
            within = "" if self.max_distance is None else f" within distance {self.max_distance}"
            detail = f" and no recorded call of {tool}{within}"
        return self._missed(f"no recorded observation for {_describe_call(tool, arguments)}{detail}")

    def _nearest(self, toolset: str, tool: str, wanted: dict[str, Any]) -> tuple[RecordedCall, int] | None:
        best: tuple[int, int] | None = None
        chosen: RecordedCall | None = None
        query = {k: canonical_json(v) for k, v in wanted.items()}
        for call in self._by_tool.get((toolset, tool), []):  # earliest first: ties keep it
            values = self._values.get(call.observation_id)
            if values is None:
                values = self._values[call.observation_id] = _canonical_values(call.arguments)
            equal, distance = _distance(query, values)
            if self.max_distance is not None and distance > self.max_distance:
                continue
            if best is None or (equal, -distance) > (best[0], -best[1]):
                best, chosen = (equal, distance), call
        return None if chosen is None or best is None else (chosen, best[1])

    async def _call_live(self, home: str | None, tool: str, arguments: dict[str, Any]) -> SimulatedOutcome:
        live: Toolset | None
        if isinstance(self._live, Mapping):
            live = self._live.get(home) if home else None
            if live is None and home is None and len(self._live) == 1:
                live = next(iter(self._live.values()))
        else:
            live = self._live
        if live is None:
            return self._missed(
                f"no recorded observation for {_describe_call(tool, arguments)} and no live toolset "
                f"for {home or 'an unrecorded tool'}; add it to live="
            )
        started = _dt.datetime.now(_dt.UTC)
        clock = time.perf_counter()
        outcome = await live.call(tool, dict(arguments))
        observation = Observation(
            toolset=live.name, toolset_version=live.version, tool=tool, arguments=dict(arguments),
            output=outcome.output, raw=outcome.raw, parser=outcome.parser, is_error=outcome.is_error,
            error=outcome.error, error_inferred=outcome.error_inferred,
            latency_ms=(time.perf_counter() - clock) * 1000, started_at=started,
        )
        self.live_observations.append(observation)
        return SimulatedOutcome(
            output=outcome.output, is_error=outcome.is_error, error=outcome.error,
            source="live", observation_id=observation.observation_id,
        )

    @staticmethod
    def _from(call: RecordedCall, source: Source, distance: int, alternatives: tuple[str, ...]) -> SimulatedOutcome:
        # a copy: a caller that edits its output must not change the next answer
        return SimulatedOutcome(
            output=copy.deepcopy(call.output), is_error=call.is_error, error=call.error, source=source,
            distance=distance, observation_id=call.observation_id, alternatives=alternatives,
        )

    @staticmethod
    def _missed(message: str) -> SimulatedOutcome:
        return SimulatedOutcome(is_error=True, error=message, source="miss")
