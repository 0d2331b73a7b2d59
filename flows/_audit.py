"""`backchain audit`: which of a version's answers would change if its calls were made today.

Two halves, so the database is not held open while tools are called:

1. ``plan_audit`` (store reads only): resolve DATASET@REF, draw a seeded sample of its examples
   (reservoir sampling over ``Store.iter_examples``, so only the sample is held), and find the
   run that made each one with the config stored with that run (``Store.member_runs``).
2. ``run_audit`` (no store): per distinct stored config, start that run's toolsets the way the
   run did (``_open_toolsets``), re-execute the sampled examples' calls with
   ``validators.audit_examples``, close the toolsets, and collect the results.

An example that cannot be audited (no run recorded for it, a stored config this code no longer
accepts, toolsets that do not start today) is a ``skipped`` result with the reason, never a
silent gap; the audit itself fails only when it cannot run at all (a bad reference, no
database). The CLI renders ``render_audit`` (tables) or ``VersionAudit.to_json`` (``--json``).
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from schemas import ConfigError, Example, ToolsetError, canonical_json
from validators import AuditResult, ToolDrift, audit_examples, summarise_tools

from ._config import RunConfig

if TYPE_CHECKING:
    from store import Store

STATUS_ORDER = ("changed", "drifted", "same", "skipped")


@dataclass(frozen=True)
class _Group:
    """Sampled examples whose runs share one stored config: one set of toolsets serves them."""

    config: dict[str, Any]
    run_ids: tuple[str, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class AuditPlan:
    """What to audit, read from the store: the sample and the run configs to start from."""

    dataset: str
    version: int
    version_id: str
    row_count: int
    seed: int
    groups: tuple[_Group, ...]
    unattributed: tuple[str, ...] = ()

    @property
    def sampled(self) -> int:
        return sum(len(g.examples) for g in self.groups) + len(self.unattributed)


@dataclass
class VersionAudit:
    """The audit of one version: one result per sampled example, drift per tool."""

    dataset: str
    version: int
    version_id: str
    row_count: int
    seed: int
    results: list[AuditResult] = field(default_factory=list)
    tools: list[ToolDrift] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        tally: Counter[str] = Counter(r.status for r in self.results)
        return {status: tally[status] for status in STATUS_ORDER}

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "version": self.version, "version_id": self.version_id,
            "examples": self.row_count, "sampled": len(self.results), "seed": self.seed,
            "counts": self.counts,
            "results": [dataclasses.asdict(r) for r in self.results],
            "tools": [{**dataclasses.asdict(t), "drifted": t.drifted} for t in self.tools],
        }


def _sample(rows: Iterable[tuple[Example, float | None, str]], size: int, seed: int) -> list[Example]:
    """A seeded uniform sample of ``size`` examples, holding only the sample (algorithm R)."""
    rng = random.Random(seed)
    chosen: list[Example] = []
    for seen, (example, _score, _split) in enumerate(rows):
        if seen < size:
            chosen.append(example)
        else:
            j = rng.randint(0, seen)
            if j < size:
                chosen[j] = example
    return sorted(chosen, key=lambda e: e.example_id)


def plan_audit(store: Store, dataset: str, ref: str, *, sample: int = 100, seed: int = 0) -> AuditPlan:
    """Resolve the version, sample its examples and attach each one's run config."""
    if sample < 1:
        raise ConfigError(f"--sample {sample}: audit at least 1 example")
    info = store.resolve(dataset, ref)
    examples = _sample(store.iter_examples(info.version_id), sample, seed)
    runs = store.member_runs(info.version_id)
    by_config: dict[str, tuple[dict[str, Any], list[str], list[Example]]] = {}
    unattributed: list[str] = []
    for example in examples:
        if example.example_id not in runs:
            unattributed.append(example.example_id)
            continue
        run_id, config = runs[example.example_id]
        entry = by_config.setdefault(canonical_json(config), (config, [], []))
        if run_id not in entry[1]:
            entry[1].append(run_id)
        entry[2].append(example)
    groups = tuple(
        _Group(config, tuple(run_ids), tuple(group)) for config, run_ids, group in by_config.values()
    )
    return AuditPlan(
        dataset=info.dataset, version=info.version, version_id=info.version_id,
        row_count=info.row_count, seed=seed, groups=groups, unattributed=tuple(unattributed),
    )


async def run_audit(plan: AuditPlan, *, allow_writes: bool = False) -> VersionAudit:
    """Re-execute the plan's examples against toolsets started from their runs' configs."""
    from ._generate import _open_toolsets

    results = [
        AuditResult.skipped(eid, "no run is recorded for this example, so its toolsets are unknown")
        for eid in plan.unattributed
    ]
    for group in plan.groups:
        runs = ", ".join(r[:12] for r in group.run_ids)
        try:
            config = RunConfig.model_validate(group.config)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            results.extend(_skip_all(group.examples, (
                f"the config stored with run {runs} is not valid today ({where}: {first['msg']})")))
            continue
        async with AsyncExitStack() as stack:
            try:
                toolsets = await _open_toolsets(config, stack)
            except ToolsetError as exc:
                results.extend(_skip_all(group.examples, f"toolsets of run {runs} do not start today: {exc}"))
                continue
            results.extend(await audit_examples(
                group.examples, toolsets, timeout=config.call_timeout,
                concurrency=config.concurrency, allow_writes=allow_writes,
            ))
    results.sort(key=lambda r: r.example_id)
    return VersionAudit(
        dataset=plan.dataset, version=plan.version, version_id=plan.version_id,
        row_count=plan.row_count, seed=plan.seed, results=results, tools=summarise_tools(results),
    )


def _skip_all(examples: Sequence[Example], reason: str) -> list[AuditResult]:
    return [AuditResult.skipped(e.example_id, reason) for e in examples]


def render_audit(audit: VersionAudit) -> str:
    """The report as text: one row per example (drift first), then drift per tool."""
    buf = io.StringIO()
    out = Console(file=buf, width=160, force_terminal=False)
    examples = Table("example", "status", "calls", "reason", title="examples")
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    for r in sorted(audit.results, key=lambda r: (rank[r.status], r.example_id)):
        chain = ">".join(d.tool for d in r.calls) or "-"
        examples.add_row(r.example_id[:12], r.status, chain, r.reason[:120])
    out.print(examples)
    tools = Table("toolset", "tool", "calls", "changed", "now_error", "now_ok", "unavailable",
                  title="drift per tool (distinct calls)")
    for t in audit.tools:
        tools.add_row(t.toolset, t.tool, *(str(n) for n in (t.calls, t.changed, t.now_error,
                                                              t.now_ok, t.unavailable)))
    out.print(tools)
    counts = audit.counts
    out.print(
        f"{audit.dataset}@{audit.version}: audited {len(audit.results)} of {audit.row_count} "
        f"examples (seed {audit.seed}): {counts['changed']} answers would change today, "
        f"{counts['drifted']} drifted elsewhere, {counts['same']} same, {counts['skipped']} skipped",
        highlight=False, soft_wrap=True,
    )
    return buf.getvalue()
