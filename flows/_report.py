"""Terminal output: progress per stage while the run works, a summary at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from ._generate import RunSummary


class Reporter:
    """Progress bars on stderr (so stdout stays clean for data), one per stage."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]·[/dim] {text}")

    @contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda _n: None
            return
        with Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=False,
        ) as progress:
            task = progress.add_task(name, total=max(total, 1))
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                progress.update(task, completed=min(done, max(total, 1)))

            yield advance
            progress.update(task, completed=max(total, 1), total=max(done, total, 1))


def render_summary(summary: RunSummary, db: str) -> str:
    """The end-of-run summary, plain text, with the next commands to try."""
    v = summary.version
    sc = summary.status_counts
    lines = [
        "",
        f"Run {summary.run_id[:12]} on dataset {summary.dataset!r} ({summary.seconds:.1f} s)",
        f"  tool calls     {summary.calls} ({summary.call_errors} errors) over {summary.tools_called} tools",
    ]
    if summary.skipped:
        lines.append(f"  skipped tools  {len(summary.skipped)}: " + "; ".join(
            f"{s.tool} ({s.reason})" for s in summary.skipped[:5]))
    lines += [
        f"  tool graph     {summary.edges_confirmed} edges confirmed by execution",
        f"  chains         {summary.traces} traces, {summary.multi_step} with two or more steps",
        f"  tasks written  {summary.tasks_written}",
        f"  accepted       {sc.get('accepted', 0)}   rejected {sc.get('rejected', 0)}"
        f"   judge errors {sc.get('judge_error', 0)}",
    ]
    if summary.kind_counts:
        lines.append("  accepted kinds " + ", ".join(f"{k}: {n}" for k, n in sorted(summary.kind_counts.items())))
    if summary.kinds_short:
        lines.append("  kinds short    " + ", ".join(
            f"{k}: {n} of {summary.kinds_wanted.get(k, 0)} not buildable from this exploration"
            for k, n in sorted(summary.kinds_short.items())))
    if summary.writer_counts:
        lines.append("  accepted by    " + ", ".join(f"{w} writer: {n}" for w, n in sorted(summary.writer_counts.items())))
    if summary.top_reasons:
        lines.append("  top rejection reasons:")
        lines += [f"    {n:>4}  {reason}" for reason, n in summary.top_reasons]
    if summary.volatile_tools:
        lines.append("  volatile tools " + ", ".join(f"{t} ({', '.join(p[:3])})" for t, p in summary.volatile_tools.items()))
    lines.append(f"  models         writer: {summary.models.get('writer')}; judge: {summary.models.get('judge')}")
    if v is not None:
        lines += [
            f"  new version    {v.dataset}@{v.version}  ({v.row_count} rows, content {v.content_hash[:12]})",
            "",
            "Next:",
            f"  backchain sql \"SELECT status, reason, user_request FROM candidates WHERE run_id = '{summary.run_id}'\" --db {db}",
            f"  backchain sql \"SELECT * FROM dataset_rows('{v.dataset}', 'latest')\" --db {db}",
            f"  backchain export {v.dataset}@{v.version} --format trl-sft --out out/{v.dataset}-v{v.version}.jsonl --db {db}",
        ]
    return "\n".join(lines)
