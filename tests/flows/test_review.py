"""`backchain review` (issue 18): a person grades sampled rows; grades land in the reviews view and
the report. Non-interactive here: grades come on stdin and from a file, as a script would give them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def version_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the embedded default, no model: a sealed version to review."""
    from flows import Reporter, RunConfig, run_pipeline

    db = tmp_path_factory.mktemp("review") / "bc.duckdb"
    asyncio.run(run_pipeline(RunConfig(dataset="rev", examples=6, no_model=True, max_calls=40, dedup_threshold=0,
                                       kinds={"single": 1.0}), db, Reporter(quiet=True)))
    return db


def test_grades_from_stdin_are_stored_and_reported(version_db: Path) -> None:
    result = runner.invoke(app, ["review", "rev@latest", "-n", "3", "--reviewer", "ana", "--db", str(version_db)],
                           input="n y\ns n the unit is wrong\n-\n")
    assert result.exit_code == 0, result.output
    assert "USER: " in result.output and "ASSISTANT: " in result.output and "call 1: " in result.output
    assert "saved 2 grade(s) by ana" in result.output and "skipped 1" in result.output
    with Store(version_db, read_only=True) as store:
        rows = store.con.execute("SELECT naturalness, answer_right, note FROM reviews WHERE reviewer = 'ana' "
                                 "ORDER BY naturalness").fetchall()
        assert rows == [("natural", True, ""), ("stilted", False, "the unit is wrong")]
        columns, table = store.review_report("rev", "latest")
        report = dict(zip(columns, table[0]))
        assert report["graded"] == 2 and report["natural_share"] == 0.5 and report["wrong_answers"] == 1
        assert 0 < report["graded_share"] < 1 and report["judge_scored"] == 2


def test_a_grades_file_and_a_second_reviewer(version_db: Path, tmp_path: Path) -> None:
    grades = tmp_path / "grades.txt"
    grades.write_text("# one line per row\nunusable no field names everywhere\nq\n", encoding="utf-8")
    result = runner.invoke(app, ["review", "rev@latest", "-n", "2", "--reviewer", "bo", "--grades", str(grades),
                                 "--db", str(version_db)])
    assert result.exit_code == 0, result.output
    assert "saved 1 grade(s) by bo" in result.output
    with Store(version_db, read_only=True) as store:
        assert store.con.execute("SELECT count(DISTINCT reviewer) FROM reviews").fetchone() == (2,)


def test_an_unreadable_grade_is_one_line_naming_the_format(version_db: Path) -> None:
    result = runner.invoke(app, ["review", "rev@latest", "-n", "1", "--reviewer", "cy", "--db", str(version_db)],
                           input="great\n")
    assert result.exit_code == 1
    assert "grade 'great': write naturalness (n/s/u) and answer (y/n)" in result.output


def test_the_report_shows_the_review_section(version_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "rev@latest", "--out", str(out), "--db", str(version_db)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Human review" in page and "report_reviews" in page
