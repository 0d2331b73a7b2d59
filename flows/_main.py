"""The console script's first step: say something within a second, then load the CLI.

Loading the whole CLI (Prefect, the MCP SDK, DuckDB, pydantic models) takes a
few seconds on a busy machine; a user must not watch a silent terminal, so a
line appears if loading takes longer than a second.
"""

from __future__ import annotations

import sys
import threading


def main() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    timer = threading.Timer(1.0, lambda: print(f"· loading backchain{' ' + command if command else ''}",
                                               file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        from .cli import main as cli_main
    finally:
        timer.cancel()
    cli_main()
