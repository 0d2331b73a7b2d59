"""The top of `backchain report`: a summary of the version, then sampled rows as conversations.

The summary's numbers are ``report_summary``'s one row, ``report_kinds`` and the largest groups
of ``report_rejections``; the rows are ``report_samples`` (a seeded sample of accepted and
rejected rows, see store/_report.py). Only the rows' task and trace arrive as JSON: they are
read back into `Task` and `Trace` here, so a tool message shows what the tool said
(`Step.shown()`), as every training format does. Each number keeps its exact value in
``data-value`` (with ``data-macro`` and ``data-column`` naming where it came from), as the
tables below it do.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import ValidationError

from schemas import Step, Task, Trace

from ._json import jsonable

Table = tuple[list[str], list[tuple[Any, ...]]]

# Long tool outputs, arguments and answers are cut, visibly, at about this many characters / lines.
CUT_CHARS = 700
CUT_LINES = 14
TOP_REASONS = 5

STYLE = """
.lede { color: #555; margin: 0 0 1em; }
.stats { display: flex; flex-wrap: wrap; gap: 10px; margin: .8em 0; }
.stat { border: 1px solid #ddd; border-radius: 6px; padding: 4px 10px; min-width: 72px; background: #fafafa; }
.stat b { display: block; font-size: 1.35em; font-variant-numeric: tabular-nums; }
.stat span { color: #666; font-size: 12px; }
.stat.ok b { color: #2e7d32; } .stat.bad b { color: #c62828; } .stat.warn b { color: #b26a00; }
.accbar { display: flex; height: 12px; border-radius: 6px; overflow: hidden; background: #eee; margin: .4em 0 1em; max-width: 640px; }
.accbar .a { background: #5aa469; } .accbar .r { background: #d9534f; } .accbar .j { background: #f0ad4e; }
.chips { margin: .3em 0; } .chip { display: inline-block; background: #eef3f8; border-radius: 10px; padding: 1px 9px; margin: 2px 4px 2px 0; font-size: 12px; }
ol.reasons { margin: .3em 0 0 1.2em; padding: 0; } ol.reasons li { margin: 2px 0; }
ol.reasons .n { font-weight: 600; font-variant-numeric: tabular-nums; } ol.reasons .eg { color: #666; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
article.row { border: 1px solid #d8d8d8; border-radius: 8px; margin: 1em 0; padding: 10px 14px; background: #fff; }
article.row.rejected { border-left: 5px solid #d9534f; } article.row.accepted { border-left: 5px solid #5aa469; }
article.row > header { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; font-size: 13px; color: #555; }
.badge { font-weight: 600; border-radius: 4px; padding: 0 6px; color: #fff; font-size: 12px; }
.badge.accepted { background: #3d8b40; } .badge.rejected { background: #c9302c; } .badge.judge_error { background: #d08a1c; }
.why { background: #fdecea; border: 1px solid #f5c6c3; border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.conv { margin: 8px 0; }
.msg { border-left: 3px solid #ccc; padding: 3px 10px; margin: 6px 0; }
.msg .who { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: #777; }
.msg.user { border-color: #4878a8; background: #f3f7fb; } .msg.assistant { border-color: #8a6bb8; background: #f7f4fb; }
.msg.tool { border-color: #999; background: #f6f6f6; } .msg.tool.error { border-color: #c8524b; background: #fbefee; }
.msg.final { border-color: #3d8b40; background: #f1f8f1; }
.msg pre, .msg code { font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; }
.msg pre { margin: 2px 0; white-space: pre-wrap; word-break: break-word; }
.call { margin: 2px 0; } .call .fn { font-weight: 600; }
.src { color: #777; font-size: 11px; }
.cut { color: #a33; font-weight: 600; }
.expected { color: #555; font-size: 12px; margin-top: 3px; }
table.leaves { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
table.leaves td { padding: 1px 8px 1px 0; vertical-align: top; }
.v { font-weight: 600; } .v.passed { color: #2e7d32; } .v.failed { color: #c62828; } .v.skipped { color: #888; } .v.error { color: #b26a00; }
p.leaflist { font-size: 12px; color: #555; margin: 2px 0; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _value(macro: str, column: str, value: Any, text: str, tag: str = "b") -> str:
    data = _esc(json.dumps(jsonable(value), ensure_ascii=False))
    return (f'<{tag} data-macro="{_esc(macro)}" data-column="{_esc(column)}" data-value="{data}">'
            f"{_esc(text)}</{tag}>")


def _rows(table: Table) -> list[dict[str, Any]]:
    columns, rows = table
    return [dict(zip(columns, r)) for r in rows]


def cut(text: str, chars: int = CUT_CHARS, lines: int = CUT_LINES) -> tuple[str, bool]:
    """``text`` cut to at most ``chars`` characters and ``lines`` lines; whether it was cut."""
    kept = text.split("\n")
    short = "\n".join(kept[:lines])
    if len(short) > chars:
        short = short[:chars]
    return short, short != text


def _pre(text: str, total_label: str = "characters") -> str:
    short, was_cut = cut(text)
    tail = (f'<span class="cut">…</span> <span class="src">({len(text):,} {total_label})</span>'
            if was_cut else "")
    return f"<pre>{_esc(short)}{tail}</pre>"


def _as_text(value: Any) -> str:
    """What a message shows: text as it is, anything else as JSON (see `pretty_json`)."""
    if isinstance(value, str):
        return value
    return pretty_json(value)


def pretty_json(value: Any, width: int = 88, indent: str = "") -> str:
    """JSON with one member per line, but any value that fits in ``width`` on one line kept on one
    line (a list of twenty country codes is one line, not twenty)."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: "
                 f"{pretty_json(v, width, inner).lstrip()}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    items = [inner + pretty_json(v, width, inner).lstrip() for v in value]
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


# -- the summary ------------------------------------------------------------------------------


def _reason(r: dict[str, Any]) -> str:
    n = _value("report_rejections", "candidates", r["candidates"], str(r["candidates"]), "span")
    status = "" if r["status"] == "rejected" else f" ({_esc(r['status'])})"
    example = _esc(cut(str(r["example_reason"]), 160, 1)[0])
    return f'<li><span class="n">{n}</span> × <b>{_esc(r["leaf"])}</b>{status} <span class="eg">e.g. {example}</span></li>'


def summary_html(summary: Table, kinds: Table, rejections: Table, sql: str) -> str:
    """Rows, kinds, acceptance of the run(s) and the top rejection reasons (by failing leaf)."""
    [s] = _rows(summary) or [{}]
    if not s:
        return ""
    m = "report_summary"

    def stat(column: str, label: str, cls: str = "", text: str | None = None) -> str:
        value = s.get(column)
        shown = text if text is not None else ("–" if value is None else f"{value:,}" if isinstance(value, int)
                                               else f"{value:.3f}")
        return f'<div class="stat {cls}">{_value(m, column, value, shown)}<span>{_esc(label)}</span></div>'

    acceptance = s.get("acceptance")
    stats = "".join([
        stat("rows", "rows"),
        stat("kinds", "task kinds"),
        stat("candidates", "candidates"),
        stat("accepted", "accepted", "ok"),
        stat("rejected", "rejected", "bad" if s.get("rejected") else ""),
        stat("judge_errors", "judge errors", "warn" if s.get("judge_errors") else ""),
        stat("acceptance", "acceptance", "", "–" if acceptance is None else f"{100 * acceptance:.3g}%"),
        stat("mean_score", "mean row score"),
    ])
    total = s.get("candidates") or 0
    bar = ""
    if total:
        parts = [("a", "accepted"), ("r", "rejected"), ("j", "judge_errors")]
        bar = '<div class="accbar" role="img" aria-label="accepted, rejected, judge errors">' + "".join(
            f'<div class="{cls}" style="width:{100 * (s.get(col) or 0) / total:.2f}%" title="{col}"></div>'
            for cls, col in parts if s.get(col)) + "</div>"
    runs = s.get("runs") or 0
    made = (f"Acceptance is over the candidates of the {_value(m, 'runs', runs, str(runs), 'span')} "
            f"run{'' if runs == 1 else 's'} that made this version.")
    kind_chips = "".join(
        f'<span class="chip">{_esc(r["kind"])} '
        f'{_value("report_kinds", "examples", r["examples"], str(r["examples"]))}</span>'
        for r in _rows(kinds))
    reasons = _rows(rejections)[:TOP_REASONS]
    more = len(_rows(rejections)) - len(reasons)
    n_reasons = s.get("rejection_reasons")
    count = _value(m, "rejection_reasons", n_reasons, "–" if n_reasons is None else str(n_reasons), "span")
    listed = (f'<ol class="reasons">{"".join(_reason(r) for r in reasons)}</ol>' if reasons
              else '<p class="empty">no candidate was rejected</p>')
    if more > 0:
        listed += f'<p class="src">and {more} more under Rejection reasons below</p>'
    reason_html = f"<h3>Top rejection reasons, by failing leaf ({count} in all)</h3>{listed}"
    return (f'<section id="summary"><h2>Summary</h2><code class="sql">{_esc(sql)}</code>'
            f'<div class="stats">{stats}</div>{bar}<p class="src">{made}</p>'
            f'<h3>Task kinds</h3><div class="chips">{kind_chips or "–"}</div>{reason_html}</section>')


# -- sampled rows as conversations ------------------------------------------------------------


def _source(step: Step, name: str) -> str:
    src = step.sources.get(name)
    if src is None:
        return ""
    if src.origin == "step":
        return f"← step {src.step} {src.pointer or ''}".rstrip()
    return "← the user"


def _call(i: int, step: Step) -> str:
    args = "".join(
        f'<div><code>{_esc(k)} = {_esc(cut(json.dumps(v, ensure_ascii=False), 200, 1)[0])}</code>'
        f' <span class="src">{_esc(_source(step, k))}</span></div>'
        for k, v in step.arguments.items()) or '<div class="src">no arguments</div>'
    return (f'<div class="call"><span class="src">step {i}</span> <code class="fn">{_esc(step.toolset)}.'
            f"{_esc(step.tool)}</code>{args}</div>")


def _conversation(task: Task, trace: Trace) -> str:
    out = [f'<div class="msg user"><div class="who">user</div>{_pre(task.user_request)}</div>']
    for turn in task.dialogue:
        out.append(f'<div class="msg {turn.role}"><div class="who">{turn.role}</div>{_pre(turn.content)}</div>')
    for group in trace.turns():
        label = "assistant calls" if len(group) == 1 else f"assistant calls {len(group)} tools at once"
        out.append(f'<div class="msg assistant"><div class="who">{label}</div>'
                   + "".join(_call(i, trace.steps[i]) for i in group) + "</div>")
        for i in group:
            step = trace.steps[i]
            cls = "tool error" if step.is_error else "tool"
            who = f"tool {step.tool} (step {i})" + (" · error" if step.is_error else "")
            out.append(f'<div class="msg {cls}"><div class="who">{_esc(who)}</div>{_pre(_as_text(step.shown()))}</div>')
    expected = ""
    if task.answer is not None:
        where = ", ".join(f"step {p.step} {p.pointer}" for p in task.answer.pointers)
        expected = (f'<div class="expected">expected answer: <code>'
                    f'{_esc(cut(json.dumps(task.answer.value, ensure_ascii=False), 200, 1)[0])}</code>'
                    f" ({_esc(where)}; compared as {_esc(task.answer.normaliser.kind)})</div>")
    out.append(f'<div class="msg final"><div class="who">final answer</div>{_pre(task.final_message)}{expected}</div>')
    return '<div class="conv">' + "".join(out) + "</div>"


def _verdict(leaf: dict[str, Any]) -> str:
    if leaf.get("skipped"):
        return "skipped"
    if leaf.get("passed") is None:
        return "error"
    return "passed" if leaf["passed"] else "failed"


def _leaves(leaves: list[dict[str, Any]]) -> str:
    """Each leaf's verdict. A line per failed, judged or unanswered leaf (with p(yes) and the
    reason); leaves skipped for the same reason share one line, and checks that passed without a
    word more are named on one line, so 25 leaves read as a few lines."""
    if not leaves:
        return '<p class="empty">no rubric verdicts stored for this row</p>'
    lines: list[str] = []
    skipped: dict[str, list[str]] = {}  # reason -> leaves skipped for it
    quiet: list[str] = []
    for lf in leaves:
        v = _verdict(lf)
        if v == "passed" and lf.get("kind") == "check" and not lf.get("reason"):
            quiet.append(str(lf["node_id"]))
            continue
        if v == "skipped":
            skipped.setdefault(str(lf.get("reason") or ""), []).append(str(lf["node_id"]))
            continue
        p_yes = lf.get("p_yes")
        judged = "" if p_yes is None else f"p(yes) {p_yes:.2f}"
        crit = " · critical" if lf.get("critical") else ""
        lines.append(
            f'<tr data-leaf="{_esc(lf["node_id"])}" data-verdict="{v}"><td><code>{_esc(lf["node_id"])}</code></td>'
            f'<td class="src">{_esc(lf.get("kind", ""))}{crit}</td><td class="v {v}">{v}</td>'
            f'<td data-value="{_esc(json.dumps(jsonable(p_yes)))}">{judged}</td>'
            f'<td>{_esc(cut(str(lf.get("reason") or ""), 300, 3)[0])}</td></tr>')
    table = f'<table class="leaves">{"".join(lines)}</table>' if lines else ""
    groups = "".join(
        f'<p class="leaflist" data-verdict="skipped"><span class="v skipped">skipped</span> {len(names)}'
        f' ({_esc(reason.removeprefix("skipped: ") or "no reason given")}): {_esc(", ".join(names))}</p>'
        for reason, names in skipped.items())
    passed = (f'<p class="leaflist" data-verdict="passed"><span class="v passed">passed</span> {len(quiet)} '
              f'check{"" if len(quiet) == 1 else "s"}: {_esc(", ".join(quiet))}</p>' if quiet else "")
    return f"<h3>Rubric verdicts</h3>{table}{groups}{passed}"


def _card(row: dict[str, Any]) -> str:
    status = str(row["status"])
    score = row.get("score")
    steps = row.get("steps") or 0
    head = (f'<header><span class="badge {_esc(status)}">{_esc(status.replace("_", " "))}</span>'
            f'<span>{_esc(row.get("kind"))}</span><span>{steps} step{"" if steps == 1 else "s"}</span>'
            f'<span>score {"–" if score is None else f"{score:.3f}"}</span>'
            f'<code>{_esc(str(row["example_id"])[:12])}</code></header>')
    why = ""
    if status != "accepted":
        why = (f'<p class="why"><b>Why {"rejected" if status == "rejected" else "not judged"}:</b> '
               f'{_esc(cut(str(row.get("reason") or ""), 400, 4)[0])}</p>')
    try:
        body = _conversation(Task.model_validate_json(row["task"]), Trace.model_validate_json(row["trace"]))
    except (ValidationError, TypeError) as exc:  # a row this code cannot read: say so, show the JSON
        body = (f'<p class="why">this row\'s task or trace could not be read: {_esc(str(exc).splitlines()[0])}</p>'
                + _pre(str(row.get("task"))))
    leaves = _leaves(list(row.get("leaves") or []))
    return (f'<article class="row {_esc(row["sample"])}" id="row-{_esc(row["example_id"])}" '
            f'data-example-id="{_esc(row["example_id"])}" data-status="{_esc(status)}" '
            f'data-leaf="{_esc(row.get("leaf") or "")}">{head}{why}{body}{leaves}</article>')


def samples_html(samples: Table, summary: Table, sql: str) -> str:
    """The sampled accepted rows, then the rejected ones, each as a conversation with its verdicts."""
    rows = _rows(samples)
    [s] = _rows(summary) or [{}]
    out = []
    for sample, title, total_col in (("accepted", "Accepted rows", "rows"), ("rejected", "Rejected rows", None)):
        picked = [r for r in rows if r["sample"] == sample]
        total = s.get(total_col) if total_col else (s.get("rejected") or 0) + (s.get("judge_errors") or 0)
        if sample == "rejected":
            reasons = len({r.get("leaf") for r in picked})
            note = (f"{len(picked)} of {total} rejected candidates, across {reasons} "
                    f"failing {'leaf' if reasons == 1 else 'leaves'}; why each was rejected comes first.")
        else:
            note = f"{len(picked)} of {total} rows of this version, a seeded sample."
        cards = "".join(_card(r) for r in picked) or f'<p class="empty">no {sample} rows</p>'
        out.append(f'<section id="{sample}-rows"><h2>{title}</h2><code class="sql">{_esc(sql)}</code>'
                   f'<p class="lede">{_esc(note)}</p>{cards}</section>')
    return "".join(out)
