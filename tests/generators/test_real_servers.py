"""Proof (issue 17): ten real third-party MCP servers from PyPI each yield accepted rows from one
command with no seeded values, and no tool that reads as a write is ever called:

    backchain run --mcp 'CMD' --allow-likely-readonly --examples 6      (here with --no-model)

The servers run for real, each from its own pinned venv (tests/generators/views/install_servers.sh
creates them under ~/.cache/backchain/mcp-servers/<package>), in a scratch working directory. A
server whose venv is missing is skipped with the command that installs it. No code path names a
server or a tool: the commands below are test data.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from pathlib import Path

import pytest

from flows import Reporter, RunConfig, run_pipeline
from generators import readonly_hint
from store import Store

SERVERS = Path(os.environ.get("BACKCHAIN_MCP_SERVERS", Path.home() / ".cache/backchain/mcp-servers"))
INSTALL = "tests/generators/views/install_servers.sh"

# package -> (launch command inside its venv's bin/, accepted rows expected at least)
TEN: dict[str, tuple[str, int]] = {
    "eggcalc": ("calc --mcp", 3),
    "nwtools-mcp": ("nwtools-mcp", 3),
    "calcnook-mcp": ("calcnook-mcp", 3),
    "gnomon-mcp": ("gnomon-mcp", 3),
    "emojifyi": ("python -m emojifyi.mcp_server", 3),
    "fakedata-mcp": ("fakedata-mcp", 3),
    "mcpzoo-prime": ("mcpzoo-prime", 3),
    "electronics-mcp-servers": ("resistor-decoder", 3),
    "mcp-dice-roller": ("mcp-dice-roller", 3),
    # Every output field of its three tools is random (a random int, string or UUID): each changed
    # when the identical call was made again, so no exact answer can be read from it and none is
    # written. The run must still complete, explore, and call no writing tool.
    "alevlas-random-mcp": ("alevlas-random-mcp", 0),
}


def _command(package: str) -> str:
    script, *rest = shlex.split(TEN[package][0])
    binary = SERVERS / package / "bin" / script
    if not binary.exists():
        pytest.skip(f"{package} is not installed: run {INSTALL} {package}")
    return shlex.join([str(binary), *rest])


@pytest.mark.parametrize("package", sorted(TEN))
def test_a_real_server_yields_accepted_rows_and_calls_no_writing_tool(
        package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command = _command(package)
    monkeypatch.chdir(tmp_path)  # a scratch working directory: a server that writes files writes them here
    db = tmp_path / "proof.duckdb"
    config = RunConfig(mcp=[command], allow_likely_readonly=True, examples=6, no_model=True)
    summary = asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    accepted = summary.status_counts.get("accepted", 0)
    assert accepted >= TEN[package][1], (summary.top_reasons, summary.exploration and summary.exploration.lines())
    assert summary.calls >= 3 and summary.exploration is not None
    with Store(db, read_only=True) as store:
        _, called = store.query("SELECT DISTINCT o.tool, t.side_effect, t.side_effect_source, t.description "
                                "FROM observations AS o JOIN tools AS t ON t.toolset = o.toolset AND t.name = o.tool")
    assert called
    for tool, side_effect, source, description in called:
        # Annotated read-only, or unannotated and read as likely read-only (never as a write).
        hint = readonly_hint(tool, description or "")
        assert side_effect == "read" or (source == "mcp-default" and hint.likely_readonly
                                         and not hint.likely_writes), (tool, hint.why)
