"""Exporters: TRL SFT and verl rows, the shared machinery, loaded back by datasets and TRL.

The examples are built by hand from outputs the built-in toolset really returns; everything
downstream is real: datasets writes and loads the files, TRL's own helpers read the rows, and a
real tokenizer (SmolLM2's, read from the GGUF file the project ships) renders them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasets import Json, List, load_dataset
from jsonschema import Draft202012Validator

import exporters
import schemas
from exporters import FORMATS, ExportResult, export_rows
from schemas import ConfigError, Example, ExportError, StoreError, VersionInfo
from schemas._jsonschema import SCHEMA_DIR, stale_json_schemas

from ._examples import (
    CONVERT_UNITS,
    COUNTRY_INFO,
    HOLIDAYS,
    TIMEZONE_AT,
    _example,
    _step,
    holidays_single,
    ivory_coast,
    miles_as_text,
    paris_chain,
)

FILE_TYPES = {".parquet": "parquet", ".jsonl": "json"}


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def examples() -> list[Example]:
    return [paris_chain(), holidays_single(), miles_as_text(), ivory_coast()]


def _rows(examples: list[Example], split: str = "train") -> list[tuple[Example, float | None, str]]:
    return [(ex, 0.9, split) for ex in examples]


def _expected(fmt: str, examples: list[Example], version: VersionInfo) -> list[dict[str, Any]]:
    return [FORMATS[fmt].row(ex, 0.9, "train", i, version) for i, ex in enumerate(examples)]


def _load(path: Path, cache: Path) -> Any:
    return load_dataset(FILE_TYPES[path.suffix], data_files=str(path), split="train",
                        cache_dir=str(cache))


# --- row shapes -------------------------------------------------------------------------------

def test_trl_sft_row_of_a_two_step_chain(version: VersionInfo) -> None:
    row = FORMATS["trl-sft"].row(paris_chain(), 0.9, "train", 0, version)
    assert row["messages"] == [
        {"role": "user", "content": "Which time zone is the capital of France in?"},
        {"role": "assistant", "tool_calls": [
            {"type": "function", "function": {"name": "country_info",
                                              "arguments": {"country": "France"}}}]},
        {"role": "tool", "name": "country_info",
         "content": '{"name":"France","capital":"Paris","latitude":48.85,"longitude":2.35,'
                    '"currency":"EUR"}'},
        {"role": "assistant", "tool_calls": [
            {"type": "function", "function": {
                "name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.35}}}]},
        {"role": "tool", "name": "timezone_at", "content": '{"timezone":"Europe/Paris"}'},
        {"role": "assistant", "content": "Paris is in the Europe/Paris time zone."},
    ]
    assert row["tools"] == [
        {"type": "function", "function": t.openai_schema()}
        for t in (COUNTRY_INFO, TIMEZONE_AT, HOLIDAYS)
    ]
    assert row["tools"][1]["function"]["parameters"]["required"] == ["latitude", "longitude"]


def test_a_string_output_is_the_tool_message_as_is(version: VersionInfo) -> None:
    row = FORMATS["trl-sft"].row(miles_as_text(), None, "test", 0, version)
    assert row["messages"][2] == {"role": "tool", "name": "convert_units",
                                  "content": "16.09344 kilometer"}


def test_verl_row(version: VersionInfo) -> None:
    example = paris_chain()
    row = FORMATS["verl"].row(example, 0.9, "validation", 7, version)
    assert row["data_source"] == "backchain/geo"
    assert row["ability"] == "tool_use"
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == example.task.user_request
    listed = [json.loads(line) for line in row["prompt"][0]["content"].splitlines()
              if line.startswith("{")]
    assert listed == [{"type": "function", "function": t.openai_schema()} for t in example.tools]
    assert row["reward_model"]["style"] == "rule"
    assert json.loads(row["reward_model"]["ground_truth"]) == {
        "kind": "multi_step",
        "answer": "Europe/Paris",
        "answer_values": ["Europe/Paris"],
        "normaliser": {"kind": "casefold", "tolerance": 0.0},
        "expected_calls": [
            {"name": "country_info", "arguments": {"country": "France"}},
            {"name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.35}},
        ],
    }
    assert row["extra_info"] == {"split": "validation", "index": 7, "example_id": example.example_id,
                                 "dataset": "geo", "version": 3, "example": example.model_dump_json()}
    assert Example.model_validate_json(row["extra_info"]["example"]) == example


# --- round trip through files -----------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
@pytest.mark.parametrize("fmt", ["trl-sft", "verl"])
def test_load_dataset_returns_what_was_written(
    fmt: str, suffix: str, examples: list[Example], version: VersionInfo, tmp_path: Path
) -> None:
    out = tmp_path / f"train{suffix}"
    result = export_rows(_rows(examples), fmt=fmt, out=out, version=version)
    assert isinstance(result, ExportResult)
    assert (result.format, result.path, result.row_count) == (fmt, out, 4)
    assert result.load_drift == ()

    loaded = _load(out, tmp_path / "hf-cache")
    assert [dict(r) for r in loaded] == _expected(fmt, examples, version)  # order, keys, values
    if fmt == "trl-sft":
        if suffix == ".parquet":  # the features travel in the file
            assert loaded.features["messages"] == List(Json())
            assert loaded.features["tools"] == List(Json())
        for row, example in zip(loaded, examples, strict=True):
            calls = [m["tool_calls"][0]["function"] for m in row["messages"] if "tool_calls" in m]
            # arguments keep exactly the trace's keys: no null-filled keys of other tools
            assert [c["arguments"] for c in calls] == [s.arguments for s in example.trace.steps]
            assert all(None not in m.values() for m in row["messages"])
            assert [t["function"]["parameters"] for t in row["tools"]] == [
                t.input_schema for t in example.tools]


def test_trl_helpers_accept_the_rows(examples: list[Example], version: VersionInfo,
                                     tmp_path: Path) -> None:
    from trl.data_utils import is_conversational

    out = tmp_path / "sft.parquet"
    export_rows(_rows(examples), fmt="trl-sft", out=out, version=version)
    for row in _load(out, tmp_path / "hf-cache"):
        assert is_conversational(row)


def test_a_tool_aware_chat_template_renders_calls_and_results(
    tokenizer: Any, examples: list[Example], version: VersionInfo, tmp_path: Path
) -> None:
    from trl.data_utils import apply_chat_template, maybe_apply_chat_template

    out = tmp_path / "sft.parquet"
    export_rows(_rows(examples), fmt="trl-sft", out=out, version=version)
    paris, _, miles, ivory = _load(out, tmp_path / "hf-cache")

    text = maybe_apply_chat_template(paris, tokenizer, tools=paris["tools"])["text"]
    assert '{"name": "country_info", "arguments": {"country": "France"}}' in text
    assert '{"name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.35}}' in text
    assert '<tool_response>\n{"timezone":"Europe/Paris"}\n</tool_response>' in text
    assert '"name": "list_public_holidays"' in text  # every offered tool is listed
    assert text.rstrip().endswith("Paris is in the Europe/Paris time zone.<|im_end|>")

    text = apply_chat_template(miles, tokenizer, tools=miles["tools"])["text"]
    assert '"arguments": {"value": 10, "from_unit": "mile", "to_unit": "kilometer"}' in text
    assert "<tool_response>\n16.09344 kilometer\n</tool_response>" in text

    text = apply_chat_template(ivory, tokenizer, tools=ivory["tools"])["text"]
    assert '"arguments": {"country": "Côte d\'Ivoire"}' in text
    assert tokenizer(text)["input_ids"]  # and the real tokenizer takes it


# --- schemas ----------------------------------------------------------------------------------

def test_generated_schemas_are_current_and_every_row_validates(
    examples: list[Example], version: VersionInfo, tmp_path: Path
) -> None:
    names = ["export-trl-sft", "export-verl", "export-manifest"]
    assert not set(names) & set(stale_json_schemas()), "run: python -m schemas"
    for fmt, name in (("trl-sft", "export-trl-sft"), ("verl", "export-verl")):
        validator = Draft202012Validator(json.loads((SCHEMA_DIR / f"{name}.json").read_text()))
        for suffix in FILE_TYPES:
            out = tmp_path / f"{fmt}{suffix}"
            export_rows(_rows(examples), fmt=fmt, out=out, version=version)
            for row in _load(out, tmp_path / "hf-cache"):
                assert not list(validator.iter_errors(dict(row)))
            manifest = json.loads(Path(f"{out}.manifest.json").read_text())
            manifest_schema = json.loads((SCHEMA_DIR / "export-manifest.json").read_text())
            Draft202012Validator(manifest_schema).validate(manifest)


def _no_final_message() -> Example:
    example = miles_as_text()
    task = example.task.model_copy(update={"final_message": ""})
    return example.model_copy(update={"task": task})


def _unnamed_tool() -> Example:
    example = miles_as_text()
    return example.model_copy(update={"tools": [CONVERT_UNITS.model_copy(update={"name": ""})]})


@pytest.mark.parametrize(
    ("fmt", "make", "field"),
    [
        ("trl-sft", _no_final_message, "messages/3/content"),
        ("trl-sft", _unnamed_tool, "tools/0/function/name"),
    ],
)
def test_a_row_that_fails_its_schema_raises_export_error(
    fmt: str, make: Any, field: str, version: VersionInfo, tmp_path: Path
) -> None:
    bad = make()
    with pytest.raises(ExportError) as caught:
        export_rows(_rows([paris_chain(), bad]), fmt=fmt, out=tmp_path / "x.jsonl", version=version)
    message = str(caught.value)
    assert bad.example_id in message and f"at {field}:" in message
    assert "schemas/json/export-trl-sft.json" in message


def test_a_verl_row_that_fails_names_the_field(version: VersionInfo, tmp_path: Path) -> None:
    nameless = version.model_copy(update={"dataset": ""})
    with pytest.raises(ExportError, match=r"at data_source: 'backchain/' does not match"):
        export_rows(_rows([paris_chain()]), fmt="verl", out=tmp_path / "x.parquet",
                    version=nameless)


# --- files: determinism, manifest, failures -------------------------------------------------

@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
@pytest.mark.parametrize("fmt", ["trl-sft", "verl"])
def test_exporting_twice_gives_identical_bytes(
    fmt: str, suffix: str, examples: list[Example], version: VersionInfo, tmp_path: Path
) -> None:
    out = tmp_path / f"data{suffix}"
    first = export_rows(_rows(examples), fmt=fmt, out=out, version=version)
    data, manifest = out.read_bytes(), Path(f"{out}.manifest.json").read_bytes()
    second = export_rows(_rows(examples), fmt=fmt, out=out, version=version)
    assert out.read_bytes() == data
    assert Path(f"{out}.manifest.json").read_bytes() == manifest
    assert first == second
    assert first.sha256 == hashlib.sha256(data).hexdigest()


def test_manifest(examples: list[Example], version: VersionInfo, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "train.parquet"  # missing directories are created
    result = export_rows(_rows(examples), fmt="verl", out=out, version=version)
    assert result.manifest_path == tmp_path / "exports" / "train.parquet.manifest.json"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["usage"].startswith("verl: data.train_files=train.parquet")
    del manifest["usage"]
    assert manifest == {
        "version_id": version.version_id,
        "dataset": "geo",
        "version": 3,
        "content_hash": version.content_hash,
        "format": "verl",
        "file": "train.parquet",
        "row_count": 4,
        "sha256": digest,
        "files": [{"path": "train.parquet", "role": "data", "sha256": digest,
                   "bytes": out.stat().st_size, "rows": 4, "split": None}],
        "splits": {},
        "filters": {"min_score": None, "kinds": None, "tools": None, "pass_rate_band": None,
                    "dedup": False, "split": None, "split_seed": 0},
        "selection": None,
        "train_on_tool_outputs": None,
        "multi_turn": False,
        "tools_module": False,
        "observations": False,
        "created_by": "backchain export",
        "load_drift": [],
        "load_drift_total": 0,
    }
    assert sorted(p.name for p in out.parent.iterdir()) == ["train.parquet",
                                                            "train.parquet.manifest.json"]


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_a_failure_midway_leaves_no_half_written_file(
    suffix: str, examples: list[Example], version: VersionInfo, tmp_path: Path
) -> None:
    out = tmp_path / f"train{suffix}"
    previous = export_rows(_rows(examples[:1]), fmt="trl-sft", out=out, version=version)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def failing_store() -> Iterator[tuple[Example, float | None, str]]:
        yield from _rows(examples[:3])
        raise StoreError("the database file went away")

    with pytest.raises(StoreError, match="went away"):  # the caller's error, not a wrapper
        export_rows(failing_store(), fmt="trl-sft", out=out, version=version)
    with pytest.raises(ExportError):
        export_rows(_rows([*examples, _no_final_message()]), fmt="trl-sft", out=out,
                    version=version)
    # the earlier export and its manifest are untouched, and no scratch files are left
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert hashlib.sha256(out.read_bytes()).hexdigest() == previous.sha256


def test_unknown_format_or_extension_is_a_config_error(version: VersionInfo,
                                                         tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="known formats: bfcl, hf, openai, sharegpt, trl-grpo, trl-sft, verifiers, verl, verl-sft"):
        export_rows([], fmt="alpaca", out=tmp_path / "x.jsonl", version=version)
    with pytest.raises(ConfigError, match=r"\*\.parquet or \*\.jsonl"):
        export_rows([], fmt="verl", out=tmp_path / "x.csv", version=version)


def test_a_directory_or_unwritable_path_is_an_export_error(version: VersionInfo,
                                                           tmp_path: Path) -> None:
    (tmp_path / "train.parquet").mkdir()
    with pytest.raises(ExportError, match="is a directory"):
        export_rows([], fmt="verl", out=tmp_path / "train.parquet", version=version)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ExportError, match="cannot write"):
        export_rows([], fmt="verl", out=blocker / "train.jsonl", version=version)


def test_an_empty_export_is_a_valid_empty_file(version: VersionInfo, tmp_path: Path) -> None:
    out = tmp_path / "empty.parquet"
    result = export_rows([], fmt="trl-sft", out=out, version=version)
    assert result.row_count == 0
    assert pq.read_metadata(out).num_rows == 0


# --- the one thing datasets cannot load exactly ----------------------------------------------

@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_floats_datasets_would_load_changed_are_reported(
    suffix: str, version: VersionInfo, tmp_path: Path
) -> None:
    """datasets decodes Json values with pandas' ujson, which reads -0.7 as -0.7000000000000001
    (huggingface/datasets PR #8652). The file holds -0.7; the manifest says what load_dataset
    will return instead, so nothing changes silently."""
    example = _example(
        [_step(TIMEZONE_AT, {"latitude": 51.5, "longitude": -0.7}, {"timezone": "Europe/London"})],
        [TIMEZONE_AT], "Which time zone is at 51.5, -0.7?", "Europe/London.", "Europe/London",
        "/timezone", kind="single",
    )
    out = tmp_path / f"train{suffix}"
    result = export_rows(_rows([example]), fmt="trl-sft", out=out, version=version)

    loaded_value = _load(out, tmp_path / "hf-cache")[0]["messages"][1]["tool_calls"][0][
        "function"]["arguments"]["longitude"]
    field = "messages/1/tool_calls/0/function/arguments/longitude"
    if loaded_value == -0.7:  # datasets decodes exactly (fixed upstream): nothing to report
        assert result.load_drift == ()
    else:
        assert [(d.field, d.written, d.loaded) for d in result.load_drift] == [
            (field, -0.7, loaded_value)]
        manifest = json.loads(result.manifest_path.read_text())
        assert manifest["load_drift"] == [{"example_id": example.example_id, "field": field,
                                           "written": -0.7, "loaded": loaded_value}]
        assert manifest["load_drift_total"] == 1
        # a million drifting rows would not make a million-entry manifest
        many = export_rows(_rows([example] * 1003), fmt="trl-sft", out=tmp_path / f"many{suffix}",
                           version=version)
        manifest = json.loads(many.manifest_path.read_text())
        assert len(manifest["load_drift"]) == 1000 and manifest["load_drift_total"] == 1003
    # the file itself holds the exact value for any reader that parses JSON exactly
    if suffix == ".jsonl":
        row = json.loads(out.read_text(encoding="utf-8"))
    else:
        row = {"messages": [json.loads(m) for m in pq.read_table(out)["messages"][0].as_py()]}
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"]["longitude"] == -0.7


# --- public names -----------------------------------------------------------------------------

def test_public_names_are_exported_and_sorted() -> None:
    assert exporters.__all__ == sorted(exporters.__all__)
    assert {"FORMATS", "ExportResult", "export_rows"} <= set(exporters.__all__)
    assert sorted(FORMATS) == ["bfcl", "hf", "openai", "sharegpt", "trl-grpo", "trl-sft", "verifiers", "verl",
                               "verl-sft"]
    assert schemas.__all__ == sorted(schemas.__all__)
    for name in ("TrlSftRow", "VerlRow", "ExportManifest", "LoadDrift"):
        assert name in schemas.__all__
    assert {"export-trl-sft", "export-verl"} <= set(schemas.RECORD_MODELS)
