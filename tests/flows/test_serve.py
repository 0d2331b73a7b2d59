"""`backchain serve` against the home's real shared Prefect server; `backchain schedules`.

One test, a real process tree: serve starts the home's Prefect server (as a
first run would), registers a deployment with a 5-second interval, and the
runner executes a scheduled run of the generate flow (no model, two examples)
to completion. Then SIGTERM: every process serve itself started is gone, and
the shared server stays up for later runs until `backchain server stop`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

BIN = Path(sys.executable).with_name("backchain")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(BACKCHAIN_HOME=str(home), PREFECT_HOME=str(home / "prefect"),
               PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _schedules(env: dict[str, str]) -> list[dict[str, object]]:
    out = subprocess.run([str(BIN), "schedules", "--format", "json"], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    return list(json.loads(out.stdout))


def test_serve_runs_a_scheduled_flow_on_the_shared_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "schedules.yaml"
    config.write_text(
        "max_calls: 16\n"
        "schedules:\n"
        "  - dataset: smoke\n    interval: 5\n    parameters: {no_model: true, examples: 2, dedup_threshold: 0}\n"
    )
    env = _env(home)
    db = tmp_path / "bc.duckdb"
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([str(BIN), "serve", "--config", str(config), "--db", str(db)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    state_path = home / "serve.json"
    server_pid = None
    try:
        deadline = time.monotonic() + 90
        while not state_path.exists():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not start its server in 90 s"
            time.sleep(0.5)
        state = json.loads(state_path.read_text())
        server_pid = state["server_pid"]
        assert state["api_url"].startswith("http://127.0.0.1:") and _alive(server_pid)

        deadline = time.monotonic() + 150
        rows: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            rows = _schedules(env)
            if rows and rows[0]["last_run"] in ("Completed", "Failed", "Crashed"):
                break
            time.sleep(2)
        assert rows and rows[0]["deployment"] == "generate/smoke", rows
        assert rows[0]["schedule"] == "every 5s" and rows[0]["dataset"] == "smoke"
        assert rows[0]["last_run"] == "Completed", (tmp_path / "serve.log").read_text()[-3000:]
        assert rows[0]["next_run"]
    except BaseException:
        subprocess.run([str(BIN), "server", "stop"], env=env, capture_output=True, timeout=60)
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert not state_path.exists()
    # The shared server is not serve's to stop: it stays for the next run, and `server stop` ends it.
    assert server_pid is not None and _alive(server_pid)
    assert _schedules(env)[0]["deployment"] == "generate/smoke"
    stopped = subprocess.run([str(BIN), "server", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and f"(pid {server_pid})" in stopped.stdout
    assert not _alive(server_pid)
    deadline = time.monotonic() + 15  # MCP servers of a cancelled run exit once their stdin closes
    while (leftover := subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).stdout.split()):
        assert time.monotonic() < deadline, f"processes left in serve's group: {leftover}"
        time.sleep(0.5)

    from store import Store

    with Store(db, read_only=True) as store:
        _, runs = store.query("SELECT dataset, status FROM runs WHERE status = 'completed'")
    assert ("smoke", "completed") in runs


def test_a_bad_cron_is_one_line_naming_the_entry(tmp_path: Path) -> None:
    config = tmp_path / "s.yaml"
    config.write_text("schedules:\n  - dataset: ok\n    interval: 60\n  - dataset: nightly\n    cron: '61 * * * *'\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    line = " ".join(result.output.split())
    assert "schedules[1] (nightly)" in line and "'61 * * * *' is not a valid schedule" in line


@pytest.mark.parametrize("entry, expected", [
    ("  - dataset: a\n", "give exactly one of cron or interval"),
    ("  - dataset: a\n    interval: 5\n    parameters: {examplez: 2}\n", "unknown key 'examplez'"),
])
def test_bad_entries_are_refused_before_anything_starts(tmp_path: Path, entry: str, expected: str) -> None:
    config = tmp_path / "s.yaml"
    config.write_text("schedules:\n" + entry)
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 1 and expected in " ".join(result.output.split())
    assert not (tmp_path / "home" / "serve.json").exists()


def test_schedules_without_a_server_says_how_to_get_one(tmp_path: Path) -> None:
    # A process of its own: no Prefect API in its environment, no running server in its home.
    done = subprocess.run([str(BIN), "schedules"], env=_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "backchain serve" in done.stderr and "backchain server start" in done.stderr
    assert len([ln for ln in done.stderr.splitlines() if ln.startswith("error:")]) == 1
