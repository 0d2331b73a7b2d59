"""`backchain server`: the local Prefect server that runs share (flows/_prefect_server.py)."""

from __future__ import annotations

import json

import typer

from schemas import BackchainError

from ._cli_common import CONTEXT_SETTINGS, fail

server_app = typer.Typer(
    help="The local Prefect server backchain runs share: start, status, stop.",
    context_settings=CONTEXT_SETTINGS, no_args_is_help=True, add_completion=False,
)


@server_app.command("start")
def start() -> None:
    """Start this home's Prefect server (runs start it when needed; this only does it early).

    Example: backchain server start
    """
    try:
        from ._prefect_server import ensure_server
        from ._report import Reporter

        reporter = Reporter()
        info = ensure_server(reporter.note, reporter.waiting)
        where = "configured by the environment" if not info.managed else f"pid {info.pid}"
        verb = "started" if info.started else "already running"
        typer.echo(f"Prefect API {info.url} ({verb}, {where})")
    except BackchainError as exc:
        fail(str(exc))


@server_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Show the Prefect API runs use: a configured URL, or this home's server (URL, PID, log).

    Example: backchain server status
    """
    try:
        from ._prefect_server import server_status

        info = server_status()
        if as_json:
            typer.echo(json.dumps(info, indent=1))
            return
        if info["configured_api_url"]:
            typer.echo(f"runs use the configured Prefect API {info['configured_api_url']}")
        if info["pid"]:
            health = "healthy" if info["healthy"] else "not answering"
            typer.echo(f"local Prefect server: {info['url']} (pid {info['pid']}, {health}); log: {info['log']}")
        else:
            typer.echo(f"no local Prefect server is running for {info['home']} (the next run starts one)")
    except BackchainError as exc:
        fail(str(exc))


@server_app.command("stop")
def stop() -> None:
    """Stop this home's Prefect server (the next run starts a new one).

    Example: backchain server stop
    """
    try:
        from ._prefect_server import stop_server

        message = stop_server()
        typer.echo(message)
    except BackchainError as exc:
        fail(str(exc))
