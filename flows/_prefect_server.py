"""One local Prefect server per Prefect home, shared by every run.

Without an API URL, Prefect starts a temporary server inside each process and
gives it 20 s (measured here: the first start in a fresh home takes about
20 s, later ones about 7 s; on a busy 2-core machine it failed even at 240 s).
So backchain keeps one long-lived ``prefect server start`` per Prefect home
($PREFECT_HOME, by default data/prefect):

* The first run starts it in the background, detached in its own session (a
  Ctrl+C or a SIGKILL of that run does not take it down), on a free loopback
  port, logging to ``server.log``. Its URL and PID go to ``server.json``.
* ``server.lock`` (an flock, released by the kernel when its holder dies)
  makes concurrent first runs start one server: the others wait on the lock,
  then find it running.
* Later and concurrent runs connect to it. A dead server (PID gone, or a PID
  that is no longer a Prefect server, or one that does not answer) is replaced.
* ``backchain server stop`` ends it; ``backchain server status`` shows it.
* ``BACKCHAIN_PREFECT_API_URL``, or Prefect's own ``PREFECT_API_URL`` (from the
  environment, a Prefect profile, or a test harness's settings), points at an
  existing server instead; then nothing is started.

Startup waits as long as a busy machine needs: ``BACKCHAIN_PREFECT_START_TIMEOUT``
seconds (default 600), and only while the server process is alive.

A first start migrates Prefect's SQLite database. If that start is cut off
(the server killed mid-migration), the file must not break the next run: the
marker ``server.ready`` is written only once a server of this home has
answered, and a database found without it is removed before a server starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import ConfigError

API_URL_ENV = "BACKCHAIN_PREFECT_API_URL"
START_TIMEOUT_ENV = "BACKCHAIN_PREFECT_START_TIMEOUT"
DEFAULT_START_TIMEOUT = 600.0

Note = Callable[[str], None]


class PrefectServerError(ConfigError):
    """The Prefect API could not be started or reached."""


@dataclass(frozen=True)
class ServerInfo:
    """The API a run uses: its URL, and the local server's PID when backchain manages it."""

    url: str
    pid: int | None = None
    started: bool = False
    """True when this call started the server (a first start, or a dead one replaced)."""
    managed: bool = True
    """False for a server named by BACKCHAIN_PREFECT_API_URL / PREFECT_API_URL."""


def prefect_home() -> Path:
    """Prefect's home (configure_prefect_env has set PREFECT_HOME before this is called)."""
    from ._prefect_env import home_dir

    return Path(os.environ.get("PREFECT_HOME") or (home_dir() / "prefect")).resolve()


def _paths(home: Path) -> dict[str, Path]:
    return {"state": home / "server.json", "lock": home / "server.lock", "log": home / "server.log",
            "ready": home / "server.ready", "db": home / "prefect.db"}


def start_timeout() -> float:
    """Seconds a server start may take: $BACKCHAIN_PREFECT_START_TIMEOUT, else 600."""
    from ._config import env_seconds

    return env_seconds(START_TIMEOUT_ENV) or DEFAULT_START_TIMEOUT


def configured_api_url() -> str | None:
    """An API the user named: BACKCHAIN_PREFECT_API_URL, else Prefect's PREFECT_API_URL setting."""
    url = os.environ.get(API_URL_ENV, "").strip()
    if url:
        return url.rstrip("/")
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value).rstrip("/") if value else None


def healthy(url: str, timeout: float = 3.0) -> bool:
    """True when ``{url}/health`` answers 200 (url is the API URL, ending in /api)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    """The PID runs and is a Prefect server (a recycled PID is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie is gone
            return False
    except (OSError, IndexError):
        return False
    return any(b"prefect" in part for part in cmdline) and b"server" in cmdline


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefect_command() -> list[str]:
    prefect_bin = Path(sys.executable).with_name("prefect")
    return [str(prefect_bin)] if prefect_bin.exists() else [sys.executable, "-m", "prefect"]


@contextlib.contextmanager
def _locked(path: Path, timeout: float, note: Note) -> Iterator[None]:
    """Hold ``path``'s flock; wait up to ``timeout`` s for another process that holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    note("another backchain process is starting the Prefect server; waiting for it")
                    told = True
                if time.monotonic() > deadline:
                    raise PrefectServerError(
                        f"waited {timeout:.0f} s for another process to start the Prefect server "
                        f"(lock: {path}); raise {START_TIMEOUT_ENV} or set {API_URL_ENV}"
                    ) from None
                time.sleep(0.25)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running_server(home: Path | None = None) -> ServerInfo | None:
    """The home's server when it runs and answers, else None (nothing is started)."""
    paths = _paths(home or prefect_home())
    state = _read_state(paths["state"])
    pid, url = state.get("pid"), state.get("url")
    if isinstance(pid, int) and isinstance(url, str) and _alive(pid) and healthy(url):
        return ServerInfo(url=url, pid=pid)
    return None


def ensure_server(note: Note, wait: Callable[[str], contextlib.AbstractContextManager[Any]] | None = None) -> ServerInfo:
    """The API this process should use: the one configured, else the home's server (started if needed).

    ``note`` prints a progress line; ``wait(text)``, when given, is a context shown while
    a server starts (a spinner with the elapsed time).
    """
    configured = configured_api_url()
    if configured:
        if not healthy(configured, timeout=10.0):
            source = API_URL_ENV if os.environ.get(API_URL_ENV, "").strip() else "PREFECT_API_URL"
            raise PrefectServerError(
                f"the Prefect API at {configured} ({source}) does not answer {configured}/health; "
                f"start that server, or unset {source} to let backchain run its own"
            )
        return ServerInfo(url=configured, managed=False)
    home = prefect_home()
    found = running_server(home)
    if found is not None:
        return found
    timeout = start_timeout()
    paths = _paths(home)
    with _locked(paths["lock"], timeout + 30.0, note):
        found = running_server(home)  # another process may have started it while we waited
        if found is not None:
            return found
        return _start(paths, timeout, note, wait)


def _start(
    paths: dict[str, Path], timeout: float, note: Note,
    wait: Callable[[str], contextlib.AbstractContextManager[Any]] | None,
) -> ServerInfo:
    """Start the home's server (holding the lock): replace a dead one, never reuse a half-made database."""
    state = _read_state(paths["state"])
    old = state.get("pid")
    if isinstance(old, int) and _alive(old):
        note(f"the Prefect server (pid {old}) does not answer; replacing it")
        _stop_pid(old)
    paths["state"].unlink(missing_ok=True)
    first = not paths["ready"].exists()
    if first and paths["db"].exists():
        note(f"removing {paths['db']}: a Prefect database whose first start did not finish")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{paths['db']}{suffix}").unlink(missing_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(PREFECT_HOME=str(paths["db"].parent), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="true", PYTHONUNBUFFERED="1")
    cmd = [*_prefect_command(), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"]
    with open(paths["log"], "ab") as log:
        log.write(f"\n--- backchain started {' '.join(cmd)} at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        log.flush()
        # Its own session: a Ctrl+C in the terminal or the death of this run leaves it up for the next run.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    _write_state(paths["state"], {"url": url, "pid": proc.pid, "status": "starting",
                                  "started_at": time.time()})
    what = ("starting the local Prefect server (first start in this home: it creates its database)"
            if first else "starting the local Prefect server")
    note(f"{what}; log: {paths['log']}")
    started = time.monotonic()
    with (wait(what) if wait is not None else contextlib.nullcontext()):
        while not healthy(url):
            code = proc.poll()
            if code is not None:
                paths["state"].unlink(missing_ok=True)
                raise PrefectServerError(
                    f"the Prefect server exited with status {code} while starting "
                    f"({_log_tail(paths['log'])}); log: {paths['log']}"
                )
            if time.monotonic() - started > timeout:
                _stop_pid(proc.pid)
                paths["state"].unlink(missing_ok=True)
                raise PrefectServerError(
                    f"the Prefect API did not start in {timeout:.0f} s (log: {paths['log']}); "
                    f"raise {START_TIMEOUT_ENV} or set {API_URL_ENV} to a running server"
                )
            time.sleep(0.5)
    paths["ready"].write_text(_prefect_version())
    _write_state(paths["state"], {"url": url, "pid": proc.pid, "status": "up", "started_at": time.time()})
    note(f"Prefect server up at {url.removesuffix('/api')} in {time.monotonic() - started:.0f} s "
         "(shared by later runs; `backchain server stop` ends it)")
    return ServerInfo(url=url, pid=proc.pid, started=True)


def _prefect_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefect")
    except PackageNotFoundError:  # pragma: no cover - the CLI needs prefect installed
        return "unknown"


def _log_tail(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:200] if lines else "empty log"


def _stop_pid(pid: int, grace: float = 15.0) -> None:
    """SIGTERM the server's process group (it leads its own session), SIGKILL it after ``grace`` s."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
            if not _alive(pid):
                return
            time.sleep(0.1)


def stop_server(home: Path | None = None) -> str:
    """Stop the home's server; a one-line account of what was done."""
    home = home or prefect_home()
    paths = _paths(home)
    with _locked(paths["lock"], 60.0, lambda _text: None):
        state = _read_state(paths["state"])
        pid, url = state.get("pid"), state.get("url")
        paths["state"].unlink(missing_ok=True)
        if not isinstance(pid, int) or not _alive(pid):
            return f"no Prefect server is running for {home}"
        _stop_pid(pid)
    return f"stopped the Prefect server at {str(url).removesuffix('/api')} (pid {pid})"


def server_status(home: Path | None = None) -> dict[str, Any]:
    """What `backchain server status` prints: the API in use and the home's server."""
    home = home or prefect_home()
    paths = _paths(home)
    state = _read_state(paths["state"])
    pid, url = state.get("pid"), state.get("url")
    running = isinstance(pid, int) and _alive(pid)
    return {
        "home": str(home),
        "configured_api_url": configured_api_url(),
        "url": url if running else None,
        "pid": pid if running else None,
        "healthy": bool(running and isinstance(url, str) and healthy(url)),
        "log": str(paths["log"]),
        "database_ready": paths["ready"].exists(),
    }


@contextlib.contextmanager
def using_api(url: str) -> Iterator[None]:
    """Point this process (and the processes it starts: Dask workers) at the Prefect API ``url``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings({PREFECT_API_URL: url}):
            yield
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
