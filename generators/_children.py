"""Child processes that die with backchain: model servers and MCP servers.

Every server a run starts goes through ``generators/_guard.py`` (see there):
a SIGKILLed run leaves none behind. The shared Prefect server is the one
deliberate exception (flows/_prefect_server.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

GUARD = Path(__file__).with_name("_guard.py")


def guarded_command(argv: Sequence[str]) -> list[str]:
    """``argv`` run under the guard (Python in isolated mode: no imports beyond the standard library)."""
    return [sys.executable, "-I", str(GUARD), "--", *argv]
