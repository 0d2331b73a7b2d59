"""Exploration: choose arguments, execute calls, record what came back.

Arguments come from, in order of preference for a parameter:
- the value pool: values seen in earlier successful outputs, JSON fields and values a view
  found in text alike (a hash in prose, a row of a markdown table, a ``key: value`` line),
  matched to a parameter by name (``latitude`` feeds ``latitude``; ``timezone`` feeds
  ``source_timezone``; ``Slug`` feeds ``category_slug``) or by what the value is (an IP address
  feeds ``ip``, a CIDR block ``cidr``, a date a ``format: date`` parameter, a UUID ``id``), and
  accepted by the parameter's JSON Schema. A call made this way is a link in a chain: its step
  records the earlier observation and the pointer the value came from (into its view);
- values the user seeded (``--value NAME=VALUE``), and a model's proposals (--propose-values);
- the schema and descriptions (`generators._arguments`): enum members, defaults, examples,
  ``e.g. ...`` in descriptions, a built-in catalogue by name and type, bounds and formats,
  arrays, nested objects and anyOf/oneOf built from their parts.

**Budget.** Exploration keeps calling while new argument combinations exist and budget is
left: every new pool value for a parameter (each id a list output shows), each candidate of
each parameter in turn, optional parameters and enum members, then seeded random mixtures.
The budget is spread over ``rounds`` rounds; past them, rounds go on while anything new is
left. A call that got no answer (timeout, lost connection, HTTP 429/5xx) is tried again in a
later round, up to ``retries`` times. It stops early only when nothing new is left, and
`ExploreReport` says why it stopped, which tools it never called for want of a value (with a
ready ``--value`` hint), how many outputs it read as failures the tool did not flag.

Only tools the side-effect policy allows are called (see `select_tools`). Every call becomes
an `Observation`, errors and timeouts included; an observation that is an error (reported or
inferred) is never a value source.

Reruns: every call goes through a `CallRecorder`, which answers it from the cache of earlier
runs when it can and records it the moment it returns. The choices here depend only on the
seed and the recorded results, never on the order calls complete in or the clock: a round's
calls are planned before any of them runs and their results are taken in planned order. So a
run killed half way and started again plans the same calls, finds the finished ones in the
cache and executes only the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from schemas import ArgumentSource, Observation, Tool, call_key

from ._arguments import describe_type, fill_hint, iter_param_schemas, name_words
from ._base import Toolset
from ._call_cache import EXPLORE, CallRecorder, replay_purpose
from ._explore_report import ExploreConfig, ExploredCall, ExploreReport, MissingValue
from ._meaning import arbitrary_item, clock_fields, complete_from_anchor, entity_group, is_modifier, means_it
from ._pool import (
    Leaf,
    PoolValue,
    _changed_fields,
    _Option,
    _ParamOptions,
    _Pool,
    _user_source,
    iter_leaves,
    iter_scalars,
    names_match,
    param_kinds,
    value_kind,
)
from ._side_effects import SkippedTool, select_tools
from .views import warm_up

if TYPE_CHECKING:
    from ._propose import ValueProposer

_RANDOM_MIXTURES = 24

# Re-exported: other modules read outputs and match names through the explorer's module.
__all__ = ["ExploreConfig", "ExploreReport", "ExploredCall", "Explorer", "Leaf", "MissingValue", "PoolValue",
           "SkippedTool", "iter_leaves", "iter_scalars", "names_match", "param_kinds", "select_tools", "value_kind"]


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _slips(arguments: Mapping[str, Any], tool: Tool, rng: random.Random) -> list[tuple[str, dict[str, Any], str]]:
    """(parameter, slipped arguments, how) for each realistic slip of one user argument."""
    out: list[tuple[str, dict[str, Any], str]] = []
    for param, value in sorted(arguments.items()):
        if not isinstance(value, str):
            continue
        if (m := _ISO_DATE.match(value)) is not None:  # another way people write a date
            out.append((param, {**arguments, param: f"{m.group(2)}/{m.group(3)}/{m.group(1)}"}, "probe-format"))
        elif len(value) >= 4:
            # Swap two neighbouring characters that differ ("ord-1001": not the two zeros).
            spots = [i for i in range(1, len(value) - 2) if value[i] != value[i + 1]]
            if spots:
                i = rng.choice(spots)
                typo = value[:i] + value[i + 1] + value[i] + value[i + 2:]
                out.append((param, {**arguments, param: typo}, "probe-typo"))
    required = [p for p in tool.input_schema.get("required") or [] if p in arguments]
    defaults = {p for p, s in (tool.input_schema.get("properties") or {}).items()
                if isinstance(s, Mapping) and "default" in s}
    for param in required:
        if param not in defaults and len(arguments) > 1:  # a field left out
            out.append((param, {k: v for k, v in arguments.items() if k != param}, "probe-missing"))
    return out


def _sibling_stem(name: str) -> str:
    """'band2' -> 'band', 'cidr_b' -> 'cidr', 'value_2' -> 'value': numbered or lettered siblings."""
    words = name_words(name)
    while words and (words[-1].isdigit() or (len(words) > 1 and len(words[-1]) == 1)):
        words = words[:-1]
    return "_".join(words)


class _ToolPlan:
    """The argument combinations one tool may still be called with."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        params = list(iter_param_schemas(tool.input_schema))
        self.required = [p for p, _, req in params if req]
        self.optional = [p for p, _, req in params if not req]
        self.static_iter: Iterator[dict[str, _Option]] | None = None
        self.static_version = -1
        self.static_done = False
        self.used_pool: set[tuple[str, int]] = set()  # (param, id of the pool value) already tried


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
        self.report = ExploreReport(budget=config.max_calls)
        self._seen_keys: set[str] = set()
        self._depth: dict[str, int] = {}
        self._semaphores = {name: asyncio.Semaphore(config.concurrency) for name in toolsets}
        self._param_options: dict[tuple[str, str, str], _ParamOptions] = {}
        self._plans: dict[tuple[str, str], _ToolPlan] = {(t.toolset, t.name): _ToolPlan(t) for t in self.tools}
        self._obs_tool: dict[str, str] = {}  # observation id -> tool that produced it
        self._observations: dict[str, Observation] = {}  # id -> observation: an anchor's whole output
        self._edge_counts: Counter[tuple[str, str]] = Counter()  # (from tool, to tool) -> calls
        self._tool_calls: Counter[str] = Counter()
        self._retry: list[tuple[Tool, dict[str, Any], dict[str, ArgumentSource], dict[str, PoolValue]]] = []
        self._attempts: Counter[str] = Counter()
        self.proposer = proposer
        self._proposed: set[tuple[str, str, str]] = set()
        self._siblings_done: set[tuple[str, str]] = set()
        warm_up()  # the unit registry text views may need loads while the first calls run

    # -- argument choice -------------------------------------------------
    def _options_object(self, tool: Tool, param: str, schema: Mapping[str, Any]) -> _ParamOptions:
        key = (tool.toolset, tool.name, param)
        opts = self._param_options.get(key)
        if opts is None:
            seeds = [*self.config.values.get(param, ())]
            seeds += [v for v in self.config.toolset_values.get(tool.toolset, {}).get(param, ()) if v not in seeds]
            sole = len(tool.input_schema.get("properties") or {}) == 1
            opts = self._param_options[key] = _ParamOptions(param, schema if isinstance(schema, Mapping) else {},
                                                           seeds, tool.description, sole)
        return opts

    def _options(self, tool: Tool, param: str, schema: Mapping[str, Any]) -> list[_Option]:
        return self._options_object(tool, param, schema).refresh(self.pool)

    def _borrow_from_siblings(self, tool: Tool) -> None:
        """A parameter with no static value takes its numbered sibling's (band2 from band1)."""
        if (tool.toolset, tool.name) in self._siblings_done:
            return
        self._siblings_done.add((tool.toolset, tool.name))
        props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
        objs = {p: self._options_object(tool, p, props[p]) for p in props}
        for p, opts in objs.items():
            if opts.static:
                continue
            stem = _sibling_stem(p)
            for q, other in objs.items():
                if q != p and other.static and stem and _sibling_stem(q) == stem:
                    opts.add_static([v for v, _, _ in other.static], "sibling-example")
                    break

    def _static_options(self, tool: Tool) -> dict[str, list[_Option]]:
        props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
        return {p: self._options_object(tool, p, props[p]).static for p in sorted(props)}

    def _static_combos(self, plan: _ToolPlan) -> Iterator[dict[str, _Option]]:
        """Combinations of user-side values: a base, each parameter varied in turn, optional
        parameters added one at a time, then seeded random mixtures.

        Entity parameters of one group (latitude, longitude and timezone of one place) vary
        together, the i-th value of each: values a schema or a seed list gives side by side
        describe one thing (Paris's latitude never goes with New York's longitude)."""
        opts = self._static_options(plan.tool)
        required = plan.required
        if any(not opts.get(p) for p in required):
            return
        props: Mapping[str, Any] = plan.tool.input_schema.get("properties") or {}
        groups: dict[str, list[str]] = defaultdict(list)
        for p in required:
            schema = props.get(p)
            if not is_modifier(p, schema if isinstance(schema, Mapping) else {}):
                groups[entity_group(p)].append(p)
        joint = [g for g in groups.values() if len(g) > 1]
        together = {p for g in joint for p in g}
        # Parameters offered the same values (from_unit/to_unit) start on different ones.
        offset: Counter[str] = Counter()
        base: dict[str, _Option] = {}
        for p in required:
            sig = repr([v for v, _, _ in opts[p]])
            base[p] = opts[p][0 if p in together else offset[sig] % len(opts[p])]
            offset[sig] += 1
        yield dict(base)
        longest = max((len(opts[p]) for p in required), default=0)
        for i in range(1, longest):
            for group in joint:
                yield {**base, **{p: opts[p][i % len(opts[p])] for p in group}}
            for p in required:
                if p not in together and i < len(opts[p]):
                    yield {**base, p: opts[p][i]}
        for p in plan.optional:
            for option in opts.get(p, [])[:6]:
                if option[1].how != "schema-default":
                    yield {**base, p: option}
        rng = random.Random(f"{self.config.seed}:{plan.tool.toolset}:{plan.tool.name}")
        for _ in range(_RANDOM_MIXTURES):
            combo = {p: rng.choice(opts[p]) for p in required if p not in together}
            for group in joint:
                i = rng.randrange(max(len(opts[p]) for p in group))
                combo.update({p: opts[p][i % len(opts[p])] for p in group})
            for p in plan.optional:
                if opts.get(p) and rng.random() < 0.3:
                    combo[p] = rng.choice(opts[p])
            yield combo

    def _next_static(self, plan: _ToolPlan) -> dict[str, _Option] | None:
        version = sum(self._options_object(plan.tool, p, s).version
                      for p, s, _ in iter_param_schemas(plan.tool.input_schema))
        if plan.static_iter is None or version != plan.static_version:
            plan.static_iter = self._static_combos(plan)
            plan.static_version = version
            plan.static_done = False
        if plan.static_done:
            return None
        combo = next(plan.static_iter, None)
        if combo is None:
            plan.static_done = True
        return combo

    def _next_pooled(self, plan: _ToolPlan) -> dict[str, _Option] | None:
        """Arguments where at least one parameter takes a pool value not yet tried for it.

        One earlier observation is the anchor and supplies every parameter it can (latitude
        *and* longitude of the same place); among anchors that fill the most parameters, the one
        whose tool -> this tool edge was walked least. The rest of the call must keep the
        anchor's meaning (`generators._meaning.complete_from_anchor`): its entity from the
        anchor, units as recorded, modifiers from the user's side, never another output's value.
        """
        tool = plan.tool
        props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
        options = {p: self._options(tool, p, props[p]) for p in sorted(props)}
        cover: dict[str, dict[str, _Option]] = defaultdict(dict)
        for param, opts in options.items():
            for opt in opts:
                pv = opt[2]
                if pv is None or (param, id(pv)) in plan.used_pool or param in cover[pv.observation_id]:
                    continue
                if not means_it(pv, self._source_tool(pv), tool, param):
                    continue  # a generic name ("year") from an unrelated source
                # one output value fills one parameter: no "from X to X"
                if all(o[2] is not pv for o in cover[pv.observation_id].values()):
                    cover[pv.observation_id][param] = opt
        validators = {p: self._options_object(tool, p, props[p]).validator for p in props}
        while cover:
            best = max(len(v) for v in cover.values())
            fullest = sorted(oid for oid, v in cover.items() if len(v) == best)
            fewest = min(self._edge_counts[(self._obs_tool.get(o, ""), tool.name)] for o in fullest)
            anchor = self.rng.choice(
                [o for o in fullest if self._edge_counts[(self._obs_tool.get(o, ""), tool.name)] == fewest])
            anchored = {p: o for p, o in cover.pop(anchor).items()
                        if o[2] is None or not arbitrary_item(o[2], self._source_tool(o[2]),
                                                              self._observations.get(anchor))}
            if not anchored:
                continue
            for param, opt in anchored.items():
                plan.used_pool.add((param, id(opt[2])))
            combo = complete_from_anchor(tool, plan.required, anchored, options, self._observations.get(anchor),
                                         self._source_tool, validators)
            if combo is not None:
                return combo
            self.report.meaning_refused += 1
        return None

    def _source_tool(self, pv: PoolValue) -> Tool | None:
        plan = self._plans.get((pv.toolset, pv.tool))
        return plan.tool if plan is not None else None

    def _propose(self, tool: Tool, prefer_pool: bool) -> tuple[dict[str, Any], dict[str, ArgumentSource], dict[str, PoolValue]] | None:
        """Arguments for one new call of ``tool``, or None when nothing new is left for it."""
        plan = self._plans[(tool.toolset, tool.name)]
        order = (self._next_pooled, self._next_static) if prefer_pool else (self._next_static, self._next_pooled)
        for source in order:
            while True:
                combo = source(plan)
                if combo is None:
                    break
                args = {p: o[0] for p, o in combo.items()}
                key = call_key(tool.toolset, self.toolsets[tool.toolset].version, tool.name, args)
                if key in self._seen_keys:
                    continue
                sources = {p: o[1] for p, o in combo.items()}
                parents = {p: o[2] for p, o in combo.items() if o[2] is not None}
                return args, sources, parents
        return None

    # -- execution ---------------------------------------------------------
    async def _execute(self, tool: Tool, args: dict[str, Any]) -> tuple[Observation, bool]:
        """One call, answered from the cache of earlier runs or executed and recorded at once;
        with whether it got no answer at all (transient)."""
        return await self.recorder.call_outcome(
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

    def _gone(self, tool: Tool) -> bool:
        """The tool's server died during the run: none of its tools is called again."""
        return bool(getattr(self.toolsets[tool.toolset], "gone", None))

    def _reserved(self) -> int:
        """Calls kept for the end: error probes and volatility repeats."""
        return self.config.error_probes + min(self.config.volatility_probes, self.config.max_calls // 10)

    def _budget_left(self) -> int:
        return self.config.max_calls - self._reserved() - len(self.calls)  # probes keep theirs

    async def run_round(self, round_index: int) -> list[ExploredCall]:
        """One round: retries first, then up to a share of the budget of new calls per tool,
        executed concurrently."""
        await self._ask_proposer()
        for tool in self.tools:
            self._borrow_from_siblings(tool)
        planned: list[tuple[Tool, dict[str, Any], dict[str, ArgumentSource], dict[str, PoolValue]]] = []
        budget = self._budget_left()
        retries, self._retry = [r for r in self._retry if not self._gone(r[0])], []
        planned += retries[:max(budget, 0)]
        live = [t for t in self.tools if not self._gone(t)]
        rounds_left = max(self.config.rounds - round_index, 1)
        share = math.ceil(max(budget - len(planned), 0) / (rounds_left * max(len(live), 1)))
        per_tool = max(self.config.calls_per_tool_per_round, share)
        # Tools called least so far go first, so a tight budget still covers every tool.
        order = self.rng.sample(live, len(live))
        for tool in sorted(order, key=lambda t: self._tool_calls[t.name]):
            made = 0
            while made < per_tool and len(planned) < budget:
                proposal = self._propose(tool, prefer_pool=round_index > 0 or made % 2 == 1)
                if proposal is None:
                    break
                args, sources, parents = proposal
                self._seen_keys.add(call_key(tool.toolset, self.toolsets[tool.toolset].version, tool.name, args))
                planned.append((tool, args, sources, parents))
                made += 1
        results = await asyncio.gather(*(self._execute(t, a) for t, a, _, _ in planned))
        new_calls = []
        for (tool, args, sources, parents), (obs, transient) in zip(planned, results, strict=True):
            self._obs_tool[obs.observation_id] = tool.name
            self._observations.setdefault(obs.observation_id, obs)
            self._tool_calls[tool.name] += 1
            key = obs.call_key
            if transient:
                self._attempts[key] += 1
                if self._attempts[key] <= self.config.retries:
                    self._retry.append((tool, args, sources, parents))
                    self.report.retried += 1
                else:
                    self.report.still_failing += 1
            if obs.error_inferred:
                self.report.inferred_errors[f"{obs.toolset}.{obs.tool}"] += 1
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
        """Rounds until the budget is spent or nothing new is left, then the error probes."""
        r = 0
        while True:
            if self._budget_left() <= 0:
                self.report.stop = f"the call budget is spent ({self.config.max_calls} calls)"
                break
            new = await self.run_round(r)
            r += 1
            if on_round is not None:
                on_round(r - 1, new)
            if not new and not self._retry:
                self.report.stop = "nothing new to try: every argument combination found was called"
                break
        self.report.rounds = r
        repeats = min(self.config.volatility_probes, self.config.max_calls // 10)
        if repeats:
            await self.probe_volatility(repeats)
        if self.config.error_probes:
            probes = await self.probe_errors(self.config.error_probes)
            if on_round is not None:
                on_round(r, probes)
        self.report.calls = len(self.calls) + self.report.repeats
        self.report.missing = self.missing_values()
        return self.calls

    async def probe_volatility(self, n: int) -> dict[str, list[str]]:
        """Make the first successful call of up to ``n`` tools once more, as replay will, and
        mark the output fields that changed on every call of that tool (``ExploredCall.volatile``).

        The repeat goes through the recorder under the replay's own purpose, so the replay
        stage finds it recorded and does not call again. It waits until the original is at
        least a second old (outputs that change by the second must have had the chance to).
        """
        by_tool: dict[tuple[str, str], list[ExploredCall]] = defaultdict(list)
        for call in self.calls:
            obs = call.observation
            if not obs.is_error and obs.output not in (None, "", [], {}) and not self._gone(self._tool_of(call)):
                by_tool[(obs.toolset, obs.tool)].append(call)
        # One call per tool, the most called tools first; then a second and a third call per tool
        # while n allows (one repeat of a die roll comes back the same one time in six).
        tools = sorted(by_tool, key=lambda k: -self._tool_calls[k[1]])
        ranked = [(k, by_tool[k][i]) for i in range(3) for k in tools if i < len(by_tool[k])][:n]
        if not ranked:
            return {}
        self.report.repeats = len(ranked)
        newest = max(c.observation.started_at for _, c in ranked)
        age = (_dt.datetime.now(_dt.UTC) - newest).total_seconds()
        if age < 1.1:
            await asyncio.sleep(1.1 - age)
        results = await asyncio.gather(*(self.recorder.call_outcome(
            c.observation.toolset, self.toolsets[c.observation.toolset], c.observation.tool,
            dict(c.observation.arguments), purpose=replay_purpose(1), timeout=self.config.call_timeout,
            limit=self._semaphores[c.observation.toolset], ahead=True) for _, c in ranked))
        volatile: dict[tuple[str, str], frozenset[str]] = {}
        for (key, call), (again, transient) in zip(ranked, results, strict=True):
            if transient:
                continue
            first = call.observation
            fields = frozenset(["/"]) if again.is_error != first.is_error else _changed_fields(first.output, again.output)
            if fields:
                volatile[key] = volatile.get(key, frozenset()) | fields | clock_fields(first.output, fields)
        if volatile:
            self.calls = [dataclasses.replace(c, volatile=volatile[(c.observation.toolset, c.observation.tool)])
                          if (c.observation.toolset, c.observation.tool) in volatile else c for c in self.calls]
            self.report.volatile = {f"{t}.{name}": sorted(f) for (t, name), f in sorted(volatile.items())}
        return self.report.volatile

    def _tool_of(self, call: ExploredCall) -> Tool:
        return self._plans[(call.observation.toolset, call.observation.tool)].tool

    def missing_values(self) -> list[MissingValue]:
        """Tools never called because a required parameter had no value (with a --value hint)."""
        called = {(c.observation.toolset, c.observation.tool) for c in self.calls}
        out: list[MissingValue] = []
        for tool in self.tools:
            if (tool.toolset, tool.name) in called:
                continue
            for param, schema, required in iter_param_schemas(tool.input_schema):
                if required and not self._options(tool, param, schema):
                    out.append(MissingValue(tool.toolset, tool.name, param, describe_type(schema),
                                            fill_hint(param, schema)))
                    break
        return out

    async def probe_errors(self, n: int) -> list[ExploredCall]:
        """Error paths: repeat up to n successful calls with one realistic slip of the user's own
        value: a typo (two neighbouring characters swapped), a date written another way
        (2013-07-04 as 07/04/2013), or a required argument left out.

        The tool's real reaction (usually an error such as "unknown country 'Frnace'") is
        recorded like any observation; paired with the original call it is error-recovery
        material: a failed call, then the corrected one. A probe is never a value source: a slip
        that happens to succeed gives no values.
        """
        planned: list[tuple[Tool, dict[str, Any], dict[str, ArgumentSource]]] = []
        tools = {(t.toolset, t.name): t for t in self.tools}
        for call in self.rng.sample(self.calls, len(self.calls)):
            obs = call.observation
            if len(planned) >= n or len(self.calls) + len(planned) >= self.config.max_calls:
                break
            if obs.is_error or call.parents or (obs.toolset, obs.tool) not in tools:
                continue
            tool = tools[(obs.toolset, obs.tool)]
            if self._gone(tool):
                continue
            slips = _slips(obs.arguments, tool, self.rng)
            if not slips:
                continue
            param, args, how = self.rng.choice(slips)
            key = call_key(obs.toolset, self.toolsets[obs.toolset].version, obs.tool, args)
            if key in self._seen_keys:
                continue
            self._seen_keys.add(key)
            sources = {p: s for p, s in call.sources.items() if p in args}
            sources[param] = _user_source(how)  # a left-out argument too: it marks the call as a probe
            planned.append((tool, args, sources))
        results = await asyncio.gather(*(self._execute(t, a) for t, a, _ in planned))
        probes = [ExploredCall(o, s, {}, 0) for (_, _, s), (o, _) in zip(planned, results)]
        for p in probes:
            if p.observation.error_inferred:
                self.report.inferred_errors[f"{p.observation.toolset}.{p.observation.tool}"] += 1
        self.calls.extend(probes)
        return probes

