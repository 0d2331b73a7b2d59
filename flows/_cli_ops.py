"""Operations commands: `serve`, `schedules` and `report`. Registered on the app in cli.py.

Kept out of cli.py so that command module stays a list of thin wrappers and
these, which start servers and read the Prefect API, live beside each other.
"""

from __future__ import annotations

from pathlib import Path

import typer

from schemas import BackchainError

from ._cli_common import DbOption, db_path, fail, render_rows


def serve(
    config: Path = typer.Option(..., "--config", "-c", help="TOML or YAML config with a 'schedules' list."),
    limit: int = typer.Option(
        1, "--limit", min=1,
        help="Flow runs at once (default: 1; DuckDB allows one writing process per file).",
    ),
    db: Path | None = DbOption,
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

        serve_schedules(config, db_path(db), limit=limit)
    except BackchainError as exc:
        fail(str(exc))


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
        typer.echo(render_rows(columns, [tuple(r[c] for c in columns) for r in rows], format), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def report(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest|@TIME]."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write (self-contained: no network needed to view it)."),
    db: Path | None = DbOption,
) -> None:
    """Write a version's run report as one HTML page: coverage, chains, kinds, scores, leaves,
    rejections, time and tokens per stage, latency percentiles.

    Every number comes from the report_* SQL macros, e.g.
    backchain sql "SELECT * FROM report_stages('default', 'latest')".

    Example: backchain report default@latest --out report.html
    """
    try:
        from schemas import ConfigError
        from store import Store, parse_ref

        from ._html_report import write_report

        dataset_name, version_ref = parse_ref(ref)
        path = db_path(db)
        if not path.exists():
            raise ConfigError(f"no database at {path}: run `backchain run` first, or pass --db")
        with Store(path, read_only=True) as store:
            try:
                meta, written = write_report(store, dataset_name, version_ref, out)
            except OSError as exc:
                raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
        typer.echo(f"wrote the report of {meta['dataset']}@{meta['version']} "
                   f"(version {meta['version_id']}, content {meta['content_hash'][:12]}) to {written}")
    except BackchainError as exc:
        fail(str(exc))
