"""`backchain run`: explore, back-chain, judge and seal a new dataset version (flows/_generate.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from schemas import BackchainError, ConfigError

from ._cli_common import DbOption, db_path, fail
from ._config import (
    OpenAPISource,
    build_config,
    endpoint_from,
    env_seconds,
    judge_endpoint_from,
    parse_kinds_flag,
    parse_value_flags,
)


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
        path = db_path(db)
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
        fail(str(exc))
