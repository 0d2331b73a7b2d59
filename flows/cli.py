"""The `backchain` command line. Thin: parse, call library code, print.

Every `BackchainError` becomes one line on stderr and exit status 1. Data goes
to stdout, progress and notes to stderr.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from schemas import BackchainError, ConfigError

from ._cli_common import CONTEXT_SETTINGS, debug, default_db, err, fail
from ._cli_models import models_app
from ._cli_server import server_app
from ._config import (
    OpenAPISource,
    build_config,
    endpoint_from,
    env_seconds,
    judge_endpoint_from,
    parse_kinds_flag,
    parse_value_flags,
)
from ._json import jsonable

app = typer.Typer(
    name="backchain",
    help="Verified tool-calling training data: call real tools first, write the task backward.",
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(server_app, name="server")
app.add_typer(models_app, name="models")


@app.callback()
def _options(
    debug_flag: bool = typer.Option(
        False, "--debug", help="Show the traceback behind an error (also BACKCHAIN_DEBUG=1)."),
) -> None:
    """Verified tool-calling training data: call real tools first, write the task backward."""
    if debug_flag:
        debug.on = True


DbOption = typer.Option(None, "--db", help="DuckDB file (default: $BACKCHAIN_DB, else data/backchain.duckdb).")


def _db(db: Path | None) -> Path:
    return db or default_db()


_fail = fail


def _open_store(db: Path, *, read_only: bool) -> Any:
    from store import Store

    if read_only and not db.exists():
        raise ConfigError(f"no database at {db}: run `backchain run` first, or pass --db")
    return Store(db, read_only=read_only)


@app.command()
def run(
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML or YAML run config."),
    mcp: list[str] = typer.Option([], "--mcp", help="MCP server command (stdio), repeatable."),
    mcp_url: list[str] = typer.Option([], "--mcp-url", help="MCP server URL (streamable HTTP), repeatable."),
    openapi: list[str] = typer.Option([], "--openapi", help="OpenAPI 3 spec (path or URL), repeatable."),
    base_url: list[str] = typer.Option([], "--base-url", help="Base URL for the --openapi at the same position."),
    value: list[str] = typer.Option([], "--value", help="Seed a user value: NAME=VALUE, repeatable."),
    examples: int | None = typer.Option(None, "--examples", "-n", help="Traces to write tasks for (default: 12)."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset name (default: default)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: 0)."),
    allow_writes: bool = typer.Option(False, "--allow-writes", help="Also call tools that write."),
    allow: list[str] = typer.Option([], "--allow", help="Allow one tool by name whatever its class."),
    allow_likely_readonly: bool = typer.Option(
        False, "--allow-likely-readonly",
        help="Also call unannotated MCP tools whose name and description read as read-only (see `backchain tools --mcp`)."),
    llm_url: str | None = typer.Option(None, "--llm-url", help="Writer endpoint (OpenAI-compatible /v1) (default: $BACKCHAIN_LLM_URL)."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="Writer model (default: $BACKCHAIN_LLM_MODEL)."),
    llm_concurrency: int | None = typer.Option(
        None, "--llm-concurrency", min=1, help="Writer requests in flight (default: 4)."),
    llm_rate_limit: float | None = typer.Option(
        None, "--llm-rate-limit", min=0.001, help="Writer requests per minute, evenly spaced (default: no limit)."),
    judge_url: list[str] = typer.Option(
        [], "--judge-url",
        help="Judge endpoint; repeat for replicas of one model, used round-robin (default: $BACKCHAIN_JUDGE_URL, comma-separated).",
    ),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Judge model (default: $BACKCHAIN_JUDGE_MODEL)."),
    judge_concurrency: int | None = typer.Option(
        None, "--judge-concurrency", min=1, help="Judge requests in flight per judge URL (default: 4)."),
    judge_rate_limit: float | None = typer.Option(
        None, "--judge-rate-limit", min=0.001, help="Judge requests per minute per judge URL (default: no limit)."),
    max_error_rate: float | None = typer.Option(
        None, "--max-error-rate", min=0.0, max=1.0,
        help="Stop the run when more than this share of the last 20 calls to one toolset or model endpoint "
        "got no answer (refused, timeout, 5xx, 429 after retries) (default: 0.5; 1: never).",
    ),
    model_timeout: float | None = typer.Option(
        None, "--model-timeout", min=1.0,
        help="Seconds one model request may take (default: $BACKCHAIN_MODEL_TIMEOUT, else 120 for an endpoint "
        "you name and 900 for the bundled model).",
    ),
    min_coverage: float | None = typer.Option(
        None, "--min-coverage", min=0.0, max=1.0,
        help="Below this yes+no mass a judge leaf is asked again, constrained, majority of 3 (default: 0.5).",
    ),
    no_model: bool = typer.Option(False, "--no-model", help="No model: template writer only, judge leaves skipped."),
    local_model: str | None = typer.Option(
        None, "--local-model",
        help="Bundled model when no endpoint is named: tiny, small, base, or a .gguf path "
        "(default: $BACKCHAIN_LOCAL_MODEL, else base = Qwen2.5-Coder-1.5B).",
    ),
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric name under data/rubrics/ or a YAML path."),
    max_calls: int | None = typer.Option(None, "--max-calls", help="Tool-call budget for exploration (default: 120)."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the version."),
    kinds: str | None = typer.Option(None, "--kinds", help="Task kind mix, e.g. 'multi_step=3,parallel=1,no_call=1'."),
    variants: int | None = typer.Option(None, "--variants", help="LLM phrasings per task, deduplicated (default: 1)."),
    propose_values: bool = typer.Option(False, "--propose-values", help="Let the writer model propose values for parameters nothing else fills."),
    dedup_threshold: float | None = typer.Option(
        None, "--dedup-threshold", min=0.0, max=1.0,
        help="Cosine at which requests with the same values are near duplicates, stored as rejected (default: 0.92; 0: off).",
    ),
    refresh: bool = typer.Option(
        False, "--refresh",
        help="Make every tool call and model request again instead of reusing those recorded by earlier runs.",
    ),
    task_runner: str | None = typer.Option(
        None, "--task-runner",
        help="Where back-chain writing and judging run: local (this process) or dask (batches on Dask workers) (default: local).",
    ),
    dask_address: str | None = typer.Option(
        None, "--dask-address", help="Scheduler of a running Dask cluster, e.g. tcp://10.0.0.5:8786 (implies --task-runner dask)."),
    dask_workers: int | None = typer.Option(
        None, "--dask-workers", min=1, help="Worker processes of the local Dask cluster (default: 2)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Drafts or examples per batch on the Dask task runner (default: 32)."),
    db: Path | None = DbOption,
) -> None:
    """Explore tools, back-chain tasks, judge them and seal a new dataset version.

    Tool calls and model replies are recorded as they return; a rerun (or a run
    started again after a crash) reuses them, unless --refresh.

    Example: backchain run --examples 12  (the embedded default: no GPU, network or keys)
    """
    try:
        if base_url and len(base_url) != len(openapi):
            raise ConfigError("give one --base-url per --openapi (in the same order), or none")
        overrides: dict[str, Any] = {
            "mcp": mcp, "values": parse_value_flags(value), "examples": examples, "dataset": dataset,
            "seed": seed, "allow": allow, "rubric": rubric, "max_calls": max_calls, "message": message,
            "kinds": parse_kinds_flag(kinds), "variants": variants, "dedup_threshold": dedup_threshold,
            "openapi": [OpenAPISource(spec=s, base_url=base_url[i] if base_url else None).model_dump()
                        for i, s in enumerate(openapi)],
            "toolsets": [{"url": u} for u in mcp_url],
        }
        if allow_writes:
            overrides["allow_writes"] = True
        if allow_likely_readonly:
            overrides["allow_likely_readonly"] = True
        if no_model:
            overrides["no_model"] = True
        if propose_values:
            overrides["propose_values"] = True
        if refresh:
            overrides["refresh"] = True
        llm = endpoint_from(llm_url, llm_model, "LLM", "BACKCHAIN_LLM")
        judge = judge_endpoint_from(judge_url, judge_model)
        overrides["judge_concurrency"] = judge_concurrency
        overrides["judge_rate_limit"] = judge_rate_limit
        overrides["llm_concurrency"] = llm_concurrency
        overrides["llm_rate_limit"] = llm_rate_limit
        overrides["max_error_rate"] = max_error_rate
        overrides["min_coverage"] = min_coverage
        overrides["local_model"] = local_model
        overrides["model_timeout"] = model_timeout if model_timeout is not None else env_seconds("BACKCHAIN_MODEL_TIMEOUT")
        if task_runner is not None and task_runner not in ("local", "dask"):
            raise ConfigError(f"--task-runner {task_runner!r}: use local or dask")
        overrides["task_runner"] = "dask" if dask_address and task_runner is None else task_runner
        overrides["dask_address"] = dask_address
        overrides["dask_workers"] = dask_workers
        overrides["batch_size"] = batch_size
        overrides["llm"] = llm.model_dump() if llm else None
        overrides["judge"] = judge.model_dump() if judge else None
        cfg = build_config(config, overrides)
        path = _db(db)
        from ._generate import generate_flow
        from ._prefect_server import ensure_server, using_api
        from ._report import Reporter, render_summary

        reporter = Reporter()
        reporter.note("connecting to Prefect")
        server = ensure_server(reporter.note, reporter.waiting)
        if not server.started:
            reporter.note(f"Prefect API {server.url}")
        with using_api(server.url):
            summary = asyncio.run(generate_flow(reporter)(config=cfg, db=str(path)))
        typer.echo(render_summary(summary, str(path)))
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def sql(
    query: str = typer.Argument(..., help="A read-only SQL query over the views."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    db: Path | None = DbOption,
) -> None:
    """Run a read-only SQL query over the stable views (writes are refused).

    Example: backchain sql "SELECT status, count(*) FROM candidates GROUP BY ALL"
    """
    try:
        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        with _open_store(_db(db), read_only=True) as store:
            store.sandbox()  # the query reads this database only: no files, extensions or network
            columns, rows = store.query(query)
        typer.echo(_render_rows(columns, rows, format), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


def _render_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
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


@app.command()
def versions(
    dataset: str | None = typer.Argument(None, help="Dataset name; all datasets if omitted."),
    db: Path | None = DbOption,
) -> None:
    """List the sealed versions of a dataset, newest last.

    Example: backchain versions default
    """
    try:
        with _open_store(_db(db), read_only=True) as store:
            infos = store.versions(dataset)
        columns = ["dataset", "version", "rows", "content_hash", "created_at", "tags", "message"]
        rows = [(v.dataset, v.version, v.row_count, v.content_hash[:16], v.created_at.isoformat(timespec="seconds"),
                 ",".join(v.tags), v.message) for v in infos]
        typer.echo(_render_rows(columns, rows, "table"), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def tag(
    ref: str = typer.Argument(..., help="DATASET@VERSION to tag."),
    name: str = typer.Argument(..., help="Tag name, e.g. prod."),
    force: bool = typer.Option(False, "--force", help="Move the tag if it names another version."),
    db: Path | None = DbOption,
) -> None:
    """Name one version with a tag (tags move only with --force).

    Example: backchain tag default@3 prod
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with _open_store(_db(db), read_only=False) as store:
            info = store.tag(dataset_name, version_ref, name, move=force)
        typer.echo(f"{info.dataset}@{info.version} tagged {name}")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def export(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest]."),
    format: str = typer.Option(..., "--format", "-f", help="trl-sft, trl-grpo, verl, verl-sft, openai, sharegpt, hf, bfcl, verifiers (an environment package), or replay (the recorded calls)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output: a .parquet/.jsonl file (bfcl: .json/.jsonl; hf: a directory)."),
    min_score: float | None = typer.Option(None, "--min-score", help="Keep rows scored at least this (unscored rows are dropped)."),
    kinds: str | None = typer.Option(None, "--kinds", help="Keep these task kinds, comma-separated (e.g. single,parallel)."),
    tools: str | None = typer.Option(None, "--tools", help="Keep examples that call any of these tools, comma-separated."),
    pass_rate_band: str | None = typer.Option(None, "--pass-rate-band", help="LO,HI: keep tasks whose measured pass rate is in [LO, HI]; unmeasured rows are dropped."),
    dedup: bool = typer.Option(False, "--dedup", help="Drop rows whose normalised request repeats an earlier one."),
    split: str | None = typer.Option(None, "--split", help="NAME=FRACTION,... e.g. train=0.8,validation=0.1,test=0.1: one file per split, variants of a trace together."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the split (default: 0)."),
    train_on_tool_outputs: float | None = typer.Option(None, "--train-on-tool-outputs", help="WEIGHT: tool outputs as training targets (openai only; off by default)."),
    rubric: str | None = typer.Option(None, "--rubric", help="RL formats: the rubric tree for the reward spec (default: the run's)."),
    multi_turn: bool = typer.Option(False, "--multi-turn", help="verl: rows for verl's tool agent loop, <stem>.tools.yaml and a replay-backed tool (never a live call)."),
    tools_module: bool = typer.Option(False, "--tools-module", help="trl-grpo: also <stem>.tools.py, replay-backed tool functions and an environment_factory class for GRPOTrainer."),
    observations: bool = typer.Option(False, "--observations", help="trl-sft: observation-prediction rows, each tool's recorded output as the target (ECHO)."),
    db: Path | None = DbOption,
) -> None:
    """Export a sealed version to a training format, with a manifest beside it.

    Example: backchain export default@latest --format trl-sft --out out/train.parquet --min-score 0.8 --split train=0.9,test=0.1

    RL environments: --format verl --multi-turn (tools.yaml), --format trl-grpo --tools-module (tools.py),
    --format verifiers --out envs/NAME (a package with load_environment).
    """
    try:
        from pydantic import ValidationError

        from exporters import ExportOptions, export_replay_table, export_version, parse_band, parse_names, parse_split
        from schemas import ExportFilters
        from store import parse_ref

        try:
            filters = ExportFilters.model_validate({  # validated here: a wrong kind names its flag
                "min_score": min_score,
                "kinds": parse_names(kinds) if kinds is not None else None,
                "tools": parse_names(tools) if tools is not None else None,
                "pass_rate_band": parse_band(pass_rate_band) if pass_rate_band is not None else None,
                "dedup": dedup,
                "split": parse_split(split) if split is not None else None,
                "split_seed": split_seed,
            })
        except ValidationError as exc:
            first = exc.errors()[0]
            flag = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "a filter"
            raise ConfigError(f"{flag}: {str(first['msg']).removeprefix('Value error, ')}") from None
        options = ExportOptions(train_on_tool_outputs=train_on_tool_outputs, multi_turn=multi_turn,
                                tools_module=tools_module, observations=observations)
        dataset_name, version_ref = parse_ref(ref)
        with _open_store(_db(db), read_only=True) as store:
            info = store.resolve(dataset_name, version_ref)
            if format == "replay":  # one row per observation, not per example: its own writer
                if train_on_tool_outputs is not None or rubric is not None or options != ExportOptions(
                        train_on_tool_outputs=train_on_tool_outputs):
                    raise ConfigError("--train-on-tool-outputs, --rubric, --multi-turn, --tools-module and "
                                      "--observations do not apply to --format replay")
                filtered = filters != ExportFilters()
                result = export_replay_table(store, info, out, filters=filters if filtered else None)
            else:
                result = export_version(store, info, fmt=format, out=out, filters=filters, options=options,
                                        rubric=rubric)
        manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
        splits = ", ".join(f"{name} {n}" for name, n in result.splits)
        typer.echo(f"wrote {result.row_count} rows of {info.dataset}@{info.version} as {format} to {result.path}"
                   + (f" ({splits})" if splits else ""))
        selection = manifest.get("selection") or {}
        dropped = {k: n for k, n in (selection.get("dropped") or {}).items() if n}
        if dropped:
            typer.echo("dropped: " + ", ".join(f"{k} {n}" for k, n in dropped.items())
                       + f" (of {selection.get('rows_in_version')})")
        if selection.get("zero_variance"):
            typer.echo(f"zero reward variance: {selection['zero_variance']} of the prompts the pass-rate band dropped "
                       "were measured at pass rate 0 or 1 (every attempt got the same reward)")
        typer.echo(f"manifest: {result.manifest_path}")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
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
        path = _db(db)
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
        _fail(str(exc))


@app.command()
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
        with _open_store(_db(db), read_only=True) as store:
            plan = plan_audit(store, dataset_name, version_ref, sample=sample, seed=seed)
        report = asyncio.run(run_audit(plan, allow_writes=allow_writes))
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        else:
            typer.echo(render_audit(report), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


# -- versions from versions, diff, retention (store/; issue 3) -------------------------


def _open_existing(db: Path, *, read_only: bool) -> Any:
    """A store over a file that must exist already: these commands never create one."""
    from store import Store

    if not db.exists():
        raise ConfigError(f"no database at {db}: run `backchain run` first, or pass --db")
    return Store(db, read_only=read_only)


def _ref_text(info: Any) -> str:
    return f"{info.dataset}@{info.version}"


@app.command()
def derive(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest|@TIME] to filter."),
    where: str = typer.Option(..., "--where", "-w", help="SQL predicate over dataset_rows' columns, e.g. \"score > 0.5\"."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    into: str | None = typer.Option(None, "--into", help="Seal into this dataset (default: the same one)."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new version with the rows of a version that match a SQL predicate (no re-run).

    The predicate sees dataset_rows' columns (example_id, kind, user_request, trace, answer,
    score, split, writer, body) and must only read.

    Example: backchain derive default@latest --where "kind = 'multi_step' AND score > 0.5"
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with _open_existing(_db(db), read_only=False) as store:
            store.sandbox()  # the predicate reads this database only
            source = store.resolve(dataset_name, version_ref)
            info = store.derive(dataset_name, version_ref, where=where, message=message, into=into)
        typer.echo(f"sealed {_ref_text(info)}: {info.row_count} of {source.row_count} rows of "
                   f"{_ref_text(source)} where {where.strip()}")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def merge(
    a: str = typer.Argument(..., help="First DATASET@REF (the new version goes to its dataset)."),
    b: str = typer.Argument(..., help="Second DATASET@REF."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    into: str | None = typer.Option(None, "--into", help="Seal into this dataset (default: the first one's)."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new version with the union of two versions, by example id (no re-run).

    An example in both keeps the higher score (and the first version's split).

    Example: backchain merge default@3 default@5 --message "both runs"
    """
    try:
        from store import parse_ref

        ref_a, ref_b = parse_ref(a), parse_ref(b)
        with _open_existing(_db(db), read_only=False) as store:
            result = store.merge(ref_a, ref_b, message=message, into=into)
        info = result.version
        note = (f"; {result.score_conflicts} example(s) in both with different scores kept the higher"
                if result.score_conflicts else "")
        typer.echo(f"sealed {_ref_text(info)}: {info.row_count} rows, the union of {a} and {b}{note}")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def rollback(
    ref: str = typer.Argument(..., help="DATASET@REF whose rows the new latest version gets."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new latest version with exactly an old version's rows (history is kept).

    Example: backchain rollback default@2
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with _open_existing(_db(db), read_only=False) as store:
            previous = store.resolve(dataset_name, "latest")
            source = store.resolve(dataset_name, version_ref)
            info = store.rollback(dataset_name, version_ref, message=message)
        typer.echo(f"sealed {_ref_text(info)}: {info.row_count} rows, the rows of {_ref_text(source)} "
                   f"({_ref_text(previous)} stays in the history)")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def untag(
    dataset: str = typer.Argument(..., help="Dataset name."),
    name: str = typer.Argument(..., help="Tag to remove."),
    db: Path | None = DbOption,
) -> None:
    """Remove a tag; the version it named stays.

    Example: backchain untag default prod
    """
    try:
        with _open_existing(_db(db), read_only=False) as store:
            info = store.untag(dataset, name)
        typer.echo(f"removed tag {name} from {_ref_text(info)}")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def diff(
    a: str = typer.Argument(..., help="DATASET@REF to compare from."),
    b: str = typer.Argument(..., help="DATASET@REF to compare to."),
    limit: int = typer.Option(10, "--limit", "-n", help="Rows shown per kind of change (default: 10)."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    db: Path | None = DbOption,
) -> None:
    """Show added, removed and changed rows between two versions (same task key, new content).

    Example: backchain diff default@1 default@latest
    """
    try:
        from store import parse_ref

        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        if limit < 0:
            raise ConfigError(f"--limit {limit}: use 0 or more")
        with _open_existing(_db(db), read_only=True) as store:
            result = store.diff(parse_ref(a), parse_ref(b), limit=limit)
        head = (f"{_ref_text(result.a)} -> {_ref_text(result.b)}: {result.added} added, "
                f"{result.removed} removed, {result.changed} changed, {result.unchanged} unchanged")
        if format != "table":
            typer.echo(_render_rows(result.columns, result.rows, format), nl=False)
            err.print(head, highlight=False, soft_wrap=True)
            return
        typer.echo(head)
        if result.rows:
            idx = {c: i for i, c in enumerate(result.columns)}
            short = [(r[idx["change"]], str(r[idx["task_key"]])[:12], str(r[idx["example_id_a"]] or "")[:12],
                      str(r[idx["example_id_b"]] or "")[:12], r[idx["score_a"]], r[idx["score_b"]],
                      str(r[idx["user_request_b"]] or r[idx["user_request_a"]] or "")[:80])
                     for r in result.rows]
            columns = ["change", "task_key", "example_a", "example_b", "score_a", "score_b", "user_request"]
            typer.echo(_render_rows(columns, short, "table"), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
def gc(
    keep_last: int = typer.Option(10, "--keep-last", help="Newest versions kept per dataset (tagged ones are always kept)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; change nothing."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset (default: all)."),
    db: Path | None = DbOption,
) -> None:
    """Expire old untagged versions, then delete rows that nothing kept references.

    Never expires a tagged version or a dataset's latest. See the README for exactly
    which rows are collected.

    Example: backchain gc --keep-last 5 --dry-run
    """
    try:
        with _open_existing(_db(db), read_only=dry_run) as store:
            report = store.gc(keep_last=keep_last, dry_run=dry_run, dataset=dataset)
        verb = ("would expire", "would collect") if dry_run else ("expired", "collected")
        listed = ", ".join(f"{v.dataset}@{v.version} ({v.row_count} rows)" for v in report.expired)
        typer.echo(f"{verb[0]} {len(report.expired)} version(s){': ' + listed if listed else ''}")
        counts = ", ".join(f"{table} {n}" for table, n in report.collected.items())
        typer.echo(f"{verb[1]}: {counts}; member_rows {report.member_rows} of expired versions")
    except BackchainError as exc:
        _fail(str(exc))


@app.command()
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
        with _open_store(_db(db), read_only=True) as store:
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
        _fail(str(exc))


@app.command()
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
        with _open_store(_db(db), read_only=True) as store:
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
        typer.echo(_render_rows(columns, rows, format), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


def _print_mcp_tools(command: str, fmt: str) -> None:
    from ._inspect_tools import flag_lines, inspect_mcp

    classes = asyncio.run(inspect_mcp(command))
    columns = ["tool", "class", "why", "called", "hint", "required"]
    rows = [(c.tool, c.side_effect, c.source, c.called, c.hint, ", ".join(c.required)) for c in classes]
    if fmt == "json":
        typer.echo(json.dumps({"tools": [dict(zip(columns, r)) for r in rows], "flags": flag_lines(command, classes)},
                              ensure_ascii=False, indent=1))
        return
    typer.echo(_render_rows(columns, rows, fmt), nl=False)
    if fmt == "table":
        typer.echo("\nFlags:")
        for line in flag_lines(command, classes):
            typer.echo(f"  {line}")


@app.command("judge-check")
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
            rubric, _db(db), dataset, sample=sample, seed=seed, judge=judge_endpoint_from(judge_url, judge_model),
            min_coverage=min_coverage, concurrency=concurrency, reporter=Reporter()))
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        else:
            typer.echo(report.render(), nl=False)
    except BackchainError as exc:
        _fail(str(exc))


from . import _cli_ops  # noqa: E402,F401  (registers serve, schedules, report)


def main(argv: list[str] | None = None) -> None:
    """The console script: every failure is one line (a traceback only with --debug).

    Usage errors (a bad flag or value) are one line naming the command's help,
    not click's boxed block; an error nothing named is one line with its type.
    """
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer's own click

    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:  # accepted after the command too: `backchain run --debug`
        args.remove("--debug")
        args.insert(0, "--debug")
    try:
        code = app(args=args, prog_name="backchain", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `backchain` alone: the help
        err.print(exc.format_message() if not exc.ctx else exc.ctx.get_help(), highlight=False, markup=False)
        sys.exit(0)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)  # usage errors carry the command they are about
        where = ctx.command_path if ctx is not None else "backchain"
        err.print(f"[bold red]error:[/bold red] {_one_line(exc.format_message())} (see `{where} -h`)",
                  highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a failure nothing above named: still one line
        if debug.on:
            raise
        err.print(f"[bold red]error:[/bold red] {type(exc).__name__}: {_one_line(str(exc)) or 'no message'} "
                  "(unexpected; rerun with --debug for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
from . import _cli_review  # noqa: E402,F401  (registers review)
