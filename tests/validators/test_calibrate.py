"""Judge calibration: planted defects are what they claim, and `backchain judge-check` reports
per-leaf discrimination on a small real version with the real llama.cpp judge.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from generators import Endpoint
from schemas import ArgumentSource
from validators import CHECKS, DEFECT_KINDS, CalibrationReport, CheckContext, judge_context, plant_defects
from validators._calibrate import LeafCalibration

from ._examples import example, step
from .conftest import SmallVersion


def test_each_planted_defect_changes_what_it_names() -> None:
    base = example()
    spain = step("country_info", {"country": "Spain"}, {"country": ArgumentSource(origin="user")},
                 {"name": "Spain", "capital": "Madrid", "currencies": ["EUR"]})
    other = example(request="What is the capital of Spain?", steps=[spain])
    defects = {d.kind: d for d in plant_defects(base, [base, other], seed=1)}
    assert set(defects) == set(DEFECT_KINDS)
    assert defects["extra_call"].change == 'added call country_info({"country": "Spain"})'
    assert defects["mismatched_request"].example.task.user_request == "What is the capital of Spain?"

    wrong = defects["wrong_argument"].example
    assert wrong.trace.steps[0].arguments != base.trace.steps[0].arguments
    assert not CHECKS["provenance"](wrong, CheckContext()).passed  # the call no longer matches the request

    leaked = defects["leaked_answer"].example
    assert not CHECKS["leakage"](leaked, CheckContext()).passed

    missing = defects["missing_step"].example
    assert len(missing.trace.steps) == len(base.trace.steps) - 1

    unstated = defects["answer_not_stated"].example
    assert CHECKS["answer_stated"](base, CheckContext()).passed
    assert not CHECKS["answer_stated"](unstated, CheckContext()).passed

    extra = defects["extra_call"].example
    assert len(extra.trace.steps) == len(base.trace.steps) + 1

    for d in defects.values():
        assert d.change and d.example.example_id != base.example_id
        assert judge_context(d.example) != judge_context(base)


def test_defects_are_deterministic_for_a_seed(small_version: SmallVersion) -> None:
    rows = small_version.examples
    first = [(d.kind, d.change) for d in plant_defects(rows[0], rows, seed=3)]
    assert first == [(d.kind, d.change) for d in plant_defects(rows[0], rows, seed=3)]
    assert {k for k, _ in first} >= {"wrong_argument", "leaked_answer", "extra_call", "missing_step"}


def test_judge_check_reports_per_leaf_discrimination_on_a_real_version(
        small_version: SmallVersion, llama_endpoint: Endpoint, tmp_path: Path) -> None:
    rubric = tmp_path / "one-question.yaml"
    rubric.write_text("id: one-question\nroot:\n  id: root\n  children:\n"
                      "    - {id: gate, check: writer, critical: true}\n"
                      "    - {id: needs_every_call, question: \"Is every tool call in the trace needed to answer "
                      "the user's request?\"}\n")
    args = ["judge-check", str(rubric), "--db", str(small_version.db), "--dataset", f"{small_version.dataset}@latest",
            "--sample", "2", "--judge-url", llama_endpoint.url, "--judge-model", llama_endpoint.model,
            "--min-coverage", "0",
            # A sample of short traces (carrier_info, aircraft_info; seed 0 draws route_flights, whose
            # longer context is paid in each of its six prompts): ~30 s less on a 2-core CI machine.
            "--seed", "2"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 2 and report["threshold"] == 0.5
    assert set(report["planted"]) <= set(DEFECT_KINDS) and sum(report["planted"].values()) >= 8
    copies = sum(report["planted"].values())
    gate, leaf = report["leaves"]
    assert gate["node_id"] == "gate" and gate["kind"] == "check" and gate["critical"]
    assert gate["keep_rate"] == 1.0 and gate["copies"] == copies and gate["suggested_threshold"] is None
    assert leaf["node_id"] == "needs_every_call" and leaf["kind"] == "judge" and leaf["pairs"] == copies
    assert leaf["clean"] == 2 and leaf["copies"] == copies and 0.0 <= leaf["catch_rate"] <= 1.0
    assert 0.0 <= leaf["drop_rate"] <= 1.0 and 0.0 <= leaf["discrimination"] <= 1.0
    assert leaf["flagged"] == (leaf["discrimination"] < 0.5)
    assert sum(v["pairs"] for v in leaf["by_defect"].values()) == leaf["pairs"]
    assert sum(v["copies"] for v in leaf["catch_by_defect"].values()) == copies
    # The rubric as a whole: its only gate is the writer check, which no planted defect breaks, and
    # the judge question is weighted (min_score 0): every row and every copy is accepted.
    assert report["kept_rate"] == 1.0 and report["caught_rate"] == 0.0
    assert sum(v["copies"] for v in report["caught_by_defect"].values()) == copies
    assert report["judge_errors"] == []


def test_the_report_table_leads_with_the_rubric_as_a_whole() -> None:
    gate = LeafCalibration("provenance", "check provenance", "positive", kind="check", critical=True, clean=4,
                           kept=4, caught_by_defect={"wrong_argument": [3, 3], "leaked_answer": [0, 4]})
    question = LeafCalibration("natural", "Is it natural?", "positive", clean=4, kept=3,
                               caught_by_defect={"wrong_argument": [1, 3], "leaked_answer": [2, 4]},
                               clean_scores=[0.9, 0.8, 0.85, 0.4], defect_scores=[0.3, 0.2, 0.9, 0.95, 0.1, 0.7, 0.6])
    report = CalibrationReport("r", "0" * 64, "judge", 4, {"wrong_argument": 3, "leaked_answer": 4}, [gate, question],
                               clean_accepted=4, rejected_by_defect={"wrong_argument": [3, 3], "leaked_answer": [2, 4]})
    text = report.render()
    assert "the rubric as a whole (all gates): caught 71% of 7 defective copies, kept 100% of 4 clean rows" in text
    assert "provenance *  check  1.00  0.43" in text
    # The highest threshold keeping >= 90% of clean rows: 0.40 keeps all 4, 0.45 only 3.
    assert question.suggested_threshold() == (0.4, 3 / 7)
    assert report.to_json()["caught_rate"] == round(5 / 7, 4) and report.to_json()["kept_rate"] == 1.0


def test_judge_check_refuses_a_rubric_without_questions(small_version: SmallVersion, tmp_path: Path) -> None:
    rubric = tmp_path / "checks.yaml"
    rubric.write_text("id: checks\nroot: {id: only, check: writer}\n")
    result = CliRunner().invoke(app, ["judge-check", str(rubric), "--db", str(small_version.db)])
    assert result.exit_code == 1 and "has no judge questions to calibrate" in result.output
