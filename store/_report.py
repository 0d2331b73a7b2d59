"""The rows a `backchain report` opens with: a summary of the version and a seeded sample of rows.

Migration m011 adds two table macros beside the numbers of m007 (store/_accounting.py), over the
same version and the same run(s) (``version_runs``):

    report_summary(dataset, ref)
        one row: the version's rows and task kinds, the runs that made it, their candidates
        by status (accepted, rejected, judge errors), the acceptance rate, the rejection reasons
        (failing leaves) seen, and the members' mean score
    report_samples(dataset, ref, n := 4, seed := 0)
        up to ``n`` accepted rows (members of the version) and ``n`` rejected rows (candidates of
        the runs that were rejected or whose judge failed), each with its task and trace as JSON
        and its rubric leaves' verdicts (failed leaves first). The order is a hash of ``seed`` and
        the example id, so a seed gives the same sample on every call. Rejected rows are taken
        round-robin across failing leaves (``leaf``, grouped as `report_rejections` groups
        them), the largest group first, so a handful shows different reasons, not the commonest
        one n times.

Both read tables that exist since m001 and ``version_runs`` (m007).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

SAMPLE_ROWS = 4
SAMPLE_SEED = 0

# The failing leaf of a reason: the part before ':'; "score ... below min_score ..." as one
# group. The same reading as report_rejections (m007), so a sample's leaf names its row there.
_LEAF = """CASE WHEN {r} LIKE 'score % below min_score %' THEN 'below min_score'
                    ELSE split_part({r}, ':', 1) END"""

# Macro parameters shadow column names inside a macro body (dataset, ref, n, seed): every
# column below is qualified by its table alias.
M011_STATEMENTS: tuple[str, ...] = (
    f"""
    CREATE OR REPLACE MACRO report_summary(dataset, ref) AS TABLE
    WITH vid AS (SELECT resolve_version(dataset, ref) AS id),
    mem AS (
        SELECT e.kind, m.score FROM member_rows AS m JOIN vid ON m.version_id = vid.id
        JOIN example_rows AS e ON e.example_id = m.example_id
    ),
    runs AS (SELECT vr.run_id FROM version_runs(resolve_version(dataset, ref)) AS vr),
    cand AS (
        SELECT c.status, {_LEAF.format(r="c.reason")} AS leaf
        FROM candidate_rows AS c JOIN runs ON runs.run_id = c.run_id
    ),
    counts AS (
        SELECT count(*) AS candidates,
               count(*) FILTER (WHERE cand.status = 'accepted') AS accepted,
               count(*) FILTER (WHERE cand.status = 'rejected') AS rejected,
               count(*) FILTER (WHERE cand.status = 'judge_error') AS judge_errors,
               count(DISTINCT cand.leaf) FILTER (WHERE cand.status <> 'accepted') AS rejection_reasons
        FROM cand
    )
    SELECT (SELECT count(*) FROM mem) AS rows,
           (SELECT count(DISTINCT mem.kind) FROM mem) AS kinds,
           (SELECT count(*) FROM runs) AS runs,
           counts.candidates, counts.accepted, counts.rejected, counts.judge_errors,
           counts.accepted / nullif(counts.candidates, 0) AS acceptance,
           counts.rejection_reasons,
           (SELECT avg(mem.score) FROM mem) AS mean_score
    FROM counts
    """,
    f"""
    CREATE OR REPLACE MACRO report_samples(dataset, ref, n := {SAMPLE_ROWS}, seed := {SAMPLE_SEED}) AS TABLE
    WITH vid AS (SELECT resolve_version(dataset, ref) AS id),
    runs AS (SELECT vr.run_id FROM version_runs(resolve_version(dataset, ref)) AS vr),
    cand AS (
        SELECT c.example_id, c.status, c.reason, c.score, c.rubric_hash
        FROM candidate_rows AS c JOIN runs ON runs.run_id = c.run_id
        QUALIFY row_number() OVER (PARTITION BY c.example_id
                                   ORDER BY (c.status = 'accepted') DESC, c.run_id) = 1
    ),
    acc AS (
        SELECT 'accepted' AS sample, m.example_id, 'accepted' AS status, CAST(NULL AS VARCHAR) AS leaf,
               coalesce(cand.reason, '') AS reason, m.score, cand.rubric_hash,
               row_number() OVER (ORDER BY md5(CAST(seed AS VARCHAR) || ':' || m.example_id)) AS pick
        FROM member_rows AS m JOIN vid ON m.version_id = vid.id
        LEFT JOIN cand ON cand.example_id = m.example_id
    ),
    rej AS (
        SELECT cand.example_id, cand.status, {_LEAF.format(r="cand.reason")} AS leaf, cand.reason,
               cand.score, cand.rubric_hash,
               md5(CAST(seed AS VARCHAR) || ':' || cand.example_id) AS h
        FROM cand WHERE cand.status <> 'accepted'
    ),
    ranked AS (
        SELECT rej.*, row_number() OVER (PARTITION BY rej.leaf ORDER BY rej.h) AS within,
               count(*) OVER (PARTITION BY rej.leaf) AS group_size
        FROM rej
    ),
    picked AS (
        SELECT acc.sample, acc.pick, acc.example_id, acc.status, acc.leaf, acc.reason, acc.score,
               acc.rubric_hash
        FROM acc WHERE acc.pick <= n
        UNION ALL
        SELECT 'rejected', r.pick, r.example_id, r.status, r.leaf, r.reason, r.score, r.rubric_hash
        FROM (SELECT ranked.*, row_number() OVER (ORDER BY ranked.within, ranked.group_size DESC,
                                                           ranked.leaf, ranked.h) AS pick
              FROM ranked) AS r
        WHERE r.pick <= n
    )
    SELECT p.sample, p.pick, p.example_id, p.status, p.leaf, p.reason, p.score, e.kind,
           CAST(coalesce(json_array_length(e.trace, '$.steps'), 0) AS BIGINT) AS steps,
           json_extract(e.body, '$.task') AS task, e.trace,
           coalesce((SELECT list({{'node_id': l.node_id, 'kind': l.kind, 'critical': l.critical,
                                   'passed': l.passed, 'skipped': l.skipped, 'score': l.score,
                                   'p_yes': l.p_yes, 'reason': l.reason}}
                                 ORDER BY (l.passed IS NOT DISTINCT FROM false) DESC, l.kind, l.node_id)
                     FROM leaf_rows AS l
                     WHERE l.example_id = p.example_id AND l.rubric_hash = p.rubric_hash), []) AS leaves
    FROM picked AS p JOIN example_rows AS e ON e.example_id = p.example_id
    ORDER BY p.sample, p.pick
    """,
)

REPORT_ROW_COLUMNS: dict[str, tuple[str, ...]] = {
    "report_summary": ("rows", "kinds", "runs", "candidates", "accepted", "rejected", "judge_errors",
                       "acceptance", "rejection_reasons", "mean_score"),
    "report_samples": ("sample", "pick", "example_id", "status", "leaf", "reason", "score", "kind", "steps",
                       "task", "trace", "leaves"),
}

REPORT_ROW_MACROS: dict[str, str] = {
    "report_summary": "report_summary(dataset, ref)",
    "report_samples": f"report_samples(dataset, ref, n := {SAMPLE_ROWS}, seed := {SAMPLE_SEED})",
}


def m011_report_rows(con: duckdb.DuckDBPyConnection) -> None:
    """The report's summary and its seeded sample of accepted and rejected rows (issue 20)."""
    for statement in M011_STATEMENTS:
        con.execute(statement)
