"""Exporting sealed versions: filters, the seeded split, RL sidecars, the CLI, re-export bytes.

Two real databases: one where hand-built examples (every kind, plus variants of one trace and
a repeated request) are stored and sealed through the Store API, and one made by the pipeline
itself on the embedded default (the built-in MCP server), whose steps point at recorded
observations, for the RL formats' replay table and the CLI.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exporters import FORMATS, build_reward_spec, export_version, split_of
from flows.cli import app
from schemas import (
    ConfigError,
    Example,
    ExportError,
    ExportFilters,
    Judgement,
    RewardSpec,
    TaskDifficulty,
    Trace,
)
from store import Store

from ._examples import every_kind, paris_chain

runner = CliRunner()


def _variant(example: Example, request: str) -> Example:
    return example.model_copy(update={"task": example.task.model_copy(update={"user_request": request})})


def _hand_built() -> list[tuple[Example, float]]:
    kinds = every_kind()
    scores = [0.9, 0.8, 0.3, 0.95, 0.7, 0.6, None]
    rows: list[tuple[Example, float | None]] = list(zip(kinds, scores, strict=True))
    paris = paris_chain()
    rows += [
        (_variant(paris, "In which time zone does the French capital lie?"), 0.85),  # same trace
        (_variant(paris, "Tell me the time zone of France's capital city."), 0.75),  # same trace
        (paris.model_copy(update={"task": paris.task.model_copy(update={
            "user_request": "  which TIME zone is the capital of france in? ",  # the same request, normalised
            "final_message": "Europe/Paris."})}), 0.9),
    ]
    return rows  # type: ignore[return-value]


@pytest.fixture
def hand_db(tmp_path: Path) -> tuple[Path, list[tuple[Example, float | None]]]:
    db = tmp_path / "hand.duckdb"
    rows = _hand_built()
    run_id = uuid.uuid4().hex
    with Store(db) as store:
        store.save_tools([t for e, _ in rows for t in e.tools], run_id)
        store.save_candidates(run_id, "geo", [
            (e, Judgement(example_id=e.example_id, rubric_id="test", rubric_hash="test",
                          status="accepted", score=s, leaves=[])) for e, s in rows
        ])
        store.seal_version("geo", run_id=None, members=[(e.example_id, s) for e, s in rows])
    return db, rows


def _export(db: Path, tmp_path: Path, name: str = "out/train.parquet", fmt: str = "trl-sft",
            **filters: Any) -> dict[str, Any]:
    with Store(db, read_only=True) as store:
        version = store.resolve("geo", "latest")
        result = export_version(store, version, fmt=fmt, out=tmp_path / name, filters=ExportFilters(**filters))
    return json.loads(result.manifest_path.read_text())


def test_each_filter_drops_what_it_should_and_says_so(hand_db: Any, tmp_path: Path) -> None:
    db, rows = hand_db
    manifest = _export(db, tmp_path, min_score=0.7)
    assert manifest["selection"] == {"rows_in_version": 10, "rows_kept": 7, "dropped": {
        "min_score": 3, "kinds": 0, "tools": 0, "not_measured": 0, "pass_rate_band": 0, "dedup": 0},
        "zero_variance": 0}
    assert manifest["filters"]["min_score"] == 0.7 and manifest["row_count"] == 7

    manifest = _export(db, tmp_path, kinds=["parallel", "no_call"])
    assert manifest["row_count"] == 2 and manifest["selection"]["dropped"]["kinds"] == 8
    manifest = _export(db, tmp_path, tools=["convert_units"])
    assert manifest["row_count"] == 2  # miles_as_text and error_recovery call it
    manifest = _export(db, tmp_path, dedup=True)
    # the re-spelled request, and error_recovery's request (the same as miles_as_text's); the
    # variants of the Paris trace are phrased differently and stay
    assert manifest["selection"]["dropped"]["dedup"] == 2
    manifest = _export(db, tmp_path, kinds=["multi_step"], dedup=True, min_score=0.8)
    assert manifest["selection"]["rows_kept"] == manifest["row_count"] == 2
    assert manifest["selection"]["dropped"] == {"min_score": 5, "kinds": 2, "tools": 0, "not_measured": 0,
                                               "pass_rate_band": 0, "dedup": 1}


def test_pass_rate_band_pools_solvers_and_drops_unmeasured(hand_db: Any, tmp_path: Path) -> None:
    db, rows = hand_db
    examples = [e for e, _ in rows]
    with Store(db) as store:
        store.save_difficulty([
            TaskDifficulty(example_id=examples[0].example_id, solver_model="a", attempts=4, passes=4),
            TaskDifficulty(example_id=examples[0].example_id, solver_model="b", attempts=4, passes=0),  # pooled: 0.5
            TaskDifficulty(example_id=examples[1].example_id, solver_model="a", attempts=4, passes=4),  # 1.0
            TaskDifficulty(example_id=examples[2].example_id, solver_model="a", attempts=4, passes=0),  # 0.0
            TaskDifficulty(example_id=examples[3].example_id, solver_model="a", attempts=8, passes=2),  # 0.25
        ])
    manifest = _export(db, tmp_path, pass_rate_band=(0.1, 0.9))
    assert manifest["row_count"] == 2
    assert manifest["selection"]["dropped"] == {"min_score": 0, "kinds": 0, "tools": 0, "not_measured": 6,
                                               "pass_rate_band": 2, "dedup": 0}
    assert manifest["selection"]["zero_variance"] == 2  # measured at 1.0 and at 0.0: no reward variance
    assert manifest["filters"]["pass_rate_band"] == [0.1, 0.9]
    manifest = _export(db, tmp_path, pass_rate_band=(0.0, 0.9))  # 0 kept: only the 1.0 row lacks variance
    assert manifest["selection"]["dropped"]["pass_rate_band"] == 1 and manifest["selection"]["zero_variance"] == 1


def test_the_split_keeps_variants_of_a_trace_together_and_is_seeded(hand_db: Any, tmp_path: Path) -> None:
    db, rows = hand_db
    paris_trace = paris_chain().trace.trace_id
    fractions = {"train": 0.5, "validation": 0.25, "test": 0.25}
    for seed in range(25):
        splits = {split_of(e, fractions, seed) for e, _ in rows if e.trace.trace_id == paris_trace}
        assert len(splits) == 1  # four examples of one trace: always one split
    assignments = {seed: [split_of(e, fractions, seed) for e, _ in rows] for seed in range(6)}
    assert len({tuple(a) for a in assignments.values()}) > 1  # the seed matters
    assert assignments[3] == [split_of(e, fractions, 3) for e, _ in rows]  # and decides

    manifest = _export(db, tmp_path, "a/train.parquet", split=fractions, split_seed=7)
    again = _export(db, tmp_path, "b/train.parquet", split=fractions, split_seed=7)
    assert [f["sha256"] for f in manifest["files"]] == [f["sha256"] for f in again["files"]]
    assert sum(manifest["splits"].values()) == 10 and list(manifest["splits"]) == ["train", "validation", "test"]
    assert [f["path"] for f in manifest["files"]] == ["train-train.parquet", "train-validation.parquet",
                                                     "train-test.parquet"]


def test_split_shares_follow_the_fractions_on_many_traces() -> None:
    example = paris_chain()
    step = example.trace.steps[0]
    counts = {"train": 0, "validation": 0, "test": 0}
    rng = random.Random(0)
    for i in range(4000):
        trace = Trace(steps=[step.model_copy(update={"observation_id": f"obs-{i}-{rng.random()}"})])
        counts[split_of(example.model_copy(update={"trace": trace}), {"train": 0.8, "validation": 0.1,
                                                                      "test": 0.1}, seed=1)] += 1
    assert 3100 < counts["train"] < 3300 and 320 < counts["validation"] < 480 and 320 < counts["test"] < 480


def test_filters_are_checked(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from exporters import parse_band, parse_split

    with pytest.raises(ValidationError, match="add up to 0.9"):
        ExportFilters(split=parse_split("train=0.8,test=0.1"))
    with pytest.raises(ConfigError, match="given twice"):
        parse_split("train=0.5,train=0.5")
    with pytest.raises(ConfigError, match="NAME=FRACTION"):
        parse_split("train")
    with pytest.raises(ValidationError, match="0 <= LO <= HI <= 1"):
        ExportFilters(pass_rate_band=parse_band("0.9,0.1"))
    with pytest.raises(ValidationError):
        ExportFilters(kinds=["sometimes"])


# --- the real pipeline version: RL sidecars, the CLI, every format twice -------------------------

def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_format_from_a_real_version_twice_through_the_cli(pipeline_db: Path, tmp_path: Path) -> None:
    suffix = {"openai": "jsonl", "bfcl": "json", "sharegpt": "jsonl", "hf": "", "verifiers": ""}
    snapshots = []
    for attempt in ("first", "second"):
        root = tmp_path / attempt
        for fmt in sorted(FORMATS):
            out = root / fmt / (f"data.{suffix.get(fmt, 'parquet')}" if suffix.get(fmt, "parquet") else "data")
            result = runner.invoke(app, ["export", "default@latest", "--db", str(pipeline_db), "--format", fmt,
                                         "--out", str(out), "--split", "train=0.7,test=0.3", "--split-seed", "3"])
            assert result.exit_code == 0, result.output
            assert "wrote " in result.output and "manifest: " in result.output
        snapshots.append(_snapshot(root))
    assert snapshots[0] == snapshots[1]
    files = snapshots[0]
    for rl in ("verl", "trl-grpo"):
        assert f"{rl}/data.reward_spec.json" in files and f"{rl}/data.replay.parquet" in files
    assert "verifiers/data/data/replay.parquet" in files and "verifiers/data/data/data-train.parquet" in files
    assert "trl-grpo/data.reward.py" in files and "sharegpt/dataset_info.json" in files
    assert "bfcl/possible_answer/data-test.json" in files and "hf/data/README.md" in files


def test_rl_sidecars_are_what_their_readers_take(pipeline_db: Path, tmp_path: Path) -> None:
    from generators import ReplaySimulator

    result = runner.invoke(app, ["export", "default@latest", "--db", str(pipeline_db), "--format", "verl",
                                 "--out", str(tmp_path / "rl.parquet"), "--kinds", "single,multi_step,parallel"])
    assert result.exit_code == 0, result.output
    assert "dropped: kinds" in result.output
    spec = RewardSpec.model_validate_json((tmp_path / "rl.reward_spec.json").read_text())
    with Store(pipeline_db, read_only=True) as store:
        described = store.describe("default", "latest")
        kept = [e for e, _, _ in store.iter_examples(described["version_id"])
                if e.task.kind in ("single", "multi_step", "parallel")]
    assert spec.rubric_hash == described["rubric_hash"] and spec.dataset == "default" and spec.judge is None
    simulator = ReplaySimulator.from_parquet(tmp_path / "rl.replay.parquet")
    observations = {s.observation_id for e in kept for s in e.trace.steps}
    manifest = json.loads((tmp_path / "rl.parquet.manifest.json").read_text())
    replay = next(f for f in manifest["files"] if f["role"] == "replay")
    assert replay["rows"] == len(observations) > 0
    offered = asyncio.run(simulator.list_tools())
    assert {t.name for t in offered} >= {s.tool for e in kept for s in e.trace.steps}


def test_the_rubric_reward_on_exported_rows_is_the_stored_score(pipeline_db: Path, tmp_path: Path) -> None:
    """verl's compute_score and TRL's trl_reward (validators), fed the exported rows and the
    exported reward spec, give each row its stored score when the rollout is the row's answer."""
    import pyarrow.parquet as pq

    from validators import compute_score, trl_reward

    for fmt in ("verl", "trl-grpo"):
        result = runner.invoke(app, ["export", "default@latest", "--db", str(pipeline_db), "--format", fmt,
                                     "--out", str(tmp_path / f"{fmt}.parquet")])
        assert result.exit_code == 0, result.output
    spec = str(tmp_path / "verl.reward_spec.json")
    with Store(pipeline_db, read_only=True) as store:
        version = store.resolve("default", "latest")
        stored = {e.example_id: score for e, score, _ in store.iter_examples(version.version_id)}
    rows = pq.read_table(tmp_path / "verl.parquet").to_pylist()
    assert len(rows) == len(stored) >= 6
    for row in rows:
        example = Example.model_validate_json(row["extra_info"]["example"])
        got = compute_score(row["data_source"], example.task.final_message, row["reward_model"]["ground_truth"],
                            {**row["extra_info"], "reward_spec": spec})
        assert got == stored[row["extra_info"]["example_id"]]
    grpo = pq.read_table(tmp_path / "trl-grpo.parquet").to_pylist()
    finals = [Example.model_validate_json(r["example"]).task.final_message for r in grpo]
    columns = {k: [r[k] for r in grpo] for k in ("ground_truth", "example")}
    assert trl_reward([r["prompt"] for r in grpo], finals, reward_spec=[spec] * len(grpo), **columns) == [
        stored[r["example_id"]] for r in grpo]


def test_the_reward_spec_is_the_tree_that_judged_the_version(pipeline_db: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import validators

    real = validators.load_rubric

    def edited(name: Any) -> Any:
        tree = real(name)
        return tree.model_copy(update={"min_score": 0.99})

    monkeypatch.setattr(validators, "load_rubric", edited)
    with Store(pipeline_db, read_only=True) as store:
        version = store.resolve("default", "latest")
        with pytest.raises(ExportError, match="was judged with rubric hash .* Restore that tree, or pass --rubric"):
            build_reward_spec(store, version)
        assert build_reward_spec(store, version, rubric="default").rubric.min_score == 0.99  # on purpose


def test_cli_errors_name_the_flag(pipeline_db: Path, tmp_path: Path) -> None:
    def fail(*args: str) -> str:
        result = runner.invoke(app, ["export", "default@latest", "--db", str(pipeline_db), *args])
        assert result.exit_code == 1, result.output
        return " ".join(result.output.split())

    assert "--split: split fractions add up to 0.9, not 1" in fail("-f", "trl-sft", "-o", str(tmp_path / "x.parquet"),
                                                                  "--split", "train=0.8,test=0.1")
    assert "needs per-message weights" in fail("-f", "trl-sft", "-o", str(tmp_path / "x.parquet"),
                                               "--train-on-tool-outputs", "1")
    assert "--rubric is for RL formats" in fail("-f", "sharegpt", "-o", str(tmp_path / "x.jsonl"), "--rubric", "default")
    assert "--kinds" in fail("-f", "trl-sft", "-o", str(tmp_path / "x.parquet"), "--kinds", "single,sometimes")
    assert "--split does not apply to --format replay" in fail("-f", "replay", "-o", str(tmp_path / "r.parquet"),
                                                              "--split", "a=1")
    assert not list(tmp_path.glob("x*"))
