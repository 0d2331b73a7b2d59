"""The README's first command as a new user meets it: real `backchain run` processes, no harness.

Every run here is the console script in a subprocess, in a fresh project home
with a fresh Prefect home (no PREFECT_API_URL, no test harness), so it meets
Prefect exactly as `make run` does on a fresh clone:

- three runs started at once in a fresh home all seal; one Prefect server is
  started (the lock), the others wait and connect; a later run reuses it and
  `backchain server stop` ends it;
- a run SIGKILLed mid-stage leaves no model, MCP or guard process behind (the
  shared Prefect server is the one deliberate exception);
- a first server start cut off mid-migration does not break the next run, and
  a dead server is replaced;
- failures the program can name are one line, no traceback: a usage error, an
  unreachable configured API, a bad setting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from store import Store

BACKCHAIN = Path(sys.executable).with_name("backchain")
#: Small runs on the bundled plumbing model: this file tests the process machinery, not the data.
SMALL = ["--examples", "2", "--max-calls", "20", "--dedup-threshold", "0"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_API", "PREFECT_HOME", "BACKCHAIN_"))}
    env.update(BACKCHAIN_HOME=str(home), BACKCHAIN_LOCAL_MODEL="tiny", **extra)
    return env


@dataclass
class Done:
    code: int
    out: str
    err: str


def _run(home: Path, *args: str, timeout: float = 900, **extra: str) -> Done:
    proc = subprocess.run([str(BACKCHAIN), *args], env=_env(home, **extra), capture_output=True, text=True,
                          timeout=timeout)
    return Done(proc.returncode, proc.stdout, proc.stderr)


def _server_state(home: Path) -> dict[str, object]:
    return dict(json.loads((home / "prefect" / "server.json").read_text()))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root``: pid -> command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found and _alive(pid):
                try:
                    found[pid] = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                                  .decode(errors="replace")[:160])
                except OSError:
                    continue
                todo.append(pid)
    return found


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh project home; its Prefect server, if a test started one, is stopped afterwards."""
    path = tmp_path / "home"
    yield path
    if (path / "prefect" / "server.json").exists():
        _run(path, "server", "stop", timeout=60)


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Done]]]:
    """Three default runs started at once in a fresh home, each on its own database."""
    home = tmp_path_factory.mktemp("fresh") / "home"
    env = _env(home)
    procs = [subprocess.Popen([str(BACKCHAIN), "run", *SMALL, "--seed", str(i), "--db", str(home / f"run{i}.duckdb")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=1200)
        done.append(Done(proc.returncode, out, err))
    yield home, done
    _run(home, "server", "stop", timeout=60)


def test_three_runs_at_once_in_a_fresh_home_all_seal_on_one_prefect_server(fresh_home: tuple[Path, list[Done]]) -> None:
    home, done = fresh_home
    for i, run in enumerate(done):
        assert run.code == 0, run.err[-3000:]
        assert "Traceback" not in run.err
        with Store(home / f"run{i}.duckdb", read_only=True) as store:
            [info] = store.versions("default")
        assert info.row_count >= 1 and f"new version    default@1  ({info.row_count} rows" in run.out
    # One server was started, under the lock; the other runs connected to it.
    starts = [r for r in done if "starting the local Prefect server (first start in this home" in r.err]
    assert len(starts) == 1, [r.err[:400] for r in done]
    state = _server_state(home)
    assert state["status"] == "up" and isinstance(state["pid"], int) and _alive(state["pid"])
    assert all(str(state["url"]).removesuffix("/api") in r.err for r in done)
    assert (home / "prefect" / "server.ready").exists()
    # The runs went through Prefect: each is a flow run on the shared server's database.
    assert all("Prefect" in r.err for r in done)


def test_a_later_run_reuses_the_server_and_server_stop_ends_it(fresh_home: tuple[Path, list[Done]]) -> None:
    home, _ = fresh_home
    before = _server_state(home)
    again = _run(home, "run", *SMALL, "--db", str(home / "run0.duckdb"))
    assert again.code == 0, again.err[-2000:]
    assert "starting the local Prefect server" not in again.err and f"Prefect API {before['url']}" in again.err
    assert _server_state(home)["pid"] == before["pid"]
    status = _run(home, "server", "status", "--json", timeout=60)
    assert status.code == 0 and json.loads(status.out)["healthy"] is True
    stopped = _run(home, "server", "stop", timeout=60)
    assert stopped.code == 0 and stopped.out.startswith("stopped the Prefect server at ")
    assert isinstance(before["pid"], int) and not _alive(before["pid"])
    assert not (home / "prefect" / "server.json").exists()
    assert _run(home, "server", "stop", timeout=60).out.startswith("no Prefect server is running")


def test_a_run_killed_mid_stage_leaves_no_process_behind(tmp_path: Path, home: Path) -> None:
    started = _run(home, "server", "start", timeout=700)  # the shared server: the deliberate exception
    assert started.code == 0, started.err
    server_pid = _server_state(home)["pid"]
    assert isinstance(server_pid, int)
    err = tmp_path / "run.err"
    with open(err, "w") as log:
        proc = subprocess.Popen([str(BACKCHAIN), "run", "--examples", "6", "--max-calls", "60", "--db",
                                 str(tmp_path / "k.duckdb")], env=_env(home), stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 300
        # Mid-stage: the model server and both MCP servers are up and the run is working.
        while not any(s in err.read_text() for s in ("calling tools", "building chains", "writing tasks")):
            assert proc.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.2)
        children = _descendants(proc.pid)
        commands = " | ".join(children.values())
        for server in ("llama_cpp.server", "generators.builtin", "mcp_server_time", "_guard.py"):
            assert server in commands, children
        assert server_pid not in children
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 20
    while left := {pid: cmd for pid, cmd in children.items() if _alive(pid)}:
        assert time.monotonic() < deadline, f"processes of the killed run still alive: {left}"
        time.sleep(0.3)
    assert _alive(server_pid)  # the shared server stays for the next run


def test_a_cut_off_first_start_and_a_dead_server_do_not_break_the_next_run(tmp_path: Path, home: Path) -> None:
    prefect = home / "prefect"
    starter = subprocess.Popen([str(BACKCHAIN), "server", "start"], env=_env(home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ((prefect / "server.json").exists() and (prefect / "prefect.db").exists()):
            assert time.monotonic() < deadline and starter.poll() is None
            time.sleep(0.05)
        pid = _server_state(home)["pid"]
        assert isinstance(pid, int)
        # Cut off mid-start, as a power loss or an OOM kill would: the starter and the server.
        os.killpg(pid, signal.SIGKILL)
        os.killpg(starter.pid, signal.SIGKILL)
    finally:
        starter.wait()
    assert not (prefect / "server.ready").exists()
    run = _run(home, "run", "--no-model", *SMALL, "--db", str(tmp_path / "a.duckdb"))
    assert run.code == 0, run.err[-2000:]
    assert "whose first start did not finish" in run.err
    # A server that died later is replaced by the next run.
    dead = _server_state(home)["pid"]
    assert isinstance(dead, int)
    os.killpg(dead, signal.SIGKILL)
    again = _run(home, "run", "--no-model", *SMALL, "--db", str(tmp_path / "b.duckdb"))
    assert again.code == 0, again.err[-2000:]
    assert "starting the local Prefect server" in again.err and "whose first start" not in again.err
    assert _server_state(home)["pid"] != dead


@pytest.mark.parametrize(("args", "extra", "expected"), [
    (["run", "--examples", "abc"], {},
     "error: Invalid value for '--examples' / '-n': Input should be a valid integer, unable to parse string as "
     "an integer (see `backchain run -h`)"),
    (["run", "--bogus"], {}, "error: No such option: --bogus (see `backchain run -h`)"),
    (["run", "--no-model"], {"BACKCHAIN_PREFECT_API_URL": "http://127.0.0.1:9/api"},
     "error: the Prefect API at http://127.0.0.1:9/api (BACKCHAIN_PREFECT_API_URL) does not answer "
     "http://127.0.0.1:9/api/health; start that server, or unset BACKCHAIN_PREFECT_API_URL to let backchain run its own"),
    (["run", "--no-model"], {"BACKCHAIN_PREFECT_START_TIMEOUT": "soon"},
     "error: BACKCHAIN_PREFECT_START_TIMEOUT='soon': expected a number of seconds above 0"),
    (["run", "--no-model"], {"BACKCHAIN_MODEL_TIMEOUT": "-1"},
     "error: BACKCHAIN_MODEL_TIMEOUT='-1': expected a number of seconds above 0"),
])
def test_failures_the_program_can_name_are_one_line(home: Path, args: list[str], extra: dict[str, str],
                                                    expected: str) -> None:
    done = _run(home, *args, timeout=120, **extra)
    lines = [ln for ln in done.err.splitlines() if ln.strip() and not ln.startswith("·")]
    assert done.code in (1, 2) and lines == [expected], done.err
    assert not (home / "backchain.duckdb").exists()
    assert not (home / "prefect" / "server.json").exists()
