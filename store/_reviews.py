"""People's grades of sealed rows (`backchain review`), and how far the judge agrees with them.

Migration m010 adds one table and its public view and macro:

    review_rows     one grade per (version, example, reviewer, graded_at): naturalness
                    ('natural' | 'stilted' | 'unusable'), answer_right, a note
    reviews         the latest grade of each (version, example, reviewer), with the dataset,
                    the version number and the judge's view of the row: the member score
                    and the judge's p(yes) for "is the request natural" when it was asked
    report_reviews(dataset, ref)
                    per reviewer: rows graded, the version's rows, the graded share, the
                    natural / stilted / unusable shares, wrong answers, and the judge's
                    agreement with people (score >= 0.5 when the person found the row usable
                    with a right answer; p(yes) >= 0.5 when the person found it natural)

It reads only tables that exist since m001 (member_rows, version_rows, leaf_rows), so it
does not depend on any other migration's columns.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas import ConfigError, Example

if TYPE_CHECKING:
    import duckdb

NATURALNESS = ("natural", "stilted", "unusable")

M010_STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE review_rows (
        version_id   VARCHAR NOT NULL,
        example_id   VARCHAR NOT NULL,
        reviewer     VARCHAR NOT NULL,
        naturalness  VARCHAR NOT NULL CHECK (naturalness IN ('natural', 'stilted', 'unusable')),
        answer_right BOOLEAN NOT NULL,
        note         VARCHAR NOT NULL DEFAULT '',
        graded_at    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (version_id, example_id, reviewer, graded_at)
    )
    """,
    """
    CREATE OR REPLACE VIEW reviews AS
    WITH latest AS (
        SELECT * FROM review_rows
        QUALIFY row_number() OVER (PARTITION BY version_id, example_id, reviewer ORDER BY graded_at DESC) = 1
    ),
    natural_leaf AS (
        SELECT example_id, avg(p_yes) AS judge_natural_p_yes FROM leaf_rows
        WHERE node_id = 'request_is_natural' AND p_yes IS NOT NULL GROUP BY example_id
    )
    SELECT v.dataset, v.seq AS version, r.version_id, r.example_id, r.reviewer, r.naturalness,
           r.answer_right, r.note, r.graded_at, m.score AS judge_score, n.judge_natural_p_yes
    FROM latest AS r
    JOIN version_rows AS v ON v.version_id = r.version_id
    LEFT JOIN member_rows AS m ON m.version_id = r.version_id AND m.example_id = r.example_id
    LEFT JOIN natural_leaf AS n ON n.example_id = r.example_id
    """,
    """
    CREATE OR REPLACE MACRO report_reviews(dataset, ref) AS TABLE
    WITH r AS (SELECT * FROM reviews WHERE version_id = resolve_version(dataset, ref)),
    total AS (SELECT count(*) AS n FROM member_rows WHERE version_id = resolve_version(dataset, ref))
    SELECT r.reviewer, count(*) AS graded, (SELECT n FROM total) AS rows,
           count(*) / nullif((SELECT n FROM total), 0) AS graded_share,
           avg(CASE WHEN r.naturalness = 'natural' THEN 1 ELSE 0 END) AS natural_share,
           avg(CASE WHEN r.naturalness = 'stilted' THEN 1 ELSE 0 END) AS stilted_share,
           avg(CASE WHEN r.naturalness = 'unusable' THEN 1 ELSE 0 END) AS unusable_share,
           count(*) FILTER (WHERE NOT r.answer_right) AS wrong_answers,
           avg(CASE WHEN (r.judge_score >= 0.5) = (r.naturalness <> 'unusable' AND r.answer_right)
                    THEN 1 ELSE 0 END) FILTER (WHERE r.judge_score IS NOT NULL) AS judge_agreement,
           count(*) FILTER (WHERE r.judge_score IS NOT NULL) AS judge_scored,
           avg(CASE WHEN (r.judge_natural_p_yes >= 0.5) = (r.naturalness = 'natural') THEN 1 ELSE 0 END)
               FILTER (WHERE r.judge_natural_p_yes IS NOT NULL) AS natural_agreement
    FROM r GROUP BY r.reviewer ORDER BY r.reviewer
    """,
)

REVIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "reviews": ("dataset", "version", "version_id", "example_id", "reviewer", "naturalness", "answer_right",
                "note", "graded_at", "judge_score", "judge_natural_p_yes"),
    "report_reviews": ("reviewer", "graded", "rows", "graded_share", "natural_share", "stilted_share",
                       "unusable_share", "wrong_answers", "judge_agreement", "judge_scored", "natural_agreement"),
}


def m010_reviews(con: duckdb.DuckDBPyConnection) -> None:
    """People's grades of sealed rows and the judge's agreement with them (issue 18)."""
    for statement in M010_STATEMENTS:
        con.execute(statement)


@dataclass(frozen=True)
class Grade:
    """One person's grade of one row."""

    naturalness: str
    answer_right: bool
    note: str = ""

    def __post_init__(self) -> None:
        if self.naturalness not in NATURALNESS:
            raise ConfigError(f"grade {self.naturalness!r}: use natural, stilted or unusable")


class ReviewsMixin:
    """Store methods for `backchain review`: a sample to grade, grades saved, the report table."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def atomic(self) -> Any: ...

    def review_sample(self, version_id: str, n: int, *, seed: int = 0, reviewer: str | None = None
                      ) -> Iterator[tuple[Example, float | None]]:
        """Up to ``n`` rows of a version in a seeded random order, skipping rows ``reviewer`` graded."""
        rows = self.con.execute(
            "SELECT m.example_id, m.score FROM member_rows AS m WHERE m.version_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM review_rows AS r WHERE r.version_id = m.version_id "
            "AND r.example_id = m.example_id AND r.reviewer = ?) ORDER BY m.example_id",
            [version_id, reviewer or ""],
        ).fetchall()
        random.Random(seed).shuffle(rows)
        for example_id, score in rows[:n]:
            body = self.con.execute("SELECT body FROM example_rows WHERE example_id = ?", [example_id]).fetchone()
            if body is not None:
                yield Example.model_validate_json(body[0]), score

    def save_review(self, version_id: str, example_id: str, reviewer: str, grade: Grade) -> None:
        """Store one grade; a later grade of the same row by the same reviewer supersedes it."""
        with self.atomic():
            self.con.execute(
                "INSERT INTO review_rows (version_id, example_id, reviewer, naturalness, answer_right, note, "
                "graded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [version_id, example_id, reviewer, grade.naturalness, grade.answer_right, grade.note,
                 _dt.datetime.now(_dt.UTC)],
            )

    def review_report(self, dataset: str, ref: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.con.execute("SELECT * FROM report_reviews(?, ?)", [dataset, ref])
        return [d[0] for d in cur.description], cur.fetchall()
