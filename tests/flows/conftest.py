"""Fixtures shared by the flow tests: one real small run, made once, for every report test."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from rich.console import Console

from flows import Reporter, run_pipeline

from ._report_run import ANSI, RealRun, run_config


@pytest.fixture(scope="session")
def real_run(llama_endpoint: Any, tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """A run of two examples on the built-in toolset, writer and judge the bundled model (acct@1)."""
    db = tmp_path_factory.mktemp("report") / "r.duckdb"
    buf = io.StringIO()
    reporter = Reporter(console=Console(file=buf, force_terminal=True, width=160))
    summary = asyncio.run(run_pipeline(run_config(llama_endpoint), db, reporter))
    assert summary.version is not None and summary.version.row_count > 0
    return RealRun(db, summary, ANSI.sub("", buf.getvalue()))
