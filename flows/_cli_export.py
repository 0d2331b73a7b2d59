"""`backchain export`: a sealed version to a training format, with its manifest (exporters/)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from schemas import BackchainError, ConfigError

from ._cli_common import DbOption, db_path, fail, open_store


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
        with open_store(db_path(db), read_only=True) as store:
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
        fail(str(exc))
