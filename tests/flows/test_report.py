"""Accounting per run and `backchain report`, against a real run with the bundled model.

One run (``real_run``, tests/flows/conftest.py) with the llama.cpp server of conftest's
session fixture as writer and judge, on the built-in MCP toolset, into a real DuckDB file:
its token counts are the server's own `usage`, its latencies real. The report is written
by the CLI, parsed with html.parser and compared number by number with what the report_*
SQL macros return; its sampled rows are checked as conversations against report_samples,
on that run and on a hand-built version whose rejections are known. The page in a real
browser: test_report_browser.py.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from flows import Reporter, run_pipeline
from flows._html_report import display
from flows._html_samples import CUT_CHARS, cut, pretty_json
from flows._report import judge_leaf_count
from flows.cli import app
from schemas import Answer, AnswerPointer, ArgumentSource, Example, Judgement, LeafResult, Step, Task, Trace
from store import Store
from store._accounting import REPORT_MACROS
from validators import load_rubric

from ._report_run import ANSI, RealRun, query, report_html, run_config

# -- accounting ----------------------------------------------------------------------------


def test_a_run_stores_tokens_time_and_tool_calls_per_stage(real_run: RealRun) -> None:
    run_id = real_run.summary.run_id
    [run] = query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    stages = {r["stage"]: r for r in query(real_run.db, "SELECT * FROM run_stages WHERE run_id = ?", [run_id])}
    assert {"list-tools", "explore", "chain", "draft", "back-chain", "dedup", "replay", "judge", "commit"} <= set(stages)
    # the writer's and the judge's requests land in their own stages, with the server's token counts
    for stage in ("back-chain", "judge"):
        assert stages[stage]["model_requests"] > 0 and stages[stage]["tokens_in"] > 0
        assert stages[stage]["tokens_out"] > 0
    assert stages["explore"]["model_requests"] == 0  # no --propose-values
    assert run["tokens_in"] == sum(s["tokens_in"] for s in stages.values()) > 0
    assert run["tokens_out"] == sum(s["tokens_out"] for s in stages.values()) > 0
    assert run["model_requests"] == sum(s["model_requests"] for s in stages.values())
    assert json.loads(run["stage_seconds"]) == pytest.approx({k: s["seconds"] for k, s in stages.items()})
    assert 0 < sum(s["seconds"] for s in stages.values()) <= run["wall_seconds"]
    # tool calls: explore's are the run's observations, replay's one per distinct replayed call
    assert stages["explore"]["tool_calls"] == real_run.summary.calls
    assert stages["explore"]["tool_errors"] == real_run.summary.call_errors
    assert run["tool_calls"] == stages["explore"]["tool_calls"] + stages["replay"]["tool_calls"]
    [per_toolset] = query(real_run.db, "SELECT * FROM run_tool_calls WHERE run_id = ? AND stage = 'explore'", [run_id])
    [obs] = query(real_run.db, "SELECT toolset, count(*) AS n FROM observations WHERE run_id = ? GROUP BY ALL", [run_id])
    assert (per_toolset["toolset"], per_toolset["calls"]) == (obs["toolset"], obs["n"])


def test_each_model_request_is_the_reply_the_server_sent(real_run: RealRun) -> None:
    """Tokens per request equal the usage in the reply the cache kept under the same key."""
    rows = query(real_run.db, """
        SELECT m.stage, m.tokens_in, m.tokens_out, m.latency_ms, m.cached, m.error,
               (c.reply->>'prompt_tokens')::BIGINT AS cache_in, (c.reply->>'completion_tokens')::BIGINT AS cache_out
        FROM model_requests AS m LEFT JOIN reply_cache AS c ON c.key = m.request_key
        WHERE m.run_id = ?""", [real_run.summary.run_id])
    assert rows and all(r["error"] is None for r in rows)
    for r in rows:
        assert (r["tokens_in"], r["tokens_out"]) == (r["cache_in"], r["cache_out"])
        assert r["latency_ms"] > 0 or r["cached"]
    usage = query(real_run.db, "SELECT * FROM run_model_usage WHERE run_id = ?", [real_run.summary.run_id])
    assert {u["stage"] for u in usage} == {"back-chain", "judge"}
    assert all(u["p50_ms"] > 0 and u["p95_ms"] >= u["p50_ms"] for u in usage)


def test_a_rerun_answered_from_the_cache_spends_no_new_tokens(real_run: RealRun, llama_endpoint: Any) -> None:
    again = asyncio.run(run_pipeline(run_config(llama_endpoint), real_run.db, Reporter(quiet=True)))
    [run] = query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [again.run_id])
    [first] = query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [real_run.summary.run_id])
    assert (run["model_requests"], run["tokens_in"], run["tokens_out"]) == (0, 0, 0)
    assert run["cached_replies"] == first["model_requests"]
    # nor makes a tool call: the recorded ones are counted as cached, not as calls
    assert (run["tool_calls"], run["tool_errors"]) == (0, 0)
    assert run["cached_tool_calls"] == first["tool_calls"] > 0 and first["cached_tool_calls"] == 0
    tools = query(real_run.db, "SELECT stage, calls, cached FROM run_tool_calls WHERE run_id = ? ORDER BY stage",
                   [again.run_id])
    assert {t["stage"] for t in tools} == {"explore", "replay"} and all(t["calls"] == 0 for t in tools)
    cached = query(real_run.db, "SELECT sum(cached_tokens_in) AS n FROM run_model_usage WHERE run_id = ?",
                    [again.run_id])
    assert cached[0]["n"] == first["tokens_in"]


def test_the_judge_leaves_bar_counts_every_question_asked(real_run: RealRun) -> None:
    asked = query(real_run.db, """
        SELECT count(*) AS n FROM leaf_results AS l JOIN candidates AS c USING (example_id)
        WHERE c.run_id = ? AND l.kind = 'judge' AND NOT l.skipped""", [real_run.summary.run_id])[0]["n"]
    assert asked > 0
    final = [ln for ln in real_run.progress.splitlines() if ln.startswith("judge leaves")][-1]
    assert f" {asked}/{asked} " in final
    assert re.search(r"\d+(\.\d)?/(s|min)", final) and "eta" in final
    for stage in ("calling tools", "building chains", "writing tasks", "validating and judging"):
        assert any(ln.startswith(stage) for ln in real_run.progress.splitlines())


# -- the report ------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Tables by id (each cell's data-value and text), the version facts, every tag and attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, Any]] = {}
        self.facts: dict[str, str] = {}
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.values: dict[tuple[str, str], list[Any]] = {}  # (data-macro, data-column) -> values shown
        self.headings: list[str] = []
        self._heading: str | None = None
        self.styles: list[str] = []
        self._table: str | None = None
        self._cell: dict[str, Any] | None = None
        self._fact: str | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        a = dict(attrs)
        if tag == "table" and "id" in a:  # the macros' tables (a row's verdicts have no id)
            self._table = str(a["id"])
            self.tables[self._table] = {"columns": [], "rows": []}
        elif tag == "table":
            self._table = None
        elif tag == "tr" and self._table:
            self.tables[self._table]["rows"].append([])
        elif tag == "th" and self._table:
            self._cell = {"th": True, "text": ""}
        elif tag == "td" and self._table:
            self._cell = {"value": json.loads(str(a["data-value"])), "text": ""}
        elif tag == "dd" and "data-key" in a:
            self._fact = str(a["data-key"])
            self.facts[self._fact] = ""
        elif tag == "style":
            self._in_style = True
        elif tag == "h2":
            self._heading = ""
        if "data-macro" in a:
            key = (str(a["data-macro"]), str(a["data-column"]))
            self.values.setdefault(key, []).append(json.loads(str(a["data-value"])))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
            return
        if tag in ("th", "td") and self._cell is not None and self._table:
            t = self.tables[self._table]
            if self._cell.get("th"):
                t["columns"].append(self._cell["text"])
            else:
                t["rows"][-1].append(self._cell)
            self._cell = None
        elif tag == "dd":
            self._fact = None
        elif tag == "style":
            self._in_style = False
        elif tag == "h2" and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._fact is not None:
            self.facts[self._fact] += data
        if self._in_style:
            self.styles.append(data)
        if self._heading is not None:
            self._heading += data


def _as_json(value: Any) -> Any:
    from flows._json import jsonable as _jsonable

    return json.loads(json.dumps(_jsonable(value)))


def test_the_report_shows_exactly_what_the_sql_macros_return(real_run: RealRun, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    result = CliRunner().invoke(app, ["report", "acct@1", "--out", str(out), "--db", str(real_run.db)])
    assert result.exit_code == 0, result.output
    version = real_run.summary.version
    assert version is not None and version.version_id in result.output
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.facts["version_id"] == version.version_id
    assert page.facts["content_hash"] == version.content_hash
    assert page.facts["made by run(s)"] == real_run.summary.run_id
    with Store(real_run.db, read_only=True) as store:
        for name in REPORT_MACROS:
            columns, rows = store.query(f"SELECT * FROM {name}(?, ?)", ["acct", "1"])
            if not rows:
                continue
            table = page.tables[name]
            assert table["columns"] == columns, name
            shown = [r for r in table["rows"] if r]
            assert [[c["value"] for c in r] for r in shown] == _as_json([list(r) for r in rows]), name
            for row, cells in zip(rows, shown):
                assert [c["text"] for c in cells] == [display(v) for v in row], name
    # the sections a reader looks for are there, with numbers that say something
    assert {"report_runs", "report_stages", "report_model_usage", "report_latency", "report_tool_coverage",
            "report_edges", "report_chain_lengths", "report_kinds", "report_scores", "report_leaves"} <= set(page.tables)
    stages = {r[0]["value"]: r for r in page.tables["report_stages"]["rows"] if r}
    assert stages["judge"][4]["value"] > 0  # tokens_in of the judge
    assert sum(c[3]["value"] for c in page.tables["report_scores"]["rows"] if c) == version.row_count
    assert sum(1 for tag, _ in page.tags if tag == "svg") >= 5


def test_the_report_is_self_contained(real_run: RealRun, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert CliRunner().invoke(app, ["report", "acct@latest", "-o", str(out), "--db", str(real_run.db)]).exit_code == 0
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "base"}
    for tag, attrs in page.tags:
        for key, value in attrs:
            assert key not in ("src", "href", "xlink:href", "srcset", "xmlns"), (tag, key)
            assert "url(" not in (value or "") and "://" not in (value or "") or key == "data-value", (tag, key)
    style = "".join(page.styles)
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_a_bad_reference_is_one_line_and_writes_nothing(real_run: RealRun, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    for ref in ("acct@99", "nosuch@latest", "acct@notatag"):
        result = CliRunner().invoke(app, ["report", ref, "--out", str(out), "--db", str(real_run.db)])
        assert result.exit_code == 1
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error:"), result.output
    assert not out.exists()
    missing = CliRunner().invoke(app, ["report", "acct", "--out", str(out), "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no database at" in missing.output
    assert not (tmp_path / "none.duckdb").exists()


# -- what the page opens with: a summary, then sampled rows as conversations -----------------

SECTIONS = [
    "Summary", "Accepted rows", "Rejected rows", "How it was made", "Tool coverage", "Edge coverage",
    "Chain length", "Task kinds", "Scores", "Rubric leaves", "Rejection reasons", "Time and tokens per stage",
    "Model usage per stage and endpoint", "Latency percentiles (ms)", "Runs", "Human review", "Version",
]
_CARD = re.compile(r'<article class="row (?P<sample>\w+)" id="row-(?P<id>[0-9a-f]+)"[^>]*>(?P<body>.*?)</article>', re.S)
_LEAFLIST = re.compile(r'<p class="leaflist" data-verdict="(\w+)">(.*?)</p>', re.S)


def _text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _verdict(leaf: dict[str, Any]) -> str:
    return "skipped" if leaf["skipped"] else "error" if leaf["passed"] is None else (
        "passed" if leaf["passed"] else "failed")


def _check_card(body: str, row: dict[str, Any]) -> None:
    """The card shows the row as a conversation and every leaf's verdict; a rejected row says why first."""
    seen = _text(body)
    task, trace = Task.model_validate_json(row["task"]), Trace.model_validate_json(row["trace"])
    assert cut(task.user_request)[0] in seen
    for turn in task.dialogue:
        assert cut(turn.content)[0] in seen
    for i, step in enumerate(trace.steps):
        assert f"{step.toolset}.{step.tool}" in seen and f"tool {step.tool} (step {i})" in seen
        for name, value in step.arguments.items():
            assert f"{name} = {cut(json.dumps(value, ensure_ascii=False), 200, 1)[0]}" in seen
        shown = step.shown()
        shown_text = shown if isinstance(shown, str) else pretty_json(shown)
        short, was_cut = cut(shown_text)
        assert short in seen and (not was_cut or f"{short}…" in seen)  # what the tool said, cut visibly
    assert cut(task.final_message)[0] in seen
    lists: dict[str, str] = {}
    for verdict, names in _LEAFLIST.findall(body):  # one line per verdict and reason
        lists[verdict] = lists.get(verdict, "") + "\n" + _text(names)
    for leaf in row["leaves"]:
        verdict = _verdict(leaf)
        line = re.search(rf'<tr data-leaf="{re.escape(leaf["node_id"])}" data-verdict="(\w+)">(.*?)</tr>', body, re.S)
        if line is None:  # named in a one-line list of its verdict
            assert re.search(rf"\b{re.escape(leaf['node_id'])}\b", lists.get(verdict, "")), (leaf, lists)
            continue
        assert line.group(1) == verdict
        if leaf["p_yes"] is not None:
            assert f"p(yes) {leaf['p_yes']:.2f}" in _text(line.group(2))
    if row["status"] != "accepted":
        assert 0 <= body.index('class="why"') < body.index('class="conv"')
        assert cut(row["reason"], 400, 4)[0] in _text(body[:body.index('class="conv"')])


def test_the_page_opens_with_a_summary_then_rows_then_how_it_was_made(real_run: RealRun, tmp_path: Path) -> None:
    text = report_html(real_run.db, "acct@1", tmp_path / "r.html")
    page = _Page()
    page.feed(text)
    assert page.headings == SECTIONS
    [summary] = query(real_run.db, "SELECT * FROM report_summary('acct', 1)")
    for column, value in summary.items():
        assert page.values[("report_summary", column)] == [_as_json(value)], column
    version, counts = real_run.summary.version, real_run.summary.status_counts
    assert version is not None and summary["rows"] == version.row_count
    assert (summary["accepted"], summary["rejected"], summary["judge_errors"]) == (
        counts.get("accepted", 0), counts.get("rejected", 0), counts.get("judge_error", 0))
    kinds = query(real_run.db, "SELECT * FROM report_kinds('acct', 1)")
    assert page.values[("report_kinds", "examples")] == [k["examples"] for k in kinds]
    assert summary["kinds"] == len(kinds)
    top = query(real_run.db, "SELECT * FROM report_rejections('acct', 1)")[:5]
    assert page.values.get(("report_rejections", "candidates"), []) == [r["candidates"] for r in top]


def test_sampled_rows_are_rendered_as_conversations(real_run: RealRun, tmp_path: Path) -> None:
    text = report_html(real_run.db, "acct@1", tmp_path / "r.html")
    samples = query(real_run.db, "SELECT * FROM report_samples('acct', 1)")
    cards = [(m["sample"], m["id"], m["body"]) for m in _CARD.finditer(text)]
    assert [(s, i) for s, i, _ in cards] == [(r["sample"], r["example_id"]) for r in samples]
    assert {r["sample"] for r in samples} >= {"accepted"} and all(r["leaves"] for r in samples)
    for (_, _, body), row in zip(cards, samples):
        _check_card(body, row)


def _built_db(path: Path) -> Path:
    """A version of 6 rows and 6 rejected candidates over 4 reasons, one with a long tool text."""
    def example(i: int) -> Example:
        said = f"Capital of C{i}: City{i}." + (" More." * 400 if i == 7 else "")
        step = Step(toolset="geo", tool="country_info", arguments={"code": f"C{i}"},
                    sources={"code": ArgumentSource(origin="user")}, observation_id=f"obs{i}",
                    output={"capital": f"City{i}"}, raw={"text": [said]}, parser="text/1")
        task = Task(kind="single", user_request=f"What is the capital of C{i}?", user_values={"code": f"C{i}"},
                    answer=Answer(pointers=[AnswerPointer(step=0, pointer="/capital")], value=f"City{i}"),
                    final_message=f"The capital is City{i}.", writer="template")
        return Example(task=task, trace=Trace(steps=[step]), tools=[])

    rejected = {6: ("rejected", "no_leakage: the answer appears in the request"),
                7: ("rejected", "no_leakage: the answer appears in the request"),
                8: ("rejected", "no_leakage: the answer appears in the request"),
                9: ("rejected", "provenance: step 0: code is not in the request"),
                10: ("rejected", "score 0.300 below min_score 0.500"),
                11: ("judge_error", "natural: the judge gave no yes/no")}
    judged = []
    for i in range(12):
        status, reason = rejected.get(i, ("accepted", ""))
        leaf = reason.split(":")[0] if ":" in reason else "natural"
        leaves = [LeafResult(node_id="schema", kind="check", critical=True, passed=True, score=1.0),
                  LeafResult(node_id="natural", kind="judge", passed=None if status == "judge_error" else i != 10,
                             score=0.3 if i == 10 else 0.9, p_yes=None if status == "judge_error" else 0.3 + 0.05 * i,
                             reason="no yes/no" if status == "judge_error" else "")]
        if leaf not in ("natural",) and status == "rejected":
            leaves += [LeafResult(node_id=leaf, kind="check", critical=True, passed=False, score=0.0,
                                  reason=reason.split(": ", 1)[1]),
                       LeafResult(node_id="grounded", kind="check", critical=True, skipped=True,
                                  reason=f"skipped: {leaf} failed before it")]
        ex = example(i)
        judged.append((ex, Judgement(example_id=ex.example_id, rubric_id="default", rubric_hash="r" * 32,
                                     status=status, reason=reason,  # type: ignore[arg-type]
                                     score=0.8 if status == "accepted" else 0.0, leaves=leaves)))
    with Store(path) as store:
        store.start_run("run-1", "built", config={}, models={"judge": "j"})
        store.save_candidates("run-1", "built", judged)
        store.seal_version("built", run_id="run-1", members=[(e.example_id, 0.8) for e, j in judged
                                                             if j.status == "accepted"])
    return path


@pytest.fixture
def built_db(tmp_path: Path) -> Path:
    return _built_db(tmp_path / "built.duckdb")


def test_the_summary_counts_the_run_that_made_the_version(built_db: Path) -> None:
    [summary] = query(built_db, "SELECT * FROM report_summary('built', 'latest')")
    assert summary == {"rows": 6, "kinds": 1, "runs": 1, "candidates": 12, "accepted": 6, "rejected": 5,
                       "judge_errors": 1, "acceptance": 0.5, "rejection_reasons": 4, "mean_score": pytest.approx(0.8)}


def test_the_sample_is_seeded_and_spread_over_rejection_reasons(built_db: Path) -> None:
    def sample(n: int, seed: int) -> list[tuple[str, int, str, str | None]]:
        rows = query(built_db, "SELECT * FROM report_samples('built', 1, n := ?, seed := ?)", [n, seed])
        return [(r["sample"], r["pick"], r["example_id"], r["leaf"]) for r in rows]

    four = sample(4, 0)
    assert sample(4, 0) == four  # a seed gives the same rows every time
    assert [(s, p) for s, p, _, _ in four] == [("accepted", k) for k in range(1, 5)] + [("rejected", k) for k in range(1, 5)]
    # four rejected rows, four reasons: every failing leaf once, the largest group first
    assert [leaf for s, _, _, leaf in four if s == "rejected"][0] == "no_leakage"
    assert {leaf for s, _, _, leaf in four if s == "rejected"} == {"no_leakage", "provenance", "below min_score", "natural"}
    everything = sample(20, 0)
    assert sum(s == "accepted" for s, *_ in everything) == 6 and sum(s == "rejected" for s, *_ in everything) == 6
    orders = {tuple(i for s, _, i, _ in sample(6, seed) if s == "accepted") for seed in range(5)}
    assert len(orders) > 1  # another seed, another sample
    # a rejected row's failed leaf comes first among its verdicts
    rows = query(built_db, "SELECT leaf, leaves FROM report_samples('built', 1) WHERE sample = 'rejected'")
    for row in rows:
        if row["leaf"] not in ("natural", "below min_score"):
            assert (row["leaves"][0]["node_id"], row["leaves"][0]["passed"]) == (row["leaf"], False)


def test_rows_show_what_the_tool_said_and_why_they_were_rejected(built_db: Path, tmp_path: Path) -> None:
    text = report_html(built_db, "built@1", tmp_path / "r.html")
    samples = query(built_db, "SELECT * FROM report_samples('built', 1)")
    cards = {m["id"]: m["body"] for m in _CARD.finditer(text)}
    assert list(cards) == [r["example_id"] for r in samples]
    for row in samples:
        _check_card(cards[row["example_id"]], row)
        # the tool message is the tool's own text (Step.shown()), not the JSON view pointers address
        assert "Capital of C" in _text(cards[row["example_id"]]) and '"capital":' not in cards[row["example_id"]]
    long = query(built_db, "SELECT * FROM report_samples('built', 1, n := 10) WHERE task LIKE '%capital of C7?%'")
    assert long, "the row with a long tool output is in the full sample"
    everything = _sampled_rows_html(built_db, tmp_path)
    assert "More. More." in everything and '<span class="cut">…</span>' in everything
    judge_error = next(r for r in samples if r["status"] == "judge_error")
    assert "Why not judged:" in _text(cards[judge_error["example_id"]])


def _sampled_rows_html(db: Path, tmp_path: Path) -> str:
    """The sampled rows' HTML with every row of the version and the run sampled."""
    from flows._html_samples import samples_html

    with Store(db, read_only=True) as store:
        _, tables = store.report_tables("built", "1", samples=10)
    return samples_html(tables["report_samples"], tables["report_summary"], "SELECT ...")


def test_cut_marks_what_it_leaves_out() -> None:
    assert cut("short") == ("short", False)
    assert cut("x" * 1000) == ("x" * CUT_CHARS, True)
    assert cut("\n".join("abcdefghijklmnop"), lines=3) == ("a\nb\nc", True)
    assert pretty_json({"codes": ["AD", "BE"], "n": 1}) == '{"codes": ["AD", "BE"], "n": 1}'
    assert pretty_json({"k": "v" * 100, "l": [1, 2]}).splitlines() == ["{", f'  "k": "{"v" * 100}",', '  "l": [1, 2]', "}"]


def test_judge_leaf_count_counts_questions_only() -> None:
    assert judge_leaf_count(load_rubric("default")) == 4


# -- progress -------------------------------------------------------------------------------


def _bars(**kwargs: Any) -> str:
    buf = io.StringIO()
    reporter = Reporter(console=Console(file=buf, width=160, **kwargs))
    with reporter.stages(("calling tools", 10), ("judge leaves", 0)) as (advance, leaf):
        advance(3)
        leaf(5)  # a bar with total 0 is not shown, and advancing it is harmless
    return ANSI.sub("", buf.getvalue())


def test_bars_show_rate_and_eta_and_end_at_what_was_done() -> None:
    text = _bars(force_terminal=True)
    final = [ln for ln in text.splitlines() if ln.startswith("calling tools")][-1]
    assert " 3/3 " in final and "eta" in final and re.search(r"/(s|min)", final)
    assert "judge leaves" not in text


def test_quiet_shows_nothing() -> None:
    buf = io.StringIO()
    reporter = Reporter(quiet=True, console=Console(file=buf, force_terminal=True))
    with reporter.stages(("a", 2), ("b", 3)) as bars:
        assert len(bars) == 2
        bars[0](1)
    reporter.note("hidden")
    assert buf.getvalue() == ""


def test_scores_histogram_buckets_cover_zero_to_one(real_run: RealRun) -> None:
    rows = query(real_run.db, "SELECT * FROM report_scores('acct', 1)")
    assert [r["bucket"] for r in rows] == list(range(10))
    assert math.isclose(rows[0]["lower"], 0.0) and math.isclose(rows[-1]["upper"], 1.0)
