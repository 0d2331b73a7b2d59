"""Run a command so that it dies with the process that started it (Linux).

    python -I generators/_guard.py -- CMD ARGS...

Run as a script, not as ``-m generators._guard``: importing the package would
cost a second of imports per server start. The guard asks the kernel for a
SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), starts the command in its
own process group (the command's children with it), and on that signal, or a
SIGTERM/SIGINT/SIGHUP from anyone, stops the whole group: SIGTERM, then
SIGKILL after a grace period. The command itself also gets SIGKILL should the
guard die first. Its stdin, stdout and stderr are the command's own, so an MCP
server's stdio passes straight through; its exit status is the command's.

So a run killed with SIGKILL leaves no model or MCP server process behind:
the kernel tells the guard, the guard ends the group. (PR_SET_PDEATHSIG fires
when the *thread* that started the guard exits; backchain starts its servers
from the thread that runs the whole run.)
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
GRACE = 3.0


def _die_with_parent(sig: int) -> None:
    """Ask the kernel for ``sig`` when this process's parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    _die_with_parent(signal.SIGKILL)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: _guard.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    parent = os.getppid()
    _die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        return 1
    try:
        os.setpgid(0, 0)  # the guard leads a group; the command joins it
    except PermissionError:  # already a session leader (started with start_new_session)
        pass
    try:
        child = subprocess.Popen(argv, preexec_fn=_child_setup)
    except OSError as exc:
        print(f"cannot run {argv[0]}: {exc}", file=sys.stderr)
        return 127

    def stop(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group signal below reaches us too
        group = os.getpgid(0)
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        if child.poll() is None:
            child.kill()
        # Anything else the command started in the group.
        try:
            os.killpg(group, signal.SIGKILL)
        finally:
            os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    code = child.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
