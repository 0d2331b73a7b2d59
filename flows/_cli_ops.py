"""Operations commands: `serve`, `schedules` (and `report`). Registered on the app in cli.py.

Kept out of cli.py so that command module stays a list of thin wrappers and
these, which start servers and read the Prefect API, live beside each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from schemas import BackchainError

from .cli import DbOption, _db, _fail, _render_rows, app


@app.command()
def serve(
    config: Path = typer.Option(..., "--config", "-c", help="TOML or YAML config with a 'schedules' list."),
    limit: int = typer.Option(
        1, "--limit", min=1,
        help="Flow runs at once (default: 1; DuckDB allows one writing process per file).",
    ),
    db: Optional[Path] = DbOption,
) -> None:
    """Serve one Prefect deployment per scheduled dataset (cron or interval) until Ctrl+C.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server start` on a
    free loopback port and stops it on exit. Each entry of `schedules` names a
    dataset, exactly one of `cron` or `interval` (seconds), and `parameters`
    (run config fields) over the rest of the file.

    Example: backchain serve --config schedules.yaml
    """
    try:
        from ._serve import serve as serve_schedules

        serve_schedules(config, _db(db), limit=limit)
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def schedules(
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
) -> None:
    """List the generate deployments: schedule, next run, last run's state.

    Reads PREFECT_API_URL, else the server a running `backchain serve` recorded
    in $BACKCHAIN_HOME/serve.json.

    Example: backchain schedules
    """
    try:
        from schemas import ConfigError

        from ._serve import find_api_url, list_schedules

        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        rows = list_schedules(find_api_url())
        columns = ["deployment", "dataset", "schedule", "paused", "next_run", "last_run", "last_run_end"]
        typer.echo(_render_rows(columns, [tuple(r[c] for c in columns) for r in rows], format), nl=False)
    except BackchainError as exc:
        _fail(str(exc))
