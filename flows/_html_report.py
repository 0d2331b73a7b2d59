"""`backchain report DATASET@REF --out report.html`: one self-contained HTML page.

Examples first: a summary (rows, kinds, acceptance, top rejection reasons) and sampled
accepted and rejected rows as conversations (flows/_html_samples.py), then how the version
was made (coverage, chains, kinds, scores, leaves, rejections, time and tokens, latency,
runs, human review) and last the version's facts.

Every number on the page comes from the store's report macros
(``report_summary(dataset, ref)``, ``report_samples``, ``report_runs``, ``report_stages``,
... ; see store/_report.py and store/_accounting.py), called once each through
`Store.report_tables`: the page and ``backchain sql`` cannot disagree. Each section shows
the SQL that gives its table.

Self-contained: styles inline, charts hand-drawn inline SVG, no script, no
link, no font, no image file. Table cells carry the exact value in
``data-value`` (JSON) beside the rounded text, so the page can be checked
against the SQL by a program.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._html_samples import STYLE as SAMPLE_STYLE
from ._html_samples import samples_html, summary_html
from ._json import jsonable

Table = tuple[list[str], list[tuple[Any, ...]]]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table.data { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
table.data th, table.data td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data th { background: #f4f4f4; }
div.scroll { overflow-x: auto; max-width: 100%; }
h2.part { margin-top: 2.5em; font-size: 1.3em; color: #444; border-bottom: 2px solid #bbb; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; font-family: monospace; word-break: break-all; }
code.sql { display: block; color: #555; font-size: 12px; margin: .3em 0; }
p.empty { color: #888; font-style: italic; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""

_COLORS = ("#4878a8", "#e08a3c", "#5aa469", "#c8524b", "#8a6bb8")


def display(value: Any) -> str:
    """The text a cell shows: floats to 3 significant decimals, times to the second."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{value:.1f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def html_table(name: str, table: Table) -> str:
    """A table whose id is the macro's name; numeric cells right-aligned, exact values in data-value."""
    columns, rows = table
    if not rows:
        return f'<p class="empty" id="{_esc(name)}">none</p>'
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            data = _esc(json.dumps(jsonable(value), ensure_ascii=False))
            cls = ' class="num"' if numeric else ""
            cells.append(f'<td{cls} data-value="{data}">{_esc(display(value))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="data" id="{_esc(name)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              unit: str = "", *, stacked: bool = False) -> str:
    """Horizontal bars as inline SVG: per label one bar per series, or one bar of stacked series."""
    values = [float(v or 0) for _, vs in series for v in vs]
    if not labels or not values or max(values) <= 0:
        return ""
    sums = [sum(float(vs[i] or 0) for _, vs in series) for i in range(len(labels))]
    top = max(sums) if stacked else max(values)
    label_w, chart_w, bar_h, gap = 230, 480, 14, 8
    rows_per_group = 1 if stacked else len(series)
    group_h = bar_h * rows_per_group + gap
    legend_h = 18 if len(series) > 1 else 0
    height = 22 + legend_h + group_h * len(labels)
    parts = [f'<svg role="img" font-family="sans-serif" font-size="11" width="{label_w + chart_w + 90}" '
             f'height="{height}" aria-label="{_esc(title)}">',
             f'<text x="2" y="14" font-weight="600">{_esc(title)}</text>']
    if len(series) > 1:
        x = float(label_w)
        for k, (name, _) in enumerate(series):
            parts.append(f'<rect x="{x}" y="22" width="10" height="10" fill="{_COLORS[k % len(_COLORS)]}"/>')
            parts.append(f'<text x="{x + 14}" y="31">{_esc(name)}</text>')
            x += 28 + 8 * len(name)
    y0 = 22 + legend_h
    for i, label in enumerate(labels):
        y = y0 + i * group_h
        short = label if len(label) <= 34 else "…" + label[-33:]
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h * rows_per_group / 2 + 4:.1f}" '
                     f'text-anchor="end"><title>{_esc(label)}</title>{_esc(short)}</text>')
        if stacked:
            x = float(label_w)
            for k, (name, vs) in enumerate(series):
                w = chart_w * float(vs[i] or 0) / top
                if w > 0:
                    parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                                 f'fill="{_COLORS[k % len(_COLORS)]}"><title>{_esc(name)}: '
                                 f'{_esc(display(vs[i]))}</title></rect>')
                x += w
            parts.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 4}">'
                         + _esc(" / ".join(display(vs[i]) for _, vs in series)) + "</text>")
            continue
        for k, (_, vs) in enumerate(series):
            v = float(vs[i] or 0)
            w = chart_w * v / top
            by = y + k * bar_h
            parts.append(f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                         f'fill="{_COLORS[k % len(_COLORS)]}"/>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 4}">{_esc(display(vs[i]))}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _column(table: Table, name: str) -> list[Any]:
    columns, rows = table
    i = columns.index(name)
    return [r[i] for r in rows]


def _section(title: str, sql: str, *body: str) -> str:
    return f"<section><h2>{_esc(title)}</h2><code class=\"sql\">{_esc(sql)}</code>{''.join(body)}</section>"


def render_report(meta: dict[str, Any], tables: dict[str, Table]) -> str:
    """The page, from the versions view's row and the report macros' results.

    Order: a one-line header; the summary (``report_summary``, kinds, top rejection reasons);
    sampled accepted and rejected rows as conversations (``report_samples``); then the
    operational sections: coverage, chains, kinds, scores, leaves, rejection reasons, time and
    tokens per stage, model usage, latency, runs, human review; last the version's facts.
    """
    ds, ver = meta["dataset"], meta["version"]
    ref = f"{ds}@{ver}"

    def sql(name: str) -> str:
        quoted = str(ds).replace("'", "''")
        return f"SELECT * FROM {name}('{quoted}', {ver})"

    runs = tables["report_runs"]
    run_ids = _column(runs, "run_id")
    models = meta.get("models") or {}
    facts = [
        ("version", ref), ("version_id", meta["version_id"]), ("content_hash", meta["content_hash"]),
        ("members_hash", meta.get("members_hash")), ("rows", meta["row_count"]),
        ("created_at", display(meta["created_at"])), ("operation", meta.get("operation")),
        ("message", meta.get("message")), ("tags", ", ".join(meta.get("tags") or []) or "–"),
        ("made by run(s)", ", ".join(run_ids) or "–"),
        ("models", "; ".join(f"{k}: {v}" for k, v in models.items()) or "–"),
        ("rubric_hash", meta.get("rubric_hash")), ("config_hash", meta.get("config_hash")),
    ]
    meta_html = '<dl class="meta" id="version">' + "".join(
        f"<dt>{_esc(k)}</dt><dd data-key=\"{_esc(k)}\">{_esc(display(v))}</dd>" for k, v in facts) + "</dl>"
    tags = ", ".join(meta.get("tags") or [])
    lede = (f'<p class="lede">{_esc(meta["row_count"])} rows · sealed {_esc(display(meta["created_at"]))}'
            f' by {_esc(meta.get("operation") or "seal")}{" · tags " + _esc(tags) if tags else ""}'
            f' · writer {_esc(models.get("writer", "–"))} · judge {_esc(models.get("judge", "–"))}</p>')

    stages = tables["report_stages"]
    stage_names = [str(s) for s in _column(stages, "stage")]
    kinds, lengths, scores = tables["report_kinds"], tables["report_chain_lengths"], tables["report_scores"]
    leaves, rejections = tables["report_leaves"], tables["report_rejections"]
    coverage, latency = tables["report_tool_coverage"], tables["report_latency"]
    top = [
        summary_html(tables["report_summary"], kinds, rejections, sql("report_summary")),
        samples_html(tables["report_samples"], tables["report_summary"], sql("report_samples")),
    ]
    sections = [
        _section(
            "Tool coverage", sql("report_tool_coverage"),
            bar_chart("tools per toolset", [str(t) for t in _column(coverage, "toolset")],
                      [("recorded", _column(coverage, "tools")), ("called", _column(coverage, "tools_called")),
                       ("in version", _column(coverage, "tools_in_version"))]),
            html_table("report_tool_coverage", coverage),
        ),
        _section("Edge coverage", sql("report_edges"), html_table("report_edges", tables["report_edges"])),
        _section(
            "Chain length", sql("report_chain_lengths"),
            bar_chart("examples by number of steps", [f"{n} steps" for n in _column(lengths, "steps")],
                      [("examples", _column(lengths, "examples"))]),
            html_table("report_chain_lengths", lengths),
        ),
        _section(
            "Task kinds", sql("report_kinds"),
            bar_chart("examples by kind", [str(k) for k in _column(kinds, "kind")],
                      [("examples", _column(kinds, "examples"))]),
            html_table("report_kinds", kinds),
        ),
        _section(
            "Scores", sql("report_scores"),
            bar_chart("score distribution", [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(_column(scores, "lower"),
                                                                                   _column(scores, "upper"))],
                      [("members", _column(scores, "members")), ("candidates", _column(scores, "candidates"))]),
            html_table("report_scores", scores),
        ),
        _section(
            "Rubric leaves", sql("report_leaves"),
            bar_chart("verdicts per leaf", [str(n) for n in _column(leaves, "node_id")],
                      [("passed", _column(leaves, "passed")), ("failed", _column(leaves, "failed")),
                       ("skipped", _column(leaves, "skipped")), ("errors", _column(leaves, "errors"))],
                      stacked=True),
            html_table("report_leaves", leaves),
        ),
        _section(
            "Rejection reasons", sql("report_rejections"),
            bar_chart("rejected candidates by failing leaf",
                      [f"{s}: {leaf}" for s, leaf in zip(_column(rejections, "status"), _column(rejections, "leaf"))],
                      [("candidates", _column(rejections, "candidates"))]),
            html_table("report_rejections", rejections),
        ),
        _section(
            "Time and tokens per stage", sql("report_stages"),
            bar_chart("wall time per stage", stage_names, [("seconds", _column(stages, "seconds"))], " s"),
            bar_chart("model tokens per stage", stage_names,
                      [("tokens in", _column(stages, "tokens_in")), ("tokens out", _column(stages, "tokens_out"))]),
            html_table("report_stages", stages),
        ),
        _section("Model usage per stage and endpoint", sql("report_model_usage"),
                 html_table("report_model_usage", tables["report_model_usage"])),
        _section(
            "Latency percentiles (ms)", sql("report_latency"),
            bar_chart("p50 / p90 / p99 latency (model endpoints, then tools)",
                      [str(n) for n in _column(latency, "name")],
                      [("p50", _column(latency, "p50_ms")), ("p90", _column(latency, "p90_ms")),
                       ("p99", _column(latency, "p99_ms"))], " ms"),
            html_table("report_latency", latency),
        ),
        _section("Runs", sql("report_runs"), html_table("report_runs", runs)),
        *([_section(
            "Human review", sql("report_reviews"),
            bar_chart("grades per reviewer (shares)", [str(r) for r in _column(tables["report_reviews"], "reviewer")],
                      [("natural", _column(tables["report_reviews"], "natural_share")),
                       ("stilted", _column(tables["report_reviews"], "stilted_share")),
                       ("unusable", _column(tables["report_reviews"], "unusable_share"))], stacked=True),
            html_table("report_reviews", tables["report_reviews"]),
        )] if "report_reviews" in tables else []),
        f'<section><h2>Version</h2><code class="sql">SELECT * FROM versions WHERE dataset = '
        f"'{_esc(str(ds).replace(chr(39), chr(39) * 2))}' AND version = {_esc(ver)}</code>{meta_html}</section>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>backchain report {_esc(ref)}</title><style>{_STYLE}{SAMPLE_STYLE}</style></head><body>"
        f"<h1>backchain report: {_esc(ref)}</h1>{lede}{''.join(top)}"
        f'<h2 class="part">How it was made</h2>{"".join(sections)}'
        "</body></html>\n"
    )


def write_report(store: Any, dataset: str, ref: str, out: Path) -> tuple[dict[str, Any], Path]:
    """Render the report of ``dataset@ref`` to ``out``; returns the version's row and the path."""
    meta, tables = store.report_tables(dataset, ref)
    if hasattr(store, "review_report"):  # people's grades (`backchain review`, m010)
        tables["report_reviews"] = store.review_report(meta["dataset"], str(meta["version"]))
    text = render_report(meta, tables)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return meta, out
