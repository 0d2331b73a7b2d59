"""Accounting per run and `backchain report`, against a real run with the bundled model.

One run (module scope) with the llama.cpp server of conftest's session fixture
as writer and judge, on the built-in MCP toolset, into a real DuckDB file: its
token counts are the server's own `usage`, its latencies real. The report is
written by the CLI, parsed with html.parser and compared number by number with
what the report_* SQL macros return.
"""

from __future__ import annotations

import asyncio
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

from flows import Reporter, RunConfig, run_pipeline
from flows._generate import RunSummary
from flows._html_report import display
from flows._report import judge_leaf_count
from flows.cli import app
from store import Store
from store._accounting import REPORT_MACROS
from validators import load_rubric

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class RealRun:
    def __init__(self, db: Path, summary: RunSummary, progress: str) -> None:
        self.db, self.summary, self.progress = db, summary, progress


def _config(endpoint: Any, dataset: str = "acct") -> RunConfig:
    ep = {"url": endpoint.url, "model": endpoint.model}
    return RunConfig(dataset=dataset, examples=2, max_calls=12, dedup_threshold=0, llm=ep, judge=ep)


@pytest.fixture(scope="module")
def real_run(llama_endpoint: Any, tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    db = tmp_path_factory.mktemp("report") / "r.duckdb"
    buf = io.StringIO()
    reporter = Reporter(console=Console(file=buf, force_terminal=True, width=160))
    summary = asyncio.run(run_pipeline(_config(llama_endpoint), db, reporter))
    assert summary.version is not None and summary.version.row_count > 0
    return RealRun(db, summary, _ANSI.sub("", buf.getvalue()))


def _query(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with Store(db, read_only=True) as store:
        columns, rows = store.query(sql, params)
    return [dict(zip(columns, r)) for r in rows]


# -- accounting ----------------------------------------------------------------------------


def test_a_run_stores_tokens_time_and_tool_calls_per_stage(real_run: RealRun) -> None:
    run_id = real_run.summary.run_id
    [run] = _query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    stages = {r["stage"]: r for r in _query(real_run.db, "SELECT * FROM run_stages WHERE run_id = ?", [run_id])}
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
    [per_toolset] = _query(real_run.db, "SELECT * FROM run_tool_calls WHERE run_id = ? AND stage = 'explore'", [run_id])
    [obs] = _query(real_run.db, "SELECT toolset, count(*) AS n FROM observations WHERE run_id = ? GROUP BY ALL", [run_id])
    assert (per_toolset["toolset"], per_toolset["calls"]) == (obs["toolset"], obs["n"])


def test_each_model_request_is_the_reply_the_server_sent(real_run: RealRun) -> None:
    """Tokens per request equal the usage in the reply the cache kept under the same key."""
    rows = _query(real_run.db, """
        SELECT m.stage, m.tokens_in, m.tokens_out, m.latency_ms, m.cached, m.error,
               (c.reply->>'prompt_tokens')::BIGINT AS cache_in, (c.reply->>'completion_tokens')::BIGINT AS cache_out
        FROM model_requests AS m LEFT JOIN reply_cache AS c ON c.key = m.request_key
        WHERE m.run_id = ?""", [real_run.summary.run_id])
    assert rows and all(r["error"] is None for r in rows)
    for r in rows:
        assert (r["tokens_in"], r["tokens_out"]) == (r["cache_in"], r["cache_out"])
        assert r["latency_ms"] > 0 or r["cached"]
    usage = _query(real_run.db, "SELECT * FROM run_model_usage WHERE run_id = ?", [real_run.summary.run_id])
    assert {u["stage"] for u in usage} == {"back-chain", "judge"}
    assert all(u["p50_ms"] > 0 and u["p95_ms"] >= u["p50_ms"] for u in usage)


def test_a_rerun_answered_from_the_cache_spends_no_new_tokens(real_run: RealRun, llama_endpoint: Any) -> None:
    again = asyncio.run(run_pipeline(_config(llama_endpoint), real_run.db, Reporter(quiet=True)))
    [run] = _query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [again.run_id])
    [first] = _query(real_run.db, "SELECT * FROM runs WHERE run_id = ?", [real_run.summary.run_id])
    assert (run["model_requests"], run["tokens_in"], run["tokens_out"]) == (0, 0, 0)
    assert run["cached_replies"] == first["model_requests"]
    # nor makes a tool call: the recorded ones are counted as cached, not as calls
    assert (run["tool_calls"], run["tool_errors"]) == (0, 0)
    assert run["cached_tool_calls"] == first["tool_calls"] > 0 and first["cached_tool_calls"] == 0
    tools = _query(real_run.db, "SELECT stage, calls, cached FROM run_tool_calls WHERE run_id = ? ORDER BY stage",
                   [again.run_id])
    assert {t["stage"] for t in tools} == {"explore", "replay"} and all(t["calls"] == 0 for t in tools)
    cached = _query(real_run.db, "SELECT sum(cached_tokens_in) AS n FROM run_model_usage WHERE run_id = ?",
                    [again.run_id])
    assert cached[0]["n"] == first["tokens_in"]


def test_the_judge_leaves_bar_counts_every_question_asked(real_run: RealRun) -> None:
    asked = _query(real_run.db, """
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
        self.styles: list[str] = []
        self._table: str | None = None
        self._cell: dict[str, Any] | None = None
        self._fact: str | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        a = dict(attrs)
        if tag == "table":
            self._table = str(a["id"])
            self.tables[self._table] = {"columns": [], "rows": []}
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

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._fact is not None:
            self.facts[self._fact] += data
        if self._in_style:
            self.styles.append(data)


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


def test_judge_leaf_count_counts_questions_only() -> None:
    assert judge_leaf_count(load_rubric("default")) == 4


# -- progress -------------------------------------------------------------------------------


def _bars(**kwargs: Any) -> str:
    buf = io.StringIO()
    reporter = Reporter(console=Console(file=buf, width=160, **kwargs))
    with reporter.stages(("calling tools", 10), ("judge leaves", 0)) as (advance, leaf):
        advance(3)
        leaf(5)  # a bar with total 0 is not shown, and advancing it is harmless
    return _ANSI.sub("", buf.getvalue())


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
    rows = _query(real_run.db, "SELECT * FROM report_scores('acct', 1)")
    assert [r["bucket"] for r in rows] == list(range(10))
    assert math.isclose(rows[0]["lower"], 0.0) and math.isclose(rows[-1]["upper"], 1.0)
