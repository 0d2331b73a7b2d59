"""Commands that measure a version's quality: `difficulty`, `diversity`, `audit`, `judge-check`,
and `tools` (what was called, and how a server's tools would be classified).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from schemas import BackchainError, ConfigError

from ._cli_common import DbOption, db_path, fail, open_store, render_rows
from ._config import endpoint_from, judge_endpoint_from
from ._json import jsonable


def difficulty(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest]."),
    k: int = typer.Option(4, "-k", help="Attempts per task (default: 4)."),
    sample: int | None = typer.Option(None, "--sample", help="Only a seeded sample of this many tasks."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample and the attempts (default: 0)."),
    solver_url: str | None = typer.Option(None, "--solver-url", help="Solver endpoint (default: the bundled model)."),
    solver_model: str | None = typer.Option(None, "--solver-model", help="Solver model name."),
    concurrency: int = typer.Option(4, "--concurrency", help="Requests in flight (default: 4)."),
    max_turns: int = typer.Option(4, "--max-turns", help="Solver turns per attempt (default: 4)."),
    db: Path | None = DbOption,
) -> None:
    """Measure each task's difficulty: K solver attempts in the replay simulator, never live.

    Example: backchain difficulty default@latest -k 4 --sample 20
    """
    try:
        from store import parse_ref

        from ._difficulty import measure_version, render_difficulty
        from ._report import Reporter

        if k < 1:
            raise ConfigError(f"-k {k}: need at least one attempt")
        endpoint = endpoint_from(solver_url, solver_model, "Solver", "BACKCHAIN_SOLVER")
        dataset_name, version_ref = parse_ref(ref)
        path = db_path(db)
        if not path.exists():
            raise ConfigError(f"no database at {path}: run `backchain run` first, or pass --db")
        solver = None
        if endpoint is not None:
            from generators import Endpoint

            solver = Endpoint(endpoint.url, endpoint.model, endpoint.api_key_env)
        results = asyncio.run(measure_version(
            path, dataset_name, version_ref, k=k, sample=sample, seed=seed, solver=solver,
            concurrency=concurrency, reporter=Reporter(), max_turns=max_turns))
        typer.echo(render_difficulty(results), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def audit(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest]."),
    sample: int = typer.Option(100, "--sample", help="Examples to audit, a seeded sample (default: 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample (default: 0)."),
    allow_writes: bool = typer.Option(False, "--allow-writes", help="Also re-execute examples that call write tools."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    db: Path | None = DbOption,
) -> None:
    """Re-execute a version's recorded calls today and report which answers would change.

    Example: backchain audit default@latest --sample 20
    """
    try:
        from store import parse_ref

        from ._audit import plan_audit, render_audit, run_audit

        dataset_name, version_ref = parse_ref(ref)
        with open_store(db_path(db), read_only=True) as store:
            plan = plan_audit(store, dataset_name, version_ref, sample=sample, seed=seed)
        report = asyncio.run(run_audit(plan, allow_writes=allow_writes))
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        else:
            typer.echo(render_audit(report), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def diversity(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest]."),
    sample: int = typer.Option(500, "--sample", min=1, help="Requests in the template-collapse check (default: 500)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    db: Path | None = DbOption,
) -> None:
    """Report a version's coverage (tools, edges, chain shapes, kinds) and request variety.

    Example: backchain diversity default@latest --json
    """
    try:
        from store import parse_ref
        from validators import diversity_report

        dataset_name, version_ref = parse_ref(ref)
        with open_store(db_path(db), read_only=True) as store:
            info = store.resolve(dataset_name, version_ref)
            examples = [e for e, _score, _split in store.iter_examples(info.version_id)]
        report = diversity_report(examples, sample=sample)
        if as_json:
            typer.echo(json.dumps({"dataset": info.dataset, "version": info.version, **report.to_json()},
                                  ensure_ascii=False, indent=1))
        else:
            typer.echo(f"{info.dataset}@{info.version}")
            typer.echo(report.render(), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def tools(
    toolset: str | None = typer.Option(None, "--toolset", help="Only this toolset's tools."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    mcp: str | None = typer.Option(
        None, "--mcp", help="Start this MCP server command and classify its tools (no database needed)."),
    db: Path | None = DbOption,
) -> None:
    """List recorded tools: side-effect class and why, parameters, calls and failures.

    With --mcp, start that server instead and show each tool's class and why, the likely
    read-only hint for tools without annotations, and flag lines ready to paste.

    Example: backchain tools --toolset backchain-builtin
    Example: backchain tools --mcp 'python -m mcp_server_time'
    """
    try:
        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        if mcp is not None:
            _print_mcp_tools(mcp, format)
            return
        with open_store(db_path(db), read_only=True) as store:
            usage = store.tool_usage(toolset)
            if not usage and toolset is not None:
                known = sorted({u["toolset"] for u in store.tool_usage(None)})
                raise ConfigError(f"no tools recorded for toolset {toolset!r}; recorded toolsets: "
                                  f"{', '.join(known) or 'none (run `backchain run` first)'}")
        if format == "json":
            typer.echo(json.dumps(jsonable(usage), ensure_ascii=False, indent=1))
            return
        columns = ["toolset", "tool", "class", "source", "required", "optional", "calls", "errors", "median_ms"]
        rows = [(u["toolset"], u["tool"], u["side_effect"], u["side_effect_source"], ", ".join(u["required"]),
                 ", ".join(u["optional"]), u["calls"], u["errors"], u["median_ms"]) for u in usage]
        typer.echo(render_rows(columns, rows, format), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def _print_mcp_tools(command: str, fmt: str) -> None:
    from ._inspect_tools import flag_lines, inspect_mcp

    classes = asyncio.run(inspect_mcp(command))
    columns = ["tool", "class", "why", "called", "hint", "required"]
    rows = [(c.tool, c.side_effect, c.source, c.called, c.hint, ", ".join(c.required)) for c in classes]
    if fmt == "json":
        typer.echo(json.dumps({"tools": [dict(zip(columns, r)) for r in rows], "flags": flag_lines(command, classes)},
                              ensure_ascii=False, indent=1))
        return
    typer.echo(render_rows(columns, rows, fmt), nl=False)
    if fmt == "table":
        typer.echo("\nFlags:")
        for line in flag_lines(command, classes):
            typer.echo(f"  {line}")


def judge_check(
    rubric: str = typer.Argument(..., help="Rubric name under data/rubrics/ or a YAML path."),
    dataset: str = typer.Option("default@latest", "--dataset", "-d", help="DATASET@REF whose rows get defects (default: default@latest)."),
    sample: int = typer.Option(20, "--sample", min=2, help="Rows to plant defects in, a seeded sample (default: 20)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample and the defects (default: 0)."),
    judge_url: list[str] = typer.Option([], "--judge-url", help="Judge endpoint, repeatable (default: the bundled model)."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Judge model (default: $BACKCHAIN_JUDGE_MODEL)."),
    min_coverage: float = typer.Option(0.5, "--min-coverage", min=0.0, max=1.0, help="As for `run` (default: 0.5)."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Judge requests in flight per URL (default: 4)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    db: Path | None = DbOption,
) -> None:
    """Plant known defects in accepted rows and report which judge leaves notice them.

    Example: backchain judge-check default --dataset default@latest --sample 20
    """
    try:
        from ._calibrate import judge_check as run_judge_check
        from ._report import Reporter

        report = asyncio.run(run_judge_check(
            rubric, db_path(db), dataset, sample=sample, seed=seed, judge=judge_endpoint_from(judge_url, judge_model),
            min_coverage=min_coverage, concurrency=concurrency, reporter=Reporter()))
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        else:
            typer.echo(report.render(), nl=False)
    except BackchainError as exc:
        fail(str(exc))
