"""One real small run for the report tests: its database, its summary and its progress output.

`real_run` (tests/flows/conftest.py) makes it once per session with the llama.cpp server of the
session fixture as writer and judge, on the built-in MCP toolset, into a real DuckDB file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from flows import RunConfig
from flows._generate import RunSummary
from flows.cli import app
from store import Store

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class RealRun:
    def __init__(self, db: Path, summary: RunSummary, progress: str) -> None:
        self.db, self.summary, self.progress = db, summary, progress


def run_config(endpoint: Any, dataset: str = "acct") -> RunConfig:
    ep = {"url": endpoint.url, "model": endpoint.model}
    return RunConfig(dataset=dataset, examples=2, max_calls=12, dedup_threshold=0, llm=ep, judge=ep)


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with Store(db, read_only=True) as store:
        columns, rows = store.query(sql, params)
    return [dict(zip(columns, r)) for r in rows]


def report_html(db: Path, ref: str, out: Path) -> str:
    """`backchain report REF --out OUT --db DB`, and the page it wrote."""
    result = CliRunner().invoke(app, ["report", ref, "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")
