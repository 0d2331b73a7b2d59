"""`backchain serve` and `backchain schedules`: the generate flow on cron or interval schedules.

Schedules need a real Prefect API: the temporary server Prefect starts per
process refuses to schedule. So `serve` uses PREFECT_API_URL when it is set,
and otherwise starts ``prefect server start`` on a free loopback port itself
(PREFECT_HOME is the project's), waits for ``/api/health``, points the served
flows at it, and stops it on exit: Ctrl+C, SIGTERM, or an error. The server
runs in its own process group, which is what is stopped; it is also asked to
die with serve (Linux ``PR_SET_PDEATHSIG``) so that a SIGKILLed serve leaves
no orphan behind.

Each entry of the config file's ``schedules`` list becomes one Prefect
deployment of the ``generate`` flow. The rest of the file is the run config
every entry starts from; an entry's ``parameters`` override it:

    examples: 20
    schedules:
      - dataset: weather           # deployment name defaults to the dataset
        cron: "0 3 * * *"
        timezone: UTC
      - dataset: smoke
        interval: 600              # seconds
        parameters: {no_model: true, examples: 2}

How `backchain schedules` finds the API: PREFECT_API_URL if set, else the
state file ``$BACKCHAIN_HOME/serve.json`` that serve writes once its server is
healthy (URL, serve's PID, the server's PID, the deployments) and removes on
exit. The flows run in processes the Prefect runner spawns; the runner is
given the run parameters as JSON (the flow turns them back into a RunConfig).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas import ConfigError

from ._config import DATASET_PATTERN, RunConfig, build_config, load_config_file
from ._prefect_env import home_dir

FLOW_NAME = "generate"


class ServeError(ConfigError):
    """The Prefect server could not be started or reached."""


class ScheduleEntry(BaseModel):
    """One scheduled dataset: exactly one of ``cron`` or ``interval`` (seconds), and run parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(pattern=DATASET_PATTERN)
    name: str | None = Field(default=None, description="Deployment name (default: the dataset).")
    cron: str | None = None
    interval: float | None = Field(default=None, gt=0, description="Seconds between runs.")
    timezone: str | None = Field(default=None, description="IANA zone for cron, e.g. Europe/Berlin.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields for this entry.")
    paused: bool = False

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduleEntry:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron or interval")
        return self

    @property
    def deployment_name(self) -> str:
        return self.name or self.dataset


class Scheduled(BaseModel):
    """A validated entry: its deployment name, schedule and the flow's JSON parameters."""

    name: str
    schedule: Any
    parameters: dict[str, Any]
    paused: bool
    describe: str


def load_schedules(file: Path, db: Path) -> list[Scheduled]:
    """Every entry of the file's ``schedules``, validated; the first problem is one line naming the entry."""
    from prefect.client.schemas.schedules import construct_schedule

    data = load_config_file(file)
    raw = data.pop("schedules", None)
    if not raw:
        raise ConfigError(f"config {file}: no schedules; add a 'schedules' list (see `backchain serve -h`)")
    if not isinstance(raw, list):
        raise ConfigError(f"config {file}: schedules must be a list of entries")
    out: list[Scheduled] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        label = f"config {file}: schedules[{i}]"
        if isinstance(item, dict) and item.get("dataset"):
            label += f" ({item.get('name') or item['dataset']})"
        try:
            entry = ScheduleEntry.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise ConfigError(f"{label}: {where}: {str(first['msg']).removeprefix('Value error, ')}") from exc
        if entry.deployment_name in names:
            raise ConfigError(f"{label}: two entries are named {entry.deployment_name!r}; give one a name")
        names.add(entry.deployment_name)
        try:
            schedule = construct_schedule(
                interval=entry.interval, cron=entry.cron, timezone=entry.timezone or ("UTC" if entry.cron else None)
            )
        except (ValidationError, ValueError) as exc:
            what = f"cron {entry.cron!r}" if entry.cron else f"interval {entry.interval!r}"
            raise ConfigError(f"{label}: {what} is not a valid schedule") from exc
        base = {k: v for k, v in data.items()}
        base.update(entry.parameters)
        base["dataset"] = entry.dataset
        config = _entry_config(base, label)
        out.append(Scheduled(
            name=entry.deployment_name, schedule=schedule, paused=entry.paused,
            parameters={"config": config.model_dump(mode="json"), "db": str(db.resolve())},
            describe=f"cron {entry.cron}" if entry.cron else f"every {entry.interval:g}s",
        ))
    return out


def _entry_config(data: dict[str, Any], label: str) -> RunConfig:
    """The entry's RunConfig; an error names the entry, not a temporary file."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError:
        try:
            build_config(None, data)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {str(exc).removeprefix('options: ')}") from exc
        raise


# -- the server ----------------------------------------------------------------------------------

def state_file() -> Path:
    """Where serve records the API it serves against (read by `backchain schedules`)."""
    return home_dir() / "serve.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when ``{url}/health`` answers 200 (url is the API URL, ending in /api)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def prefect_server(startup_timeout: float = 90.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``prefect server start`` on a free loopback port, healthy, stopped (whole group) on exit."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log_path = home_dir() / "prefect-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": url}
    prefect_bin = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect_bin)] if prefect_bin.exists() else [sys.executable, "-m", "prefect"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*cmd, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while not healthy(url):
            if proc.poll() is not None:
                raise ServeError(f"prefect server exited with status {proc.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise ServeError(f"prefect server not healthy after {startup_timeout:.0f}s; see {log_path}")
            time.sleep(0.3)
        yield url, proc
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the process's group, then SIGKILL what is left after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# -- serving -------------------------------------------------------------------------------------

def serve(file: Path, db: Path, *, limit: int | None = 1) -> None:
    """Register one deployment per entry and serve them until Ctrl+C or SIGTERM."""
    entries = load_schedules(file, db)  # every entry checked before anything starts
    # SIGTERM before Prefect's runner installs its own handler still unwinds through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with contextlib.ExitStack() as stack:
        url = os.environ.get("PREFECT_API_URL")
        server_pid = None
        if not url:
            url, proc = stack.enter_context(prefect_server())
            server_pid = proc.pid
        elif not healthy(url):
            raise ServeError(f"PREFECT_API_URL={url} does not answer /health; start the server or unset it")
        os.environ["PREFECT_API_URL"] = url  # the runner's flow-run processes inherit it
        state = state_file()
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({
            "api_url": url, "pid": os.getpid(), "server_pid": server_pid,
            "deployments": [f"{FLOW_NAME}/{e.name}" for e in entries],
        }))
        stack.callback(lambda: state.unlink(missing_ok=True))
        print(f"serving {len(entries)} deployment(s) against {url}", file=sys.stderr)
        for e in entries:
            print(f"  {FLOW_NAME}/{e.name}: {e.describe}", file=sys.stderr)
        try:
            _run_runner(url, entries, limit)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)


def _run_runner(url: str, entries: list[Scheduled], limit: int | None) -> None:
    import asyncio

    from prefect.runner import Runner
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ._generate import generate_flow

    flow = generate_flow()

    async def main() -> None:
        runner = Runner(name="backchain-serve", pause_on_shutdown=True, limit=limit)
        for e in entries:
            await runner.aadd_flow(flow, name=e.name, schedules=[e.schedule], parameters=e.parameters,
                                   paused=e.paused or None)
        await runner.start()

    try:
        with temporary_settings({PREFECT_API_URL: url}):
            asyncio.run(main())
    finally:
        _reap_flow_run_processes()


def _reap_flow_run_processes(grace: float = 10.0) -> None:
    """Flow-run processes the runner spawned finish (or are terminated) before serve returns."""
    import multiprocessing

    deadline = time.monotonic() + grace
    for child in multiprocessing.active_children():
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.terminate()
            child.join(5)


# -- listing -------------------------------------------------------------------------------------

def find_api_url() -> str:
    """PREFECT_API_URL, else the URL of a running `backchain serve` (its state file)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    state = state_file()
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        raise ServeError(
            f"no Prefect API: set PREFECT_API_URL or start `backchain serve` (no {state})"
        ) from None
    url = str(data.get("api_url") or "")
    if not url or not healthy(url):
        raise ServeError(f"the server in {state} ({url or 'no url'}) does not answer; is `backchain serve` running?")
    return url


def list_schedules(url: str) -> list[dict[str, Any]]:
    """Deployments of the generate flow: schedule, next scheduled run, last finished run."""
    import asyncio

    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}):
        return asyncio.run(_list_schedules())


async def _list_schedules() -> list[dict[str, Any]]:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    def runs_of(dep_id: Any, types: list[StateType]) -> tuple[DeploymentFilter, FlowRunFilter]:
        return (DeploymentFilter(id=DeploymentFilterId(any_=[dep_id])),
                FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types))))

    rows: list[dict[str, Any]] = []
    async with get_client() as client:
        deployments = await client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
        for dep in sorted(deployments, key=lambda d: d.name):
            dfilter, pending = runs_of(dep.id, [StateType.SCHEDULED])
            upcoming = await client.read_flow_runs(deployment_filter=dfilter, flow_run_filter=pending,
                                                   sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
            _, done = runs_of(dep.id, [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED,
                                       StateType.CANCELLED])
            last = await client.read_flow_runs(deployment_filter=dfilter, flow_run_filter=done,
                                               sort=FlowRunSort.END_TIME_DESC, limit=1)
            rows.append({
                "deployment": f"{FLOW_NAME}/{dep.name}",
                "schedule": "; ".join(_describe(s.schedule) for s in dep.schedules) or "none",
                "paused": bool(dep.paused),
                "next_run": upcoming[0].expected_start_time.isoformat() if upcoming and upcoming[0].expected_start_time else None,
                "last_run": last[0].state_name if last else None,
                "last_run_end": last[0].end_time.isoformat() if last and last[0].end_time else None,
                "dataset": (dep.parameters.get("config") or {}).get("dataset"),
            })
    return rows


def _describe(schedule: Any) -> str:
    if getattr(schedule, "cron", None):
        return f"cron {schedule.cron} ({schedule.timezone or 'UTC'})"
    if getattr(schedule, "interval", None) is not None:
        return f"every {schedule.interval.total_seconds():g}s"
    return str(getattr(schedule, "rrule", schedule))
