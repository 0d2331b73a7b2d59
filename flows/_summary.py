"""What a run returns: ``RunSummary``, the counts `backchain run` prints, the flow returns and the
Prefect artifacts (flows/_artifacts.py) and the terminal summary (flows/_report.py) show.

Its own module so that what reads a summary does not import the pipeline that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generators import ExploreReport, SkippedTool
from schemas import VersionInfo

from ._accounting import RunAccounting


@dataclass
class RunSummary:
    """What `backchain run` prints at the end, and the flow returns."""

    run_id: str
    dataset: str
    version: VersionInfo | None
    calls: int = 0
    call_errors: int = 0
    tools_called: int = 0
    edges_confirmed: int = 0
    skipped: list[SkippedTool] = field(default_factory=list)
    traces: int = 0
    multi_step: int = 0
    tasks_written: int = 0
    kinds_wanted: dict[str, int] = field(default_factory=dict)
    kinds_short: dict[str, int] = field(default_factory=dict)
    kind_counts: dict[str, int] = field(default_factory=dict)
    status_counts: dict[str, int] = field(default_factory=dict)
    writer_counts: dict[str, int] = field(default_factory=dict)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    volatile_tools: dict[str, list[str]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    #: Tool calls and model replies answered from earlier runs (a resumed or repeated run).
    cached_calls: int = 0
    cached_replies: int = 0
    #: Runs left 'running' by a process that is gone, marked 'interrupted' as this one started.
    interrupted_runs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Stage times, model requests and tool calls of the run (stored per stage as it ends).
    accounting: RunAccounting | None = field(default=None, repr=False)
    #: With task_runner = "dask": the runner, batches spread and distinct workers that ran them.
    scale_out: dict[str, Any] | None = None
    #: What exploration did: why it stopped, tools never called for want of a value, inferred errors.
    exploration: ExploreReport | None = None

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "call_errors": self.call_errors, "tools_called": self.tools_called,
            "edges_confirmed": self.edges_confirmed,
            "skipped_tools": [f"{s.toolset}.{s.tool}: {s.reason}" for s in self.skipped],
            "traces": self.traces, "multi_step": self.multi_step, "tasks_written": self.tasks_written,
            "kinds_wanted": self.kinds_wanted, "kinds_short": self.kinds_short, "kind_counts": self.kind_counts,
            "status_counts": self.status_counts, "writer_counts": self.writer_counts,
            "top_reasons": self.top_reasons, "volatile_tools": self.volatile_tools,
            "cached_calls": self.cached_calls, "cached_replies": self.cached_replies,
            "interrupted_runs": self.interrupted_runs, "scale_out": self.scale_out,
            "exploration": self.exploration.to_json() if self.exploration else None,
            "seconds": round(self.seconds, 3),
        }
