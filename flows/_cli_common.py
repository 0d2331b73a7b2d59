"""What every command module shares: the error console, the one-line failure, --debug, the
``--db`` option and opening the store it names, and rows printed as a table, CSV or JSON.

A failure the program can name is one line on stderr and exit status 1; the
traceback is shown only with ``--debug`` (or BACKCHAIN_DEBUG=1).
"""

from __future__ import annotations

import csv
import io
import json
import os
import traceback
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from schemas import ConfigError

from ._json import jsonable
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


DbOption = typer.Option(None, "--db", help="DuckDB file (default: $BACKCHAIN_DB, else data/backchain.duckdb).")


def db_path(db: Path | None) -> Path:
    """The ``--db`` given, else the default database."""
    return db or default_db()


def open_store(db: Path, *, read_only: bool) -> Any:
    """The store at ``db``; read-only needs the file to exist already."""
    from store import Store

    if read_only and not db.exists():
        raise ConfigError(f"no database at {db}: run `backchain run` first, or pass --db")
    return Store(db, read_only=read_only)


def open_existing(db: Path, *, read_only: bool) -> Any:
    """A store over a file that must exist already: these commands never create one."""
    from store import Store

    if not db.exists():
        raise ConfigError(f"no database at {db}: run `backchain run` first, or pass --db")
    return Store(db, read_only=read_only)


def ref_text(info: Any) -> str:
    return f"{info.dataset}@{info.version}"


def render_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """Rows as a rich table (with a row count), CSV or JSON (a list of objects)."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, map(jsonable, r))) for r in rows], ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows(rows)
        return buf.getvalue()
    table = Table(*columns, show_lines=False)
    for r in rows:
        table.add_row(*("" if v is None else str(v)[:200] for v in r))
    buf = io.StringIO()
    out = Console(file=buf, width=200, force_terminal=False)
    out.print(table)
    out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")
    return buf.getvalue()
