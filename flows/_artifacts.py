"""Prefect artifacts for a finished generate run: a table of counts and a markdown report.

Both carry the run's accounting (time, model requests and tokens per stage and
endpoint, tool calls per toolset), the same numbers the run_stages view holds.

Created at the end of the `generate` flow only, so they land on that flow run
in the Prefect UI (Artifacts tab) and under a stable key per dataset, whose
history shows the runs side by side. `run_pipeline` called without Prefect
creates none: this module is imported only inside the flow.

Keys are lowercase letters, digits and dashes (Prefect refuses others):
``backchain-<dataset>-counts`` and ``backchain-<dataset>-report``, the dataset
name lowercased with every other character turned into a dash.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._summary import RunSummary


def artifact_key(dataset: str, what: str) -> str:
    """``backchain-<dataset>-<what>`` in Prefect's key alphabet."""
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-") or "dataset"
    return f"backchain-{slug}-{what}"


def count_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per count: stage, metric, value; rejection reasons last (metric = the reason)."""
    rows: list[dict[str, Any]] = [
        {"stage": "explore", "metric": "calls", "value": summary.calls},
        {"stage": "explore", "metric": "call errors", "value": summary.call_errors},
        {"stage": "explore", "metric": "tools called", "value": summary.tools_called},
        {"stage": "explore", "metric": "tools skipped", "value": len(summary.skipped)},
        {"stage": "graph", "metric": "edges confirmed", "value": summary.edges_confirmed},
        {"stage": "chain", "metric": "traces", "value": summary.traces},
        {"stage": "chain", "metric": "multi-step traces", "value": summary.multi_step},
        {"stage": "back-chain", "metric": "tasks written", "value": summary.tasks_written},
    ]
    rows += [{"stage": "judge", "metric": f"status {k}", "value": v} for k, v in sorted(summary.status_counts.items())]
    rows += [{"stage": "commit", "metric": f"kind {k}", "value": v} for k, v in sorted(summary.kind_counts.items())]
    rows += [{"stage": "rejected", "metric": reason, "value": n} for reason, n in summary.top_reasons]
    rows += accounting_rows(summary)
    return rows


def accounting_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """Per stage: seconds, model requests and tokens (per endpoint too), tool calls per toolset."""
    acct = summary.accounting
    if acct is None:
        return []
    rows: list[dict[str, Any]] = []
    for stage, t in acct.totals().items():
        rows.append({"stage": stage, "metric": "seconds", "value": round(t.seconds, 3)})
        if t.model_requests or t.cached_replies:
            rows += [
                {"stage": stage, "metric": "model requests", "value": t.model_requests},
                {"stage": stage, "metric": "cached replies", "value": t.cached_replies},
                {"stage": stage, "metric": "model errors", "value": t.model_errors},
                {"stage": stage, "metric": "tokens in", "value": t.tokens_in},
                {"stage": stage, "metric": "tokens out", "value": t.tokens_out},
            ]
    for (stage, endpoint), (tokens_in, tokens_out) in sorted(acct.tokens_by_endpoint().items()):
        rows += [{"stage": stage, "metric": f"tokens in {endpoint}", "value": tokens_in},
                 {"stage": stage, "metric": f"tokens out {endpoint}", "value": tokens_out}]
    for c in acct.tool_calls:
        rows += [{"stage": c.stage, "metric": f"tool calls {c.toolset}", "value": c.calls},
                 {"stage": c.stage, "metric": f"tool errors {c.toolset}", "value": c.errors},
                 {"stage": c.stage, "metric": f"cached tool calls {c.toolset}", "value": c.cached}]
    return rows


def accounting_markdown(summary: RunSummary) -> list[str]:
    """A table of time, model requests, tokens and tool calls per stage."""
    acct = summary.accounting
    if acct is None:
        return []
    lines = ["## Accounting", "",
             "| stage | seconds | model requests | cached replies | tokens in | tokens out | tool calls "
             "| tool errors | cached tool calls |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for stage, t in acct.totals().items():
        lines.append(f"| {stage} | {t.seconds:.2f} | {t.model_requests} | {t.cached_replies} | {t.tokens_in} | "
                     f"{t.tokens_out} | {t.tool_calls} | {t.tool_errors} | {t.cached_tool_calls} |")
    return [*lines, ""]


def report_markdown(summary: RunSummary) -> str:
    """The run in a few lines: version, counts, why candidates were rejected, models, time."""
    version = summary.version
    ref = f"{summary.dataset}@{version.version}" if version is not None else f"{summary.dataset} (no version)"
    rows = version.row_count if version is not None else 0
    accepted = summary.status_counts.get("accepted", 0)
    total = sum(summary.status_counts.values())
    lines = [
        f"# backchain run `{summary.run_id[:12]}`: {ref}",
        "",
        f"- **{rows}** rows sealed; {accepted} of {total} candidates accepted",
        f"- {summary.calls} tool calls ({summary.call_errors} errors) over {summary.tools_called} tools; "
        f"{summary.edges_confirmed} edges confirmed",
        f"- {summary.traces} traces ({summary.multi_step} multi-step), {summary.tasks_written} tasks written",
        f"- writer: {summary.models.get('writer', '?')}; judge: {summary.models.get('judge', '?')}",
        f"- {summary.seconds:.1f} s",
        "",
    ]
    if summary.top_reasons:
        lines += ["## Rejection reasons", "", "| reason | candidates |", "|---|---|"]
        lines += [f"| {reason.replace('|', '/')} | {n} |" for reason, n in summary.top_reasons]
        lines.append("")
    lines += accounting_markdown(summary)
    if summary.skipped:
        lines += ["## Tools not called", ""] + [f"- {s.toolset}.{s.tool}: {s.reason}" for s in summary.skipped]
        lines.append("")
    lines.append(f"Query it: `backchain sql \"SELECT * FROM run_stages WHERE run_id = '{summary.run_id}'\"`")
    if version is not None:
        lines.append(f"Report: `backchain report {summary.dataset}@{version.version} --out report.html`")
    return "\n".join(lines) + "\n"


async def publish_run_artifacts(summary: RunSummary) -> None:
    """Create the two artifacts on the current flow run (call only inside the flow)."""
    from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

    await acreate_table_artifact(
        table=count_rows(summary), key=artifact_key(summary.dataset, "counts"),
        description=f"Counts and rejection reasons of run {summary.run_id[:12]} ({summary.dataset})",
    )
    await acreate_markdown_artifact(
        markdown=report_markdown(summary), key=artifact_key(summary.dataset, "report"),
        description=f"Run report of {summary.run_id[:12]} ({summary.dataset})",
    )
