"""What every command module shares: the error console, the one-line failure, --debug.

A failure the program can name is one line on stderr and exit status 1; the
traceback is shown only with ``--debug`` (or BACKCHAIN_DEBUG=1).
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from ._prefect_env import home_dir

err = Console(stderr=True)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class _Debug:
    """Whether --debug (or BACKCHAIN_DEBUG) asked for tracebacks; --debug sets BACKCHAIN_DEBUG
    so that Prefect's console filter (flows/_prefect_env.py) and child processes see it too."""

    @property
    def on(self) -> bool:
        return os.environ.get("BACKCHAIN_DEBUG", "").strip().lower() not in ("", "0", "false", "no")

    @on.setter
    def on(self, value: bool) -> None:
        os.environ["BACKCHAIN_DEBUG"] = "1" if value else "0"


debug = _Debug()


def fail(message: str) -> NoReturn:
    """Print ``message`` as one error line (and, with --debug, the traceback being handled); exit 1."""
    if debug.on:
        trace = traceback.format_exc()
        if trace.strip() and trace.strip() != "NoneType: None":
            err.print(trace.rstrip(), highlight=False, markup=False)
    err.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def default_db() -> Path:
    return Path(os.environ.get("BACKCHAIN_DB") or home_dir() / "backchain.duckdb")
