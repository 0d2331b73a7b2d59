"""Kill a real `backchain run` with SIGKILL, start it again, and count what the tools executed.

Every run here is a real subprocess (`backchain run`, Prefect flow included,
reporting to one real `prefect server` for the module instead of starting a
temporary one per run) against a real MCP server process (servers/atlas_server.py) that appends each
execution to a log before answering, so the test counts from outside what was
executed, including a call that was in flight when the run died. The whole
process group is killed, as an OOM kill or a lost machine would.

What is proven, against an uninterrupted run of the same config on a fresh
database:
- the resumed run seals a version with the same content hash, and the killed
  run left no version (nor a 'running' row once the next run started);
- the resumed run executes exactly the calls the reference executed, minus the
  ones the killed run had recorded: no finished call is made twice;
- a second rerun executes no tool call at all.

With the bundled model as writer and judge (behind a counting proxy), a run
killed while the model works resumes asking the model only what the killed
run had no answer for, and a rerun asks it nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import canonical_json
from store import Store

SERVER = Path(__file__).parent / "servers" / "atlas_server.py"
BACKCHAIN = Path(sys.executable).with_name("backchain")
DATASET = "atlas"


CITIES = ["Paris", "Lyon", "Nantes", "Tokyo", "Osaka", "Sapporo", "Lima", "Cusco", "Arequipa"]


def _config(tmp_path: Path, model: list[str] | None = None) -> Path:
    """The run config; the server logs to ``calls.jsonl`` beside it (the same command for every run).

    ``model``: config lines naming a writer and judge; without them, --no-model.
    """
    command = [sys.executable, str(SERVER), str(tmp_path / "calls.jsonl")]
    lines = [
        f'dataset = "{DATASET}"', "seed = 3", "dedup_threshold = 0", "max_calls = 40",
        *(model or ["examples = 8", "no_model = true"]),
        "[values]", f"city = {json.dumps(CITIES)}",
        "[[toolsets]]", f"mcp = {json.dumps(command)}", "concurrency = 2",
    ]
    path = tmp_path / "run.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Run:
    """One `backchain run` subprocess in its own process group, output to files.

    The server's log is shared by the runs of one config; a run's calls are the
    lines written after it started. ``delay`` seconds are slept per call.
    """

    def __init__(
        self, tmp_path: Path, name: str, config: Path, db: Path, *, api: str, delay: float,
        args: tuple[str, ...] = (),
    ) -> None:
        self.log = config.parent / "calls.jsonl"
        self.log.touch()
        self.log.with_name("calls.jsonl.delay").write_text(str(delay))
        self.start = len(self._lines())
        self.end: int | None = None  # set when the run has ended
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        env = {**os.environ, "BACKCHAIN_HOME": str(tmp_path / "home"), "PREFECT_API_URL": api}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [str(BACKCHAIN), "run", "--config", str(config), "--db", str(db), *args],
                stdout=out, stderr=err, env=env, start_new_session=True,
            )

    def _lines(self) -> list[str]:
        text = self.log.read_text()
        return text[: text.rfind("\n") + 1].splitlines()  # a line being written is not a call yet

    def calls(self) -> list[tuple[str, str]]:
        """(tool, arguments) of every execution the server logged for this run, in order."""
        return [_call_of(json.loads(line)) for line in self._lines()[self.start:self.end]]

    def finish(self, timeout: float = 300) -> str:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        self.end = len(self._lines())
        assert self.proc.returncode == 0, self.err.read_text()[-3000:]
        return self.out.read_text()

    def kill_when(self, ready: Callable[[], bool], timeout: float = 240) -> None:
        """SIGKILL the whole process group as soon as ``ready()``; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail("the run ended before it could be killed:\n" + self.err.read_text()[-2000:])
            if time.monotonic() > deadline:
                os.killpg(self.proc.pid, signal.SIGKILL)
                pytest.fail("the run never reached the point to kill it at")
            time.sleep(0.01)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        time.sleep(0.5)  # the server, if still up, sees its stdin close and exits
        self.end = len(self._lines())


def _number(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _call_of(record: dict[str, Any]) -> tuple[str, str]:
    """A call as (tool, canonical arguments); numbers as floats (the server sees 2 as 2.0)."""
    return record["tool"], canonical_json({k: _number(v) for k, v in record["arguments"].items()})


def _recorded(db: Path) -> Counter[tuple[str, str]]:
    """The calls in the store's call cache (one per purpose: exploration and replay)."""
    with Store(db, read_only=True) as store:
        _, rows = store.query("SELECT observation FROM call_cache")
    return Counter(_call_of(json.loads(r[0])) for r in rows)


def _state(db: Path) -> dict[str, Any]:
    with Store(db, read_only=True) as store:
        _, runs = store.query("SELECT run_id, status FROM runs ORDER BY started_at")
        _, purposes = store.query("SELECT purpose, count(*) FROM call_cache GROUP BY ALL")
        versions = store.versions()
    return {"runs": runs, "purposes": dict(purposes), "versions": versions}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Prefect API for the module's runs: the shared local server of a home of its own
    (or the session's harness, when one is already up in this process)."""
    from flows._prefect_server import ensure_server, stop_server

    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("prefect-home")
    patch.setenv("BACKCHAIN_HOME", str(home))
    patch.setenv("PREFECT_HOME", str(home / "prefect"))
    try:
        yield ensure_server(lambda _text: None).url
        stop_server()
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, api: str) -> dict[str, Any]:
    """An uninterrupted run on a fresh database: its version, its executions, its call cache."""
    tmp = tmp_path_factory.mktemp("reference")
    db = tmp / "ref.duckdb"
    run = Run(tmp, "ref", _config(tmp), db, api=api, delay=0.0)
    run.finish()
    state = _state(db)
    assert len(state["versions"]) == 1
    return {"hash": state["versions"][0].content_hash, "rows": state["versions"][0].row_count,
            "calls": Counter(run.calls()), "purposes": state["purposes"]}


def _kill_and_resume(
    tmp_path: Path, api: str, reference: dict[str, Any], ready: Callable[[Run, Path], bool]
) -> dict[str, Any]:
    db = tmp_path / "resume.duckdb"
    config = _config(tmp_path)
    killed = Run(tmp_path, "killed", config, db, api=api, delay=0.3)
    killed.kill_when(lambda: ready(killed, db))

    after_kill = _state(db)
    assert after_kill["versions"] == [], "a killed run left a version"
    assert [status for _, status in after_kill["runs"]] == ["running"]
    recorded_at_kill = _recorded(db)
    assert recorded_at_kill, "nothing was recorded before the kill"

    resumed = Run(tmp_path, "resumed", config, db, api=api, delay=0.0)
    out = resumed.finish()
    after = _state(db)
    assert [v.content_hash for v in after["versions"]] == [reference["hash"]]
    assert [status for _, status in after["runs"]] == ["interrupted", "completed"]
    assert f"resumed        {sum(recorded_at_kill.values())} cached tool calls" in out
    # Exactly what the reference executed, less what the killed run had finished and recorded.
    assert Counter(resumed.calls()) == reference["calls"] - recorded_at_kill
    # So the only calls made twice are those the kill lost: in flight (logged by the server,
    # never returned) or returned but not yet committed (the writer commits within one
    # commit's time, well under the 0.3 s each call takes here): at most two per slot.
    repeated = Counter(killed.calls()) + Counter(resumed.calls()) - reference["calls"]
    assert repeated == Counter(killed.calls()) - recorded_at_kill
    assert sum(repeated.values()) <= 2 * 2  # the toolset's concurrency is 2
    assert after["purposes"] == reference["purposes"]

    again = Run(tmp_path, "again", config, db, api=api, delay=0.0)
    out = again.finish()
    assert again.calls() == [], "a rerun with the same config executed tool calls"
    assert f"resumed        {sum(reference['calls'].values())} cached tool calls" in out
    versions = _state(db)["versions"]
    assert [v.content_hash for v in versions] == [reference["hash"]] * 2
    return {"killed_at": recorded_at_kill, "killed": killed, "resumed": resumed}


def test_a_run_killed_mid_exploration_resumes_to_the_same_version(
    tmp_path: Path, api: str, reference: dict[str, Any]
) -> None:
    explore_calls = reference["purposes"]["explore"]
    assert explore_calls >= 10 and reference["rows"] > 0

    def halfway_through_exploration(run: Run, db: Path) -> bool:
        return len(run.calls()) >= explore_calls // 2

    result = _kill_and_resume(tmp_path, api, reference, halfway_through_exploration)
    assert sum(result["killed_at"].values()) < explore_calls


def test_a_run_killed_during_replay_resumes_without_replaying_twice(
    tmp_path: Path, api: str, reference: dict[str, Any]
) -> None:
    explore_calls = reference["purposes"]["explore"]
    assert reference["purposes"].get("replay:1", 0) >= 8

    def replay_under_way(run: Run, db: Path) -> bool:
        # every exploration call, then six replays: the first two have returned and been committed
        return len(run.calls()) >= explore_calls + 6

    result = _kill_and_resume(tmp_path, api, reference, replay_under_way)
    assert sum(result["killed_at"].values()) > explore_calls  # some replays were recorded


def test_refresh_executes_every_call_again_and_records_the_new_results(
    tmp_path: Path, api: str, reference: dict[str, Any]
) -> None:
    db = tmp_path / "refresh.duckdb"
    config = _config(tmp_path)
    Run(tmp_path, "first", config, db, api=api, delay=0.0).finish()
    refreshed = Run(tmp_path, "refreshed", config, db, api=api, delay=0.0, args=("--refresh",))
    out = refreshed.finish()
    assert Counter(refreshed.calls()) == reference["calls"]
    assert "cached tool calls" not in out
    runs = _state(db)["runs"]
    with Store(db, read_only=True) as store:
        _, rows = store.query("SELECT run_id, count(*) FROM call_cache GROUP BY ALL")
    # Every entry was written again, by the refreshed run.
    assert rows == [(runs[-1][0], sum(reference["purposes"].values()))]
    assert [v.content_hash for v in _state(db)["versions"]] == [reference["hash"]] * 2


# -- with a model: a run killed while writing or judging ---------------------------------------

class CountingProxy:
    """A real HTTP proxy on 127.0.0.1 in front of the model server, counting chat completions."""

    def __init__(self, upstream: str) -> None:
        import threading
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        origin = "{0.scheme}://{0.netloc}".format(urlsplit(upstream))
        self.requests = 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _forward(self, body: bytes | None) -> None:
                if self.path.endswith("/chat/completions"):
                    with lock:
                        proxy.requests += 1
                request = urllib.request.Request(origin + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=600) as resp:
                        status, data = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                except OSError:
                    return  # the client is gone (killed): nothing to answer
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client was killed while the model worked

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


RUBRIC = """
id: resume
root:
  id: root
  strategy: sequential
  children:
    - id: correctness
      critical: true
      strategy: sequential
      children:
        - {id: record_schema, check: record_schema, critical: true}
        - {id: provenance, check: provenance, critical: true}
        - {id: answer_resolves, check: answer_pointers, critical: true}
    - id: request_is_natural
      question: Is the user's request written the way a real person would ask for this?
"""


def _replies(db: Path) -> int:
    with Store(db, read_only=True) as store:
        return int(store.query("SELECT count(*) FROM reply_cache")[1][0][0])


def test_a_run_killed_while_the_model_works_resumes_without_asking_twice(
    tmp_path: Path, api: str, llama_endpoint: Any
) -> None:
    """Model replies are recorded as they return too: the resumed run asks only what was not answered."""
    proxy = CountingProxy(llama_endpoint.url)
    try:
        rubric = tmp_path / "rubric.yaml"
        rubric.write_text(RUBRIC)
        endpoint = f'{{url = "{proxy.url}", model = "{llama_endpoint.model}"}}'
        model = ["examples = 3", f"llm = {endpoint}", f"judge = {endpoint}", f'rubric = "{rubric}"',
                 'kinds = {single = 1, multi_step = 1}']

        ref_dir = tmp_path / "ref"
        ref_dir.mkdir()
        ref_db = ref_dir / "ref.duckdb"
        reference = Run(ref_dir, "ref", _config(ref_dir, model), ref_db, api=api, delay=0.0)
        reference.finish()
        asked = proxy.requests
        assert asked >= 4 and _replies(ref_db) == asked  # no request asked twice within a run
        ref_hash = _state(ref_db)["versions"][0].content_hash

        db = tmp_path / "resume.duckdb"
        config = _config(tmp_path, model)
        proxy.requests = 0
        killed = Run(tmp_path, "killed", config, db, api=api, delay=0.0)
        killed.kill_when(lambda: proxy.requests >= asked // 2 + 1)
        assert _state(db)["versions"] == []
        answered = _replies(db)
        assert 0 < answered < asked
        assert len(killed.calls()) == sum(_recorded(db).values())  # every tool call had been recorded

        proxy.requests = 0
        resumed = Run(tmp_path, "resumed", config, db, api=api, delay=0.0)
        out = resumed.finish()
        assert proxy.requests == asked - answered  # only what the killed run had not been answered
        assert resumed.calls() == []  # the tool calls all came from the store
        assert f"and {answered} cached model replies" in out
        assert [v.content_hash for v in _state(db)["versions"]] == [ref_hash]

        proxy.requests = 0
        again = Run(tmp_path, "again", config, db, api=api, delay=0.0)
        again.finish()
        assert (proxy.requests, again.calls()) == (0, [])
    finally:
        proxy.close()
