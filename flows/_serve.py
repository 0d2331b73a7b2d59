"""`backchain serve` and `backchain schedules`: the generate flow on cron or interval schedules.

Schedules need a real Prefect API: the temporary server Prefect starts per
process refuses to schedule. `serve` uses the API every run uses
(flows/_prefect_server.py): BACKCHAIN_PREFECT_API_URL or PREFECT_API_URL when
set, else the home's shared local server, started if it is not running. The
server outlives serve like it outlives a run; `backchain server stop` ends it.
Serve stops on Ctrl+C or SIGTERM, and the flow-run processes its runner
spawned are reaped before it returns.

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

While serve runs, the state file ``$BACKCHAIN_HOME/serve.json`` records the
API URL, serve's PID, the server's PID and the deployments; it is removed on
exit. `backchain schedules` reads the same API a run would use, and fails
with a hint when none is running. The flows run in processes the Prefect
runner spawns; the runner is given the run parameters as JSON (the flow turns
them back into a RunConfig).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas import ConfigError

from ._config import DATASET_PATTERN, RunConfig, build_config, load_config_file
from ._prefect_env import home_dir
from ._prefect_server import configured_api_url, ensure_server, healthy, running_server

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


# -- serving -------------------------------------------------------------------------------------

def serve(file: Path, db: Path, *, limit: int | None = 1) -> None:
    """Register one deployment per entry and serve them until Ctrl+C or SIGTERM."""
    entries = load_schedules(file, db)  # every entry checked before anything starts
    # SIGTERM before Prefect's runner installs its own handler still unwinds through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with contextlib.ExitStack() as stack:
        from ._report import Reporter

        reporter = Reporter()
        server = ensure_server(reporter.note, reporter.waiting)
        url, server_pid = server.url, server.pid
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
    """The API a run would use: one configured, else the home's running server (none is started)."""
    url = configured_api_url()
    if url:
        if not healthy(url):
            raise ServeError(f"the configured Prefect API {url} does not answer; start it or unset it")
        return url
    server = running_server()
    if server is None:
        raise ServeError(
            "no Prefect server is running for this home: start `backchain serve` (or `backchain server start`), "
            "or set BACKCHAIN_PREFECT_API_URL"
        )
    return server.url


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
