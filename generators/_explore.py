"""Exploration: choose arguments, execute calls, record what came back.

Arguments come from, in order of preference for a parameter:
- the value pool: scalar values seen in earlier successful outputs, matched to
  a parameter by name (``latitude`` feeds ``latitude``; ``timezone`` feeds
  ``source_timezone``) and accepted by the parameter's JSON Schema. A call made
  this way is a link in a chain: its step records the earlier observation and
  the JSON pointer the value came from;
- values the user seeded (``--value NAME=VALUE``);
- the schema itself: enum members, default, examples.
A tool whose required parameters have no candidate yet waits for a later round,
when the pool may have one. Identical calls are made once.

Only tools the side-effect policy allows are called (see `select_tools`).
Every call becomes an `Observation`, errors and timeouts included.

Reruns: every call goes through a `CallRecorder`, which answers it from the
cache of earlier runs when it can and records it the moment it returns. The
choices here depend only on the seed and the recorded results, never on the
order calls complete in or the clock: a round's calls are planned before any
of them runs and their results are taken in planned order. So a run killed half
way and started again plans the same calls, finds the finished ones in the
cache and executes only the rest.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from schemas import ArgumentSource, Observation, Tool, call_key

from ._base import Toolset
from ._call_cache import EXPLORE, CallRecorder

if TYPE_CHECKING:
    from ._propose import ValueProposer

_MAX_POOL_STRING = 120
_POOL_PER_KEY = 40


@dataclass(frozen=True)
class SkippedTool:
    """A tool exploration will not call, and why."""

    toolset: str
    tool: str
    reason: str


def select_tools(
    tools: Iterable[Tool], *, allow_writes: bool = False, allow: Iterable[str] = ()
) -> tuple[list[Tool], list[SkippedTool]]:
    """Split tools into those exploration may call and those it must skip.

    Read tools are always allowed. Write tools need ``allow_writes``. A destructive
    tool (including an MCP tool without annotations, per the spec's defaults) needs
    its name in ``allow``, which admits any tool whatever its class.
    """
    allowed_names = set(allow)
    callable_: list[Tool] = []
    skipped: list[SkippedTool] = []
    for tool in tools:
        if tool.name in allowed_names or f"{tool.toolset}.{tool.name}" in allowed_names:
            callable_.append(tool)
        elif tool.side_effect == "read":
            callable_.append(tool)
        elif tool.side_effect == "write" and allow_writes:
            callable_.append(tool)
        else:
            source = {
                "annotations": "its MCP annotations",
                "mcp-default": "it has no MCP annotations (spec default: possibly destructive)",
                "http-method": "its HTTP method",
                "override": "the configuration",
            }.get(tool.side_effect_source, tool.side_effect_source)
            needed = "--allow-writes" if tool.side_effect == "write" else f"--allow {tool.name}"
            skipped.append(
                SkippedTool(tool.toolset, tool.name, f"{tool.side_effect} by {source}; pass {needed}")
            )
    return callable_, skipped


@dataclass(frozen=True)
class PoolValue:
    """A scalar seen in an output: where it was (observation, pointer) and under which key."""

    value: Any
    key: str
    observation_id: str
    pointer: str


_Option = tuple[Any, ArgumentSource, "PoolValue | None"]


@dataclass(frozen=True)
class ExploredCall:
    """An executed call with, for each argument, where its value came from."""

    observation: Observation
    sources: Mapping[str, ArgumentSource]
    parents: Mapping[str, PoolValue]  # argument name -> pool value, for origin "step"
    depth: int


@dataclass
class ExploreConfig:
    """Budget and policy for one exploration."""

    max_calls: int = 120
    rounds: int = 4
    calls_per_tool_per_round: int = 3
    concurrency: int = 4
    call_timeout: float = 30.0
    seed: int = 0
    values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    error_probes: int = 4  # calls repeated with a typo, to record real error paths
    # Values seeded for one toolset only: toolset name -> parameter -> values.
    toolset_values: Mapping[str, Mapping[str, Sequence[Any]]] = field(default_factory=dict)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def iter_scalars(value: Any, pointer: str = "", key: str = "") -> Iterable[tuple[str, str, Any]]:
    """(pointer, key, scalar) for every string or number leaf; list items keep the list's key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from iter_scalars(v, f"{pointer}/{_escape(str(k))}", str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_scalars(v, f"{pointer}/{i}", key)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield pointer, key, value


def _tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if t}


def names_match(param: str, key: str) -> bool:
    """Same name, or the key's words all appear in the parameter's (timezone -> source_timezone)."""
    if not key:
        return False
    if param == key:
        return True
    kt, pt = _tokens(key), _tokens(param)
    return bool(kt) and kt <= pt and len(kt) >= 1 and len("".join(kt)) >= 4


class _Pool:
    def __init__(self) -> None:
        self._by_key: dict[str, list[PoolValue]] = defaultdict(list)

    def add(self, observation: Observation) -> None:
        if observation.is_error:
            return
        # An output that echoes the call's own input is no new information: a
        # "chain" through it would only pass the user's value along.
        echoed = {repr(v) for _, _, v in iter_scalars(observation.arguments)}
        for pointer, key, value in iter_scalars(observation.output):
            if isinstance(value, str) and (not value.strip() or len(value) > _MAX_POOL_STRING):
                continue
            if repr(value) in echoed:
                continue
            bucket = self._by_key[key]
            if any(p.value == value for p in bucket) or len(bucket) >= _POOL_PER_KEY:
                continue
            bucket.append(PoolValue(value, key, observation.observation_id, pointer))

    def keys(self) -> list[str]:
        return list(self._by_key)

    def bucket(self, key: str) -> list[PoolValue]:
        return self._by_key[key]


_POOL_SOURCE = ArgumentSource(origin="step", how="pool")
_USER_SOURCES: dict[str, ArgumentSource] = {}


def _user_source(how: str) -> ArgumentSource:
    if how not in _USER_SOURCES:
        _USER_SOURCES[how] = ArgumentSource(origin="user", how=how)
    return _USER_SOURCES[how]


class _ParamOptions:
    """Candidate values for one (tool, parameter), kept up to date incrementally.

    Seeded and schema values are validated once; each pool value is validated
    once when it first appears, so choosing arguments costs O(new values), not
    O(pool) per call (bench/explore.py measures the per-call overhead).
    """

    def __init__(self, param: str, schema: Mapping[str, Any], seeds: Sequence[Any]) -> None:
        self.param = param
        self.validator = Draft202012Validator(dict(schema))
        self.static: list[_Option] = [
            (v, _user_source("seed"), None) for v in seeds if self.validator.is_valid(v)
        ] + [(v, _user_source(how), None) for v, how in _schema_values(schema) if self.validator.is_valid(v)]
        self.pooled: list[_Option] = []
        self._examined: dict[str, int] = {}
        self._matching: dict[str, bool] = {}

    def add_static(self, values: Sequence[Any], how: str) -> None:
        """Values from outside the schema and the pool (a model's proposals)."""
        known = {repr(v) for v, _, _ in self.static}
        self.static += [(v, _user_source(how), None) for v in values
                        if self.validator.is_valid(v) and repr(v) not in known]

    def refresh(self, pool: _Pool) -> list[_Option]:
        for key in pool.keys():
            if key not in self._matching:
                self._matching[key] = names_match(self.param, key)
            if not self._matching[key]:
                continue
            bucket = pool.bucket(key)
            start = self._examined.get(key, 0)
            for pv in bucket[start:]:
                if self.validator.is_valid(pv.value):
                    self.pooled.append((pv.value, _POOL_SOURCE, pv))
            self._examined[key] = len(bucket)
        return self.pooled + self.static


# A fixed reference instant for schema formats, so runs are reproducible.
_REFERENCE = _dt.datetime(2024, 6, 21, 14, 0, tzinfo=_dt.UTC)


def _derived_values(schema: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """Values a schema implies when it names none: bounds, booleans, date/time formats.

    Deliberately nothing for free text or unbounded integers (ids, queries):
    those wait for the pool or a seeded --value rather than an invented guess.
    """
    for branch in schema.get("anyOf") or schema.get("oneOf") or []:
        if isinstance(branch, Mapping) and branch.get("type") != "null":
            return _derived_values(branch)
    kind = schema.get("type")
    if kind == "boolean":
        return [(True, "schema-type"), (False, "schema-type")]
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) or isinstance(lo, bool):
            return []
        mid = (lo + hi) / 2
        values = [lo, hi, int(mid) if kind == "integer" else round(mid, 6)]
        return [(v, "schema-bounds") for v in dict.fromkeys(values)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return [(_REFERENCE.date().isoformat(), "schema-format")]
        if fmt == "date-time":
            return [(_REFERENCE.isoformat().replace("+00:00", "Z"), "schema-format")]
        if fmt == "time":
            return [(_REFERENCE.time().isoformat(), "schema-format")]
    return []


def _schema_values(schema: Mapping[str, Any]) -> list[tuple[Any, str]]:
    values: list[tuple[Any, str]] = []
    for v in schema.get("enum") or []:
        values.append((v, "schema-enum"))
    if "default" in schema and schema["default"] is not None:
        values.append((schema["default"], "schema-default"))
    for v in schema.get("examples") or []:
        values.append((v, "schema-example"))
    if "const" in schema:
        values.append((schema["const"], "schema-enum"))
    return values or _derived_values(schema)


class Explorer:
    """Runs rounds of calls over the allowed tools of several toolsets."""

    def __init__(
        self,
        toolsets: Mapping[str, Toolset],
        tools: Sequence[Tool],
        config: ExploreConfig,
        proposer: ValueProposer | None = None,
        recorder: CallRecorder | None = None,
    ) -> None:
        self.toolsets = toolsets
        self.recorder = recorder or CallRecorder()
        self.tools = list(tools)
        self.config = config
        self.rng = random.Random(config.seed)
        self.pool = _Pool()
        self.calls: list[ExploredCall] = []
        self._seen_keys: set[str] = set()
        self._depth: dict[str, int] = {}
        self._semaphores = {name: asyncio.Semaphore(config.concurrency) for name in toolsets}
        self._param_options: dict[tuple[str, str, str], _ParamOptions] = {}
        self._obs_tool: dict[str, str] = {}  # observation id -> tool that produced it
        self._edge_counts: Counter[tuple[str, str]] = Counter()  # (from tool, to tool) -> calls
        self._tool_calls: Counter[str] = Counter()
        self.proposer = proposer
        self._proposed: set[tuple[str, str, str]] = set()

    # -- argument choice -------------------------------------------------
    def _options(self, tool: Tool, param: str, schema: Mapping[str, Any]) -> list[_Option]:
        key = (tool.toolset, tool.name, param)
        opts = self._param_options.get(key)
        if opts is None:
            seeds = [*self.config.values.get(param, ())]
            seeds += [v for v in self.config.toolset_values.get(tool.toolset, {}).get(param, ()) if v not in seeds]
            opts = self._param_options[key] = _ParamOptions(param, schema, seeds)
        return opts.refresh(self.pool)

    def _propose(
        self, tool: Tool, prefer_pool: bool
    ) -> tuple[dict[str, Any], dict[str, ArgumentSource], dict[str, PoolValue]] | None:
        """Arguments for one call, or None while a required parameter has no candidate.

        With ``prefer_pool``, one earlier observation is picked as the anchor and
        supplies every parameter it can (latitude *and* longitude of the same
        place), so chains stay coherent; other parameters come from the user
        side (seeds, schema) when possible.
        """
        props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
        required = set(tool.input_schema.get("required") or [])
        options = {p: self._options(tool, p, props[p]) for p in sorted(props)}
        if any(not options[p] for p in required if p in options):
            return None  # wait until the pool has a value for it
        anchored: dict[str, _Option] = {}
        if prefer_pool:
            cover: dict[str, dict[str, _Option]] = defaultdict(dict)
            for param, opts in options.items():
                for opt in opts:
                    pv = opt[2]
                    if pv is None or param in cover[pv.observation_id]:
                        continue
                    # one output value fills one parameter: no "from X to X"
                    if all(o[2] is not pv for o in cover[pv.observation_id].values()):
                        cover[pv.observation_id][param] = opt
            if cover:
                # Coverage-seeking: among the anchors that fill the most parameters,
                # prefer the one whose tool -> this tool edge was walked least.
                best = max(len(v) for v in cover.values())
                fullest = sorted(oid for oid, v in cover.items() if len(v) == best)
                fewest = min(self._edge_counts[(self._obs_tool.get(o, ""), tool.name)] for o in fullest)
                anchor = self.rng.choice(
                    [o for o in fullest if self._edge_counts[(self._obs_tool.get(o, ""), tool.name)] == fewest])
                anchored = cover[anchor]
        args: dict[str, Any] = {}
        sources: dict[str, ArgumentSource] = {}
        parents: dict[str, PoolValue] = {}
        for param, opts in options.items():
            if param in anchored:
                choice = anchored[param]
            else:
                if not opts or (param not in required and param not in self.config.values):
                    continue  # optional: only when the anchor or the user supplies it
                user_side = [o for o in opts if o[2] is None]
                choice = self.rng.choice(user_side or opts)
            value, source, parent = choice
            args[param] = value
            sources[param] = source
            if parent is not None:
                parents[param] = parent
        return args, sources, parents

    # -- execution ---------------------------------------------------------
    async def _execute(self, tool: Tool, args: dict[str, Any]) -> Observation:
        """One call, answered from the cache of earlier runs or executed and recorded at once."""
        return await self.recorder.call(
            tool.toolset, self.toolsets[tool.toolset], tool.name, args, purpose=EXPLORE,
            timeout=self.config.call_timeout, limit=self._semaphores[tool.toolset],
        )

    async def _ask_proposer(self) -> None:
        """Ask the model, once per parameter, for values of required parameters nothing fills."""
        if self.proposer is None:
            return
        for tool in self.tools:
            props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
            for param in tool.input_schema.get("required") or []:
                key = (tool.toolset, tool.name, param)
                if key in self._proposed or param not in props or self._options(tool, param, props[param]):
                    continue
                self._proposed.add(key)
                values = await self.proposer.propose(tool, param, dict(props[param]))
                self._param_options[key].add_static(values, "llm")

    async def run_round(self, round_index: int) -> list[ExploredCall]:
        """One round: propose up to N new calls per tool, execute them concurrently."""
        await self._ask_proposer()
        planned: list[tuple[Tool, dict[str, Any], dict[str, ArgumentSource], dict[str, PoolValue]]] = []
        budget = self.config.max_calls - self.config.error_probes - len(self.calls)  # probes keep theirs
        # Tools called least so far go first, so a tight budget still covers every tool.
        order = self.rng.sample(self.tools, len(self.tools))
        for tool in sorted(order, key=lambda t: self._tool_calls[t.name]):
            made = 0
            for attempt in range(self.config.calls_per_tool_per_round * 4):
                if made >= self.config.calls_per_tool_per_round or len(planned) >= budget:
                    break
                proposal = self._propose(tool, prefer_pool=round_index > 0 or attempt % 2 == 1)
                if proposal is None:
                    break
                args, sources, parents = proposal
                key = call_key(tool.toolset, self.toolsets[tool.toolset].version, tool.name, args)
                if key in self._seen_keys:
                    continue
                self._seen_keys.add(key)
                planned.append((tool, args, sources, parents))
                made += 1
        observations = await asyncio.gather(*(self._execute(t, a) for t, a, _, _ in planned))
        new_calls = []
        for (tool, _args, sources, parents), obs in zip(planned, observations, strict=True):
            self._obs_tool[obs.observation_id] = tool.name
            self._tool_calls[tool.name] += 1
            for parent in {p.observation_id for p in parents.values()}:
                self._edge_counts[(self._obs_tool.get(parent, ""), tool.name)] += 1
            depth = 1 + max((self._depth.get(p.observation_id, 0) for p in parents.values()), default=-1)
            self._depth.setdefault(obs.observation_id, depth)
            call = ExploredCall(obs, sources, parents, depth)
            new_calls.append(call)
            self.pool.add(obs)
        self.calls.extend(new_calls)
        return new_calls

    async def run(self, on_round: Any = None) -> list[ExploredCall]:
        for r in range(self.config.rounds):
            if len(self.calls) >= self.config.max_calls:
                break
            new = await self.run_round(r)
            if on_round is not None:
                on_round(r, new)
            if not new:
                break
        if self.config.error_probes:
            probes = await self.probe_errors(self.config.error_probes)
            if on_round is not None:
                on_round(self.config.rounds, probes)
        return self.calls

    async def probe_errors(self, n: int) -> list[ExploredCall]:
        """Error paths: repeat up to n successful calls with a typo in one text argument.

        The tool's real reaction (usually an error such as "unknown country
        'Frnace'") is recorded like any observation; paired with the original
        call it is error-recovery material: a failed call, then the corrected one.
        """
        planned: list[tuple[Tool, dict[str, Any], dict[str, ArgumentSource]]] = []
        tools = {(t.toolset, t.name): t for t in self.tools}
        for call in self.rng.sample(self.calls, len(self.calls)):
            obs = call.observation
            if len(planned) >= n or len(self.calls) + len(planned) >= self.config.max_calls:
                break
            texts = [k for k, v in obs.arguments.items() if isinstance(v, str) and len(v) >= 4]
            if obs.is_error or call.parents or not texts or (obs.toolset, obs.tool) not in tools:
                continue
            param = self.rng.choice(sorted(texts))
            original: str = obs.arguments[param]
            i = self.rng.randrange(1, len(original) - 2)
            typo = original[:i] + original[i + 1] + original[i] + original[i + 2:]
            args = {**obs.arguments, param: typo}
            key = call_key(obs.toolset, self.toolsets[obs.toolset].version, obs.tool, args)
            if typo == original or key in self._seen_keys:
                continue
            self._seen_keys.add(key)
            sources = {**call.sources, param: _user_source("probe-typo")}
            planned.append((tools[(obs.toolset, obs.tool)], args, sources))
        observations = await asyncio.gather(*(self._execute(t, a) for t, a, _ in planned))
        probes = [ExploredCall(o, s, {}, 0) for (_, _, s), o in zip(planned, observations)]
        for p in probes:
            self.pool.add(p.observation)
        self.calls.extend(probes)
        return probes
