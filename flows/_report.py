"""Terminal output: progress per stage while the run works, a summary at the end.

Progress goes to stderr (stdout stays clean for data): one bar per stage with
done/total, rate, elapsed time and ETA; the judge stage shows a second bar,
judge leaves, which the judge advances per question. ``quiet`` shows nothing.
On a console that is not a terminal rich draws no live bars.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from ._accounting import RunAccounting
    from ._generate import RunSummary

Advance = Callable[[int], None]


def _noop(_n: int) -> None:
    return None


class RateColumn(ProgressColumn):
    """Items per second (per minute when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("    -/s", style="progress.data.speed")
        if speed < 1:
            return Text(f"{speed * 60:5.1f}/min", style="progress.data.speed")
        return Text(f"{speed:5.1f}/s", style="progress.data.speed")


def judge_leaf_count(rubric: Any) -> int:
    """How many judge questions a rubric asks of one example (at most: gates may skip some)."""
    def count(node: Any) -> int:
        if not node.children:
            return 1 if node.question is not None else 0
        return sum(count(child) for child in node.children)

    return count(rubric.root)


class Reporter:
    """Progress bars on stderr (so stdout stays clean for data), one per stage."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None, heartbeat: float = 15.0) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.heartbeat = heartbeat

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]·[/dim] {text}", soft_wrap=True, highlight=False)

    @contextmanager
    def waiting(self, text: str) -> Iterator[None]:
        """While something starts (a server): a spinner with the elapsed time on a terminal;
        elsewhere (a log, CI) a line every ``heartbeat`` seconds, so output never stops for long."""
        if self.quiet:
            yield
            return
        if self.console.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=self.console, transient=True) as progress:
                progress.add_task(text, total=None)
                yield
            return
        done = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not done.wait(self.heartbeat):
                self.note(f"{text}: {time.monotonic() - started:.0f} s")

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    @contextmanager
    def stage(self, name: str, total: int) -> Iterator[Advance]:
        """One bar; yields ``advance(n)``."""
        with self.stages((name, total)) as (advance,):
            yield advance

    @contextmanager
    def stages(self, *bars: tuple[str, int]) -> Iterator[tuple[Advance, ...]]:
        """Bars shown together, one ``advance(n)`` each; a bar with total 0 is not shown.

        When the stage ends every bar shows what was done (a budget not used up,
        judge leaves a failed gate skipped), not the total it started with.
        """
        if self.quiet:
            yield tuple(_noop for _ in bars)
            return
        with Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=False,
        ) as progress:
            done: list[int] = [0] * len(bars)
            ids = [progress.add_task(name, total=max(total, 1)) if total > 0 else None for name, total in bars]

            def advancer(i: int) -> Advance:
                task_id = ids[i]
                if task_id is None:
                    return _noop

                def advance(n: int) -> None:
                    done[i] += n
                    progress.update(task_id, completed=done[i], total=max(bars[i][1], done[i], 1))

                return advance

            # Not a terminal (a log, CI): rich draws no live bars, so a line every heartbeat.
            stop = threading.Event()
            started = time.monotonic()

            def beat() -> None:
                while not stop.wait(self.heartbeat):
                    self.note(", ".join(f"{name}: {done[i]}/{max(total, done[i])}"
                                        for i, (name, total) in enumerate(bars) if total > 0)
                              + f" ({time.monotonic() - started:.0f} s)")

            thread = threading.Thread(target=beat, daemon=True)
            if not self.console.is_terminal:
                thread.start()
            try:
                yield tuple(advancer(i) for i in range(len(bars)))
            finally:
                stop.set()
                if thread.is_alive():
                    thread.join()
            for i, task_id in enumerate(ids):
                if task_id is not None:
                    # A new total resets rich's speed samples: keep the rate the stage ran at.
                    task = next(t for t in progress.tasks if t.id == task_id)
                    speed = task.finished_speed or task.speed
                    progress.update(task_id, total=max(done[i], 1), completed=done[i])
                    task.finished_speed = speed


def render_summary(summary: RunSummary, db: str) -> str:
    """The end-of-run summary, plain text, with the next commands to try."""
    v = summary.version
    sc = summary.status_counts
    lines = [
        "",
        f"Run {summary.run_id[:12]} on dataset {summary.dataset!r} ({summary.seconds:.1f} s)",
        f"  tool calls     {summary.calls} ({summary.call_errors} errors) over {summary.tools_called} tools",
    ]
    if summary.cached_calls or summary.cached_replies:
        lines.append(f"  resumed        {summary.cached_calls} cached tool calls and {summary.cached_replies} "
                     "cached model replies from earlier runs (--refresh makes them again)")
    if summary.scale_out:
        so = summary.scale_out
        lines.append(f"  scale-out      {so['batches']} batches on {so['workers']} Dask workers ({so['address']})")
    if summary.skipped:
        lines.append(f"  skipped tools  {len(summary.skipped)}: " + "; ".join(
            f"{s.tool} ({s.reason})" for s in summary.skipped[:5]))
    if summary.exploration is not None:
        lines += [f"  exploration    {line}" for line in summary.exploration.lines()]
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
    if summary.accounting is not None:
        lines += accounting_lines(summary.accounting)
    if v is not None:
        lines += [
            f"  new version    {v.dataset}@{v.version}  ({v.row_count} rows, content {v.content_hash[:12]})",
            "",
            "Next:",
            f"  backchain sql \"SELECT status, reason, user_request FROM candidates WHERE run_id = '{summary.run_id}'\" --db {db}",
            f"  backchain sql \"SELECT * FROM dataset_rows('{v.dataset}', 'latest')\" --db {db}",
            f"  backchain report {v.dataset}@{v.version} --out report.html --db {db}",
            f"  backchain export {v.dataset}@{v.version} --format trl-sft --out out/{v.dataset}-v{v.version}.jsonl --db {db}",
        ]
    return "\n".join(lines)


def accounting_lines(accounting: RunAccounting) -> list[str]:
    """Wall time per stage and model tokens per stage, for the end-of-run summary."""
    totals = accounting.totals()
    lines = ["  time per stage " + ", ".join(f"{name} {t.seconds:.1f} s" for name, t in totals.items())]
    used = [(name, t) for name, t in totals.items() if t.model_requests or t.cached_replies]
    if used:
        lines.append("  model tokens   " + "; ".join(
            f"{name} {t.tokens_in} in / {t.tokens_out} out ({t.model_requests} requests"
            + (f", {t.cached_replies} cached" if t.cached_replies else "")
            + (f", {t.model_errors} failed" if t.model_errors else "") + ")"
            for name, t in used))
    return lines
