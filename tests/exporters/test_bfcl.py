"""The BFCL eval split: question and possible_answer files, and the AST checker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from datasets import load_dataset

from exporters import FORMATS, bfcl_check, export_rows
from exporters._bfcl import bfcl_function
from schemas import ArgumentSource, ExportError, ExportFilters, VersionInfo

from ._examples import (
    error_recovery,
    every_kind,
    holidays_single,
    multi_turn_ask,
    no_call_sum,
    parallel_pair,
    paris_chain,
)


def _export(tmp_path: Path, version: VersionInfo, examples: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out = tmp_path / "BFCL_backchain.json"
    export_rows([(ex, None, "test") for ex in examples], fmt="bfcl", out=out, version=version)
    questions = [json.loads(line) for line in out.read_text().splitlines()]
    answers = [json.loads(line) for line in (tmp_path / "possible_answer" / out.name).read_text().splitlines()]
    return questions, answers


def test_questions_and_possible_answers_for_every_kind(version: VersionInfo, tmp_path: Path) -> None:
    questions, answers = _export(tmp_path, version, every_kind())
    assert [q["id"] for q in questions] == [a["id"] for a in answers] == [
        "multiple_0", "multiple_1", "simple_2", "parallel_multiple_3", "multiple_4", "multiple_5", "irrelevance_6"]
    truth = {q["id"]: a["ground_truth"] for q, a in zip(questions, answers, strict=True)}
    # a chain: only the first call is asked (the second needs its output)
    assert truth["multiple_0"] == [{"country_info": {"country": ["France"]}}]
    assert truth["multiple_1"] == [{"list_public_holidays": {"country_code": ["DE"], "year": [2024]}}]
    assert truth["parallel_multiple_3"] == [{"country_info": {"country": ["Japan"]}},
                                            {"timezone_at": {"latitude": [51.5], "longitude": [-0.12]}}]
    # multi_turn: the question holds the dialogue up to the call
    assert questions[4]["question"] == [[
        {"role": "user", "content": "Which time zone is the capital of my country in?"},
        {"role": "assistant", "content": "Which country do you mean?"},
        {"role": "user", "content": "The country is France."}]]
    # error_recovery: the corrected call is the answer, not the failed one
    assert truth["multiple_5"] == [{"convert_units": {"value": [10], "from_unit": ["mile"], "to_unit": ["kilometer"]}}]
    assert truth["irrelevance_6"] == []
    fn = questions[0]["function"][1]
    assert fn == {"name": "timezone_at", "description": "The IANA time zone at a point.",
                  "parameters": {"type": "dict", "required": ["latitude", "longitude"],
                                 "properties": {"latitude": {"type": "float"}, "longitude": {"type": "float"}}}}
    assert questions[1]["function"][0]["parameters"]["properties"]["year"] == {"type": "integer"}
    # datasets reads both files
    for path in (tmp_path / "BFCL_backchain.json", tmp_path / "possible_answer" / "BFCL_backchain.json"):
        assert load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "c")).num_rows == 7


def test_defaults_may_be_omitted_and_types_are_bfcls(version: VersionInfo) -> None:
    schema = {
        "type": "object",
        "properties": {
            "faa": {"type": "string"},
            "limit": {"type": "integer", "default": 5},
            "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
            "date": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
        },
        "required": ["faa"],
    }
    example = holidays_single()
    tool = example.tools[0].model_copy(update={"name": "top_destinations", "input_schema": schema})
    step = example.trace.steps[0].model_copy(update={
        "tool": "top_destinations", "arguments": {"faa": "JFK", "limit": 5},
        "sources": {"faa": ArgumentSource(origin="user", how="seed"),
                    "limit": ArgumentSource(origin="user", how="schema-default")},
    })
    example = example.model_copy(update={"tools": [tool], "trace": example.trace.model_copy(update={"steps": [step]})})
    fmt = FORMATS["bfcl"]
    row = fmt.row(example, None, "test", 0, version)
    assert row["id"] == "simple_0"
    assert fmt.answer_row(example, row["id"])["ground_truth"] == [{"top_destinations": {
        "faa": ["JFK"], "limit": [5, ""], "units": ["metric", ""], "date": [None, ""]}}]
    properties = bfcl_function("f", "", schema)["parameters"]["properties"]
    assert properties["date"] == {"type": "string", "default": None}
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}}
    assert properties["where"] == {"type": "dict", "properties": {"lat": {"type": "float"}}}
    assert properties["units"]["enum"] == ["metric", "imperial"]


def test_a_first_call_fed_by_an_output_cannot_be_a_question(version: VersionInfo, tmp_path: Path) -> None:
    example = paris_chain()
    steps = list(example.trace.steps)
    steps[0] = steps[0].model_copy(update={"sources": {"country": ArgumentSource(origin="step", step=0, pointer="/x")}})
    bad = example.model_copy(update={"trace": example.trace.model_copy(update={"steps": steps})})
    with pytest.raises(ExportError, match="cannot be asked from the question alone"):
        export_rows([(bad, None, "test")], fmt="bfcl", out=tmp_path / "q.json", version=version)


def test_split_files_keep_the_layout(version: VersionInfo, tmp_path: Path) -> None:
    result = export_rows([(ex, None, "x") for ex in every_kind()], fmt="bfcl", out=tmp_path / "BFCL_b.jsonl",
                         version=version, filters=ExportFilters(split={"dev": 0.5, "test": 0.5}))
    paths = sorted(f.path for f in result.files)
    assert paths == ["BFCL_b-dev.jsonl", "BFCL_b-test.jsonl", "possible_answer/BFCL_b-dev.jsonl",
                     "possible_answer/BFCL_b-test.jsonl"]


# --- the checker -----------------------------------------------------------------------------------

TRUTH = [{"timezone_at": {"latitude": [48.85], "longitude": [2.35]}}]
PARALLEL = [{"country_info": {"country": ["Japan"]}},
            {"timezone_at": {"latitude": [51.5], "longitude": [-0.12], "detail": ["full", ""]}}]


@pytest.mark.parametrize(("calls", "ok", "reason"), [
    ([{"name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.35}}], True, ""),
    ([{"timezone_at": {"longitude": 2.35, "latitude": 48.85}}], True, ""),  # BFCL's own shape
    ([{"name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.36}}], False,
     "parameter 'longitude' of timezone_at: 2.36 is not one of [2.35]"),
    ([{"name": "timezone_at", "arguments": {"latitude": 48.85}}], False,
     "missing required parameter 'longitude' of timezone_at"),
    ([{"name": "timezone_at", "arguments": {"latitude": 48.85, "longitude": 2.35, "tz": "UTC"}}], False,
     "unexpected parameter 'tz' of timezone_at"),
    ([{"name": "timezone_at", "arguments": {"latitude": "48.85", "longitude": 2.35}}], False,
     "parameter 'latitude' of timezone_at: expected type float, got string"),
    ([{"name": "time_zone", "arguments": {"latitude": 48.85, "longitude": 2.35}}], False,
     "function name 'time_zone' is not 'timezone_at'"),
    ([], False, "wrong number of calls: expected 1, got 0"),
])
def test_checker_single_call(calls: list[dict[str, Any]], ok: bool, reason: str) -> None:
    got_ok, got_reason = bfcl_check(TRUTH, calls)
    assert got_ok is ok
    assert reason in got_reason


def test_checker_parallel_calls_in_any_order_and_optional_parameters() -> None:
    japan = {"name": "country_info", "arguments": {"country": "japan"}}  # strings: BFCL's normalisation
    london = {"name": "timezone_at", "arguments": {"latitude": 51.5, "longitude": -0.12}}
    assert bfcl_check(PARALLEL, [japan, london]) == (True, "")
    assert bfcl_check(PARALLEL, [london, japan]) == (True, "")
    with_default = {"name": "timezone_at", "arguments": {"latitude": 51.5, "longitude": -0.12, "detail": "full"}}
    assert bfcl_check(PARALLEL, [with_default, japan]) == (True, "")
    ok, reason = bfcl_check(PARALLEL, [japan, {**london, "arguments": {**london["arguments"], "detail": "basic"}}])
    assert not ok and "no call matches the expected timezone_at" in reason and "'basic' is not one of ['full']" in reason
    ok, reason = bfcl_check(PARALLEL, [japan, japan])
    assert not ok and "no call matches the expected timezone_at" in reason
    assert bfcl_check(PARALLEL, [japan]) == (False, "wrong number of calls: expected 2, got 1")


def test_checker_types_strings_irrelevance_and_function_descriptions() -> None:
    truth = [{"f": {"n": [2.0], "s": ["New York, NY"], "flag": [True], "xs": [["a", "b"]]}}]
    assert bfcl_check(truth, [{"f": {"n": 2, "s": "new york ny", "flag": True, "xs": ["A", "b"]}}]) == (True, "")
    assert not bfcl_check(truth, [{"f": {"n": 2, "s": "new york", "flag": True, "xs": ["a", "b"]}}])[0]
    assert "expected type boolean, got integer" in bfcl_check(
        truth, [{"f": {"n": 2, "s": "new york ny", "flag": 1, "xs": ["a", "b"]}}])[1]
    assert bfcl_check([], []) == (True, "")
    assert bfcl_check([], [{"name": "f", "arguments": {}}]) == (False, "expected no call (irrelevance), got 1: f")
    # with the question's function list: required and types come from the description
    functions = [bfcl_function("g", "", {"type": "object", "properties": {"k": {"type": "integer"},
                                                                         "o": {"type": "string"}},
                                         "required": ["k"]})]
    assert bfcl_check([{"g": {"k": [3], "o": ["x", ""]}}], [{"g": {"k": 3}}], functions) == (True, "")
    assert "expected type integer, got float" in bfcl_check([{"g": {"k": [3]}}], [{"g": {"k": 3.5}}], functions)[1]


def test_the_exported_ground_truth_accepts_the_recorded_calls(version: VersionInfo, tmp_path: Path) -> None:
    """Every question's own recorded first-turn calls pass; a perturbed one fails."""
    from exporters._bfcl import first_turn_calls

    examples = every_kind() + [parallel_pair(), multi_turn_ask(), error_recovery(), no_call_sum()]
    questions, answers = _export(tmp_path, version, examples)
    for question, answer, example in zip(questions, answers, examples, strict=True):
        calls = [{"name": example.trace.steps[i].tool, "arguments": example.trace.steps[i].arguments}
                 for i in first_turn_calls(example)]
        assert bfcl_check(answer["ground_truth"], list(reversed(calls)), question["function"]) == (True, ""), question["id"]
        if calls:
            name = calls[0]["name"]
            assert not bfcl_check(answer["ground_truth"], [{"name": name + "_x", "arguments": {}}] + calls[1:])[0]
