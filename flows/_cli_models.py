"""`backchain models`: the bundled models, and joining the chunked ones once (generators/_bundled.py)."""

from __future__ import annotations

import json
from typing import Any

import typer

from schemas import BackchainError

from ._cli_common import CONTEXT_SETTINGS, fail

models_app = typer.Typer(
    help="The bundled models: list them, or join and verify the chunked ones (make install does).",
    context_settings=CONTEXT_SETTINGS, no_args_is_help=True, add_completion=False,
)


@models_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print the list as JSON.")) -> None:
    """List the bundled models: size name, file, bytes, sha256, and whether the file is ready.

    Example: backchain models list
    """
    try:
        from generators import BUNDLED
        from generators._bundled import cache_dir

        rows: list[dict[str, Any]] = []
        for key, m in BUNDLED.items():
            path = None if m.package else cache_dir() / m.file_name
            rows.append({"name": key, "alias": m.alias, "file": str(path) if path else f"(in {m.package})",
                         "bytes": m.size, "sha256": m.sha256, "ready": bool(path is None or path.exists()),
                         "install": m.install})
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        for r in rows:
            state = "ready" if r["ready"] else "not joined yet (backchain models prepare)"
            typer.echo(f"{r['name']:<5} {r['alias']:<52} {int(r['bytes']) / 2**20:7.0f} MiB  {state}")
    except BackchainError as exc:
        fail(str(exc))


@models_app.command("prepare")
def prepare(
    names: list[str] = typer.Argument(None, help="Bundled model names (default: base)."),
) -> None:
    """Join a chunked model's installed parts once into the cache, verify size and sha256.

    Example: backchain models prepare base small
    """
    try:
        from generators import resolve_local_model

        for name in names or ["base"]:
            path, alias = resolve_local_model(name, note=lambda text: typer.echo(f"· {text}", err=True))
            typer.echo(f"{name}: {path} ({alias})")
    except BackchainError as exc:
        fail(str(exc))
