"""The database's shape: tables, the public SQL contract, and identifier quoting.

Two layers, so that storage can change without breaking anyone's queries:

* **Tables** carry a ``_rows`` suffix (``obs_rows``, ``example_rows``, ...) plus
  ``reply_cache`` and ``_migrations``. They are private to ``store/``. Rows keyed
  by a content hash (observations, tools, examples, leaf results) are written
  with ``INSERT OR IGNORE``: storing the same content twice stores it once.
* **Views and table macros** with plain names (``observations``, ``candidates``,
  ``leaf_results``, ``versions``, ``tools``, ``runs``, ``dataset_rows(dataset,
  ref)``) are the public contract that ``backchain sql`` users, exporters and
  notebooks query. Columns may be added to them; none are renamed or removed
  without a migration and a note.

Versioning lives on plain tables (DuckLake cannot be installed here): a version
is a row in ``version_rows`` (dataset, seq, parent, content hash, run, message)
plus its membership in ``member_rows``. Versions are only ever *sealed*: a
version row is inserted after its members, in one transaction, and never
changes afterwards. Its content hash is SHA-256 over the sorted member example
ids joined by newlines (``MEMBER_HASH_SQL``), computed in SQL both when sealing
and when verifying.

Everything here is DDL text; ``_migrations`` decides when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._accounting import ACCOUNTING_COLUMNS, ACCOUNTING_MACROS, RUNS_ACCOUNTING_COLUMNS
from ._facts import FACT_COLUMNS
from ._report import REPORT_ROW_COLUMNS, REPORT_ROW_MACROS
from ._reviews import REVIEW_COLUMNS

STATUSES = ("accepted", "rejected", "judge_error")


def quote_identifier(name: str) -> str:
    """Quote a SQL identifier for DuckDB: ``a"b`` -> ``"a""b"``.

    Every identifier that is not a literal in this package's own DDL goes
    through here; values are always bound as parameters, never formatted in.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def column_list(names: Sequence[str]) -> str:
    """``a, b`` -> ``"a", "b"``."""
    return ", ".join(quote_identifier(n) for n in names)


# -- m001, as shipped: frozen. A migration's DDL never changes once released, so
# that a file migrated today ends up like one migrated a year ago. Later changes
# are their own statements (M002_* below), applied on top.

M001_TABLES: tuple[str, ...] = (
    """
    CREATE TABLE run_rows (
        run_id       VARCHAR PRIMARY KEY,
        dataset      VARCHAR NOT NULL,
        flow_run_id  VARCHAR,
        started_at   TIMESTAMPTZ NOT NULL,
        finished_at  TIMESTAMPTZ,
        status       VARCHAR NOT NULL,
        config       JSON NOT NULL,
        models       JSON NOT NULL,
        stats        JSON
    )
    """,
    """
    CREATE TABLE tool_rows (
        tool_id            VARCHAR PRIMARY KEY,
        toolset            VARCHAR NOT NULL,
        name               VARCHAR NOT NULL,
        description        VARCHAR NOT NULL,
        input_schema       JSON NOT NULL,
        output_schema      JSON,
        side_effect        VARCHAR NOT NULL,
        side_effect_source VARCHAR NOT NULL,
        first_run_id       VARCHAR
    )
    """,
    """
    CREATE TABLE obs_rows (
        observation_id  VARCHAR PRIMARY KEY,
        call_key        VARCHAR NOT NULL,
        toolset         VARCHAR NOT NULL,
        toolset_version VARCHAR,
        tool            VARCHAR NOT NULL,
        arguments       JSON NOT NULL,
        output          JSON,
        is_error        BOOLEAN NOT NULL,
        error           VARCHAR,
        latency_ms      DOUBLE NOT NULL,
        started_at      TIMESTAMPTZ NOT NULL,
        run_id          VARCHAR
    )
    """,
    """
    CREATE TABLE example_rows (
        example_id   VARCHAR PRIMARY KEY,
        task_key     VARCHAR NOT NULL,
        kind         VARCHAR NOT NULL,
        user_request VARCHAR NOT NULL,
        writer       VARCHAR NOT NULL,
        writer_model VARCHAR,
        trace        JSON NOT NULL,
        answer       JSON NOT NULL,
        body         JSON NOT NULL,
        created_at   TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE candidate_rows (
        run_id      VARCHAR NOT NULL,
        dataset     VARCHAR NOT NULL,
        example_id  VARCHAR NOT NULL,
        status      VARCHAR NOT NULL CHECK (status IN ('accepted', 'rejected', 'judge_error')),
        reason      VARCHAR NOT NULL,
        score       DOUBLE,
        rubric_id   VARCHAR,
        rubric_hash VARCHAR,
        PRIMARY KEY (run_id, example_id)
    )
    """,
    """
    CREATE TABLE leaf_rows (
        example_id  VARCHAR NOT NULL,
        rubric_hash VARCHAR NOT NULL,
        node_id     VARCHAR NOT NULL,
        kind        VARCHAR NOT NULL,
        critical    BOOLEAN NOT NULL,
        passed      BOOLEAN,
        score       DOUBLE,
        p_yes       DOUBLE,
        coverage    DOUBLE,
        skipped     BOOLEAN NOT NULL,
        reason      VARCHAR NOT NULL,
        PRIMARY KEY (example_id, rubric_hash, node_id)
    )
    """,
    """
    CREATE TABLE version_rows (
        version_id   VARCHAR PRIMARY KEY,
        dataset      VARCHAR NOT NULL,
        seq          INTEGER NOT NULL CHECK (seq >= 1),
        parent_id    VARCHAR,
        state        VARCHAR NOT NULL DEFAULT 'sealed' CHECK (state = 'sealed'),
        row_count    BIGINT NOT NULL,
        content_hash VARCHAR NOT NULL,
        run_id       VARCHAR,
        message      VARCHAR NOT NULL,
        author       VARCHAR,
        created_at   TIMESTAMPTZ NOT NULL,
        UNIQUE (dataset, seq)
    )
    """,
    """
    CREATE TABLE member_rows (
        version_id VARCHAR NOT NULL,
        example_id VARCHAR NOT NULL,
        split      VARCHAR NOT NULL,
        score      DOUBLE,
        PRIMARY KEY (version_id, example_id)
    )
    """,
    """
    CREATE TABLE tag_rows (
        dataset    VARCHAR NOT NULL,
        tag        VARCHAR NOT NULL,
        version_id VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (dataset, tag)
    )
    """,
    """
    CREATE TABLE reply_cache (
        key        VARCHAR PRIMARY KEY,
        endpoint   VARCHAR NOT NULL,
        request    JSON NOT NULL,
        reply      JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    )
    """,
)

M001_VIEWS: tuple[str, ...] = (
    """
    CREATE VIEW observations AS
    SELECT "observation_id", "toolset", "tool", "arguments", "output", "is_error", "error",
           "latency_ms", "started_at", "call_key", "toolset_version", "run_id"
    FROM obs_rows
    """,
    """
    CREATE VIEW candidates AS
    SELECT c.example_id, c.dataset, c.run_id, e.kind, e.writer, e.writer_model, e.user_request,
           e.trace, e.answer, c.status, c.reason, c.score
    FROM candidate_rows AS c JOIN example_rows AS e ON e.example_id = c.example_id
    """,
    """
    CREATE VIEW leaf_results AS
    SELECT "example_id", "node_id", "kind", "critical", "passed", "score", "p_yes", "coverage",
           "skipped", "reason", "rubric_hash"
    FROM leaf_rows
    """,
    """
    CREATE VIEW versions AS
    SELECT v.dataset, v.seq AS version, v.version_id, v.parent_id, v.created_at, v.row_count,
           v.content_hash, v.message, v.run_id,
           coalesce((SELECT list(t.tag ORDER BY t.tag) FROM tag_rows AS t
                     WHERE t.version_id = v.version_id), []::VARCHAR[]) AS tags
    FROM version_rows AS v
    """,
    """
    CREATE VIEW tools AS
    SELECT "toolset", "name", "description", "input_schema", "side_effect", "side_effect_source"
    FROM tool_rows
    """,
    """
    CREATE VIEW runs AS
    SELECT "run_id", "dataset", "flow_run_id", "started_at", "finished_at", "status", "stats"
    FROM run_rows
    """,
)

# `ref` may arrive as a number (dataset_rows('x', 3)) or as text ('3', 'prod',
# 'latest'); both compare as VARCHAR so one macro serves every spelling.
M001_MACROS: tuple[str, ...] = (
    """
    CREATE MACRO dataset_rows(dataset, ref) AS TABLE
    WITH arg AS (SELECT CAST(dataset AS VARCHAR) AS ds, CAST(ref AS VARCHAR) AS ref_text),
    chosen AS (
        SELECT v.version_id FROM version_rows AS v, arg
        WHERE v.dataset = arg.ds AND (
            (arg.ref_text = 'latest'
             AND v.seq = (SELECT max(w.seq) FROM version_rows AS w WHERE w.dataset = arg.ds))
            OR CAST(v.seq AS VARCHAR) = arg.ref_text
            OR v.version_id = (SELECT t.version_id FROM tag_rows AS t
                               WHERE t.dataset = arg.ds AND t.tag = arg.ref_text)
        )
    )
    SELECT e.example_id, e.kind, e.user_request, e.trace, e.answer, m.score, m.split,
           e.writer, e.body
    FROM member_rows AS m
    JOIN chosen AS c ON c.version_id = m.version_id
    JOIN example_rows AS e ON e.example_id = m.example_id
    ORDER BY e.example_id
    """,
)

# -- m002: version metadata and lineage, diff, time travel, retention (issue 3) ------
#
# * run_rows gains rubric_hash and config_hash (the run's config JSON, hashed like
#   every other record: a 32-hex-digit SHA-256 prefix of its canonical JSON); older
#   runs get them back-filled from their config and their candidates' rubric.
# * version_rows gains how a version was made: operation ('run', 'seal', 'derive',
#   'merge', 'rollback'), derived_from (the version ids it was made from) and
#   predicate (derive's --where), plus members_hash (see _hashing.py).
# * member_rows is rebuilt without its primary key. The key's index made sealing a
#   million rows 8x slower than the insert itself; uniqueness within a version is
#   checked by the seal (on the sorted stream it hashes anyway) and any later
#   duplicate changes the version's hashes, which verify() reports.
# * expired_version_rows remembers what `backchain gc` expired, so that a
#   reference to a collected version says so instead of silently meaning another.

M002_COLUMNS: tuple[str, ...] = (
    "ALTER TABLE run_rows ADD COLUMN rubric_hash VARCHAR",
    "ALTER TABLE run_rows ADD COLUMN config_hash VARCHAR",
    "ALTER TABLE version_rows ADD COLUMN operation VARCHAR",
    "ALTER TABLE version_rows ADD COLUMN derived_from VARCHAR[]",
    "ALTER TABLE version_rows ADD COLUMN predicate VARCHAR",
    "ALTER TABLE version_rows ADD COLUMN members_hash VARCHAR",
)

M002_BACKFILL: tuple[str, ...] = (
    """
    UPDATE run_rows SET
        config_hash = substr(sha256(CAST(config AS VARCHAR)), 1, 32),
        rubric_hash = (SELECT min(c.rubric_hash) FROM candidate_rows AS c
                       WHERE c.run_id = run_rows.run_id)
    """,
    """
    UPDATE version_rows SET
        operation = CASE WHEN run_id IS NULL THEN 'seal' ELSE 'run' END,
        derived_from = []::VARCHAR[]
    """,
)

M002_TABLES: tuple[str, ...] = (
    """
    CREATE TABLE member_rows_m002 (
        version_id VARCHAR NOT NULL,
        example_id VARCHAR NOT NULL,
        split      VARCHAR NOT NULL,
        score      DOUBLE
    )
    """,
    """
    INSERT INTO member_rows_m002
    SELECT version_id, example_id, split, score FROM member_rows ORDER BY version_id, example_id
    """,
    "DROP TABLE member_rows",
    "ALTER TABLE member_rows_m002 RENAME TO member_rows",
    """
    CREATE TABLE expired_version_rows (
        version_id   VARCHAR PRIMARY KEY,
        dataset      VARCHAR NOT NULL,
        seq          INTEGER NOT NULL,
        created_at   TIMESTAMPTZ NOT NULL,
        row_count    BIGINT NOT NULL,
        content_hash VARCHAR NOT NULL,
        expired_at   TIMESTAMPTZ NOT NULL
    )
    """,
)

M002_VIEWS: tuple[str, ...] = (
    """
    CREATE OR REPLACE VIEW versions AS
    SELECT v.dataset, v.seq AS version, v.version_id, v.parent_id, v.created_at, v.row_count,
           v.content_hash, v.message, v.run_id,
           coalesce((SELECT list(t.tag ORDER BY t.tag) FROM tag_rows AS t
                     WHERE t.version_id = v.version_id), []::VARCHAR[]) AS tags,
           v.author, r.flow_run_id, r.models, r.rubric_hash, r.config_hash,
           coalesce(v.operation, 'seal') AS operation,
           coalesce(v.derived_from, []::VARCHAR[]) AS derived_from, v.predicate,
           v.members_hash
    FROM version_rows AS v LEFT JOIN run_rows AS r ON r.run_id = v.run_id
    """,
    """
    CREATE OR REPLACE VIEW runs AS
    SELECT run_id, dataset, flow_run_id, started_at, finished_at, status, stats,
           models, rubric_hash, config_hash, config
    FROM run_rows
    """,
    """
    CREATE OR REPLACE VIEW expired_versions AS
    SELECT dataset, seq AS version, version_id, created_at, row_count, content_hash, expired_at
    FROM expired_version_rows
    """,
)

# Macro parameters shadow column names inside a macro body, so every column
# below is qualified by its table alias.
M002_MACROS: tuple[str, ...] = (
    # The version a reference names, as a version_id, or NULL. Order of readings:
    # digits are a version number; 'latest'; a tag; otherwise a timestamp (ISO
    # 8601; no zone means UTC), read as the newest version sealed at or before it.
    # A timestamp whose version gc expired gives NULL, never an older version.
    """
    CREATE OR REPLACE MACRO resolve_version(dataset, ref) AS (
        WITH arg AS (SELECT CAST(dataset AS VARCHAR) AS ds, trim(CAST(ref AS VARCHAR)) AS txt)
        SELECT CASE
            WHEN regexp_full_match(arg.txt, '[0-9]+') THEN
                (SELECT v.version_id FROM version_rows AS v
                 WHERE v.dataset = arg.ds AND v.seq = TRY_CAST(arg.txt AS BIGINT))
            WHEN arg.txt = 'latest' THEN
                (SELECT v.version_id FROM version_rows AS v WHERE v.dataset = arg.ds
                 ORDER BY v.seq DESC LIMIT 1)
            ELSE coalesce(
                (SELECT t.version_id FROM tag_rows AS t WHERE t.dataset = arg.ds AND t.tag = arg.txt),
                (SELECT w.version_id FROM (
                     SELECT v.version_id, v.seq, v.created_at FROM version_rows AS v
                     WHERE v.dataset = arg.ds
                     UNION ALL
                     SELECT NULL, x.seq, x.created_at FROM expired_version_rows AS x
                     WHERE x.dataset = arg.ds) AS w
                 WHERE w.created_at <= TRY_CAST(arg.txt AS TIMESTAMPTZ)
                 ORDER BY w.created_at DESC, w.seq DESC LIMIT 1))
        END
        FROM arg
    )
    """,
    """
    CREATE OR REPLACE MACRO dataset_rows(dataset, ref) AS TABLE
    SELECT e.example_id, e.kind, e.user_request, e.trace, e.answer, m.score, m.split,
           e.writer, e.body
    FROM member_rows AS m
    JOIN example_rows AS e ON e.example_id = m.example_id
    WHERE m.version_id = resolve_version(dataset, ref)
    ORDER BY e.example_id
    """,
    # Row-level diff of two versions by id. Set-based: one full outer hash join of
    # the two member sets drops every row present in both with the same score and
    # split (the unchanged ones); only the rest meet example_rows (one semi join,
    # kept as the small table `ex`) for their task key. A row in both versions whose score or split moved is 'changed' in
    # place; the remaining rows are paired by task key (the n-th of a task key in
    # A with the n-th in B, by example id): a pair is 'changed', an unpaired A row
    # 'removed', an unpaired B row 'added'.
    """
    CREATE OR REPLACE MACRO version_diff(version_id_a, version_id_b) AS TABLE
    WITH joined AS (
        SELECT ma.example_id AS id_a, mb.example_id AS id_b, ma.score AS score_a,
               mb.score AS score_b, ma.split AS split_a, mb.split AS split_b
        FROM (SELECT m.example_id, m.score, m.split FROM member_rows AS m
              WHERE m.version_id = CAST(version_id_a AS VARCHAR)) AS ma
        FULL OUTER JOIN
             (SELECT m.example_id, m.score, m.split FROM member_rows AS m
              WHERE m.version_id = CAST(version_id_b AS VARCHAR)) AS mb
        ON ma.example_id = mb.example_id
        WHERE ma.example_id IS NULL OR mb.example_id IS NULL
           OR ma.score IS DISTINCT FROM mb.score OR ma.split <> mb.split
    ),
    ex AS (
        SELECT e.example_id, e.task_key, e.kind, e.user_request FROM example_rows AS e
        SEMI JOIN (SELECT j.id_a AS id FROM joined AS j WHERE j.id_a IS NOT NULL
                   UNION ALL
                   SELECT j.id_b FROM joined AS j WHERE j.id_b IS NOT NULL) AS ids
        ON ids.id = e.example_id
    ),
    only_a AS (
        SELECT j.id_a, j.score_a, j.split_a, e.task_key,
               row_number() OVER (PARTITION BY e.task_key ORDER BY j.id_a) AS n
        FROM joined AS j JOIN ex AS e ON e.example_id = j.id_a
        WHERE j.id_b IS NULL
    ),
    only_b AS (
        SELECT j.id_b, j.score_b, j.split_b, e.task_key,
               row_number() OVER (PARTITION BY e.task_key ORDER BY j.id_b) AS n
        FROM joined AS j JOIN ex AS e ON e.example_id = j.id_b
        WHERE j.id_a IS NULL
    ),
    pairs AS (
        SELECT j.id_a, j.id_b, j.score_a, j.score_b, j.split_a, j.split_b
        FROM joined AS j WHERE j.id_a IS NOT NULL AND j.id_b IS NOT NULL
        UNION ALL
        SELECT oa.id_a, ob.id_b, oa.score_a, ob.score_b, oa.split_a, ob.split_b
        FROM only_a AS oa FULL OUTER JOIN only_b AS ob
        ON oa.task_key = ob.task_key AND oa.n = ob.n
    )
    SELECT CASE WHEN p.id_a IS NULL THEN 'added' WHEN p.id_b IS NULL THEN 'removed'
                ELSE 'changed' END AS change,
           coalesce(ea.task_key, eb.task_key) AS task_key,
           p.id_a AS example_id_a, p.id_b AS example_id_b, p.score_a, p.score_b,
           p.split_a, p.split_b, coalesce(eb.kind, ea.kind) AS kind,
           ea.user_request AS user_request_a, eb.user_request AS user_request_b
    FROM pairs AS p
    LEFT JOIN ex AS ea ON ea.example_id = p.id_a
    LEFT JOIN ex AS eb ON eb.example_id = p.id_b
    ORDER BY change, task_key, example_id_a, example_id_b
    """,
    """
    CREATE OR REPLACE MACRO dataset_diff(dataset, a, b) AS TABLE
    SELECT * FROM version_diff(resolve_version(dataset, a), resolve_version(dataset, b))
    """,
    # From one example back to what made it: one row per step of its trace and
    # per run that produced it (content addressing means two runs can produce the
    # same example), with the step's observation, the run's provenance and every
    # version that holds the example.
    """
    CREATE OR REPLACE MACRO lineage(example_id) AS TABLE
    WITH ex AS (
        SELECT e.example_id AS eid, e.task_key, e.trace FROM example_rows AS e
        WHERE e.example_id = CAST(example_id AS VARCHAR)
    ),
    steps AS (
        SELECT ex.eid, s.i AS step,
               json_extract_string(ex.trace, '$.steps[' || s.i || '].observation_id') AS obs_id
        FROM ex, range(CAST(coalesce(json_array_length(ex.trace, '$.steps'), 0) AS BIGINT)) AS s(i)
    ),
    made AS (
        SELECT c.example_id AS eid, c.run_id, c.status, c.score
        FROM candidate_rows AS c, ex WHERE c.example_id = ex.eid
    ),
    held AS (
        SELECT list(v.dataset || '@' || v.seq ORDER BY v.dataset, v.seq) AS refs,
               list(v.version_id ORDER BY v.dataset, v.seq) AS ids
        FROM member_rows AS m JOIN version_rows AS v ON v.version_id = m.version_id, ex
        WHERE m.example_id = ex.eid
    )
    SELECT ex.eid AS example_id, ex.task_key, st.step, st.obs_id AS observation_id,
           o.toolset, o.tool, o.arguments, o.output, o.is_error, o.started_at AS observed_at,
           made.run_id, r.flow_run_id, r.models, r.rubric_hash, r.config_hash,
           made.status, made.score AS candidate_score,
           coalesce(held.refs, []::VARCHAR[]) AS versions,
           coalesce(held.ids, []::VARCHAR[]) AS version_ids
    FROM ex
    LEFT JOIN steps AS st ON st.eid = ex.eid
    LEFT JOIN obs_rows AS o ON o.observation_id = st.obs_id
    LEFT JOIN made ON made.eid = ex.eid
    LEFT JOIN run_rows AS r ON r.run_id = made.run_id
    CROSS JOIN held
    ORDER BY r.started_at NULLS LAST, made.run_id, st.step
    """,
)

# The public contract after the newest migration. Column order is the order users
# see; columns are only ever appended (m002 appended to versions and runs).
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "observations": (
        "observation_id", "toolset", "tool", "arguments", "output", "is_error", "error",
        "latency_ms", "started_at", "call_key", "toolset_version", "run_id",
        "is_empty", "raw", "parser", "error_inferred",
    ),
    "candidates": (
        "example_id", "dataset", "run_id", "kind", "writer", "writer_model", "user_request",
        "trace", "answer", "status", "reason", "score",
    ),
    "leaf_results": (
        "example_id", "node_id", "kind", "critical", "passed", "score", "p_yes", "coverage",
        "skipped", "reason", "rubric_hash",
    ),
    "versions": (
        "dataset", "version", "version_id", "parent_id", "created_at", "row_count",
        "content_hash", "message", "run_id", "tags",
        "author", "flow_run_id", "models", "rubric_hash", "config_hash", "operation",
        "derived_from", "predicate", "members_hash",
    ),
    "tools": ("toolset", "name", "description", "input_schema", "side_effect", "side_effect_source"),
    "runs": (
        "run_id", "dataset", "flow_run_id", "started_at", "finished_at", "status", "stats",
        "models", "rubric_hash", "config_hash", "config",
    ),
    "expired_versions": (
        "dataset", "version", "version_id", "created_at", "row_count", "content_hash", "expired_at",
    ),
    "dataset_rows": (
        "example_id", "kind", "user_request", "trace", "answer", "score", "split", "writer", "body",
    ),
    "dataset_diff": (
        "change", "task_key", "example_id_a", "example_id_b", "score_a", "score_b", "split_a",
        "split_b", "kind", "user_request_a", "user_request_b",
    ),
    "version_diff": (
        "change", "task_key", "example_id_a", "example_id_b", "score_a", "score_b", "split_a",
        "split_b", "kind", "user_request_a", "user_request_b",
    ),
    "lineage": (
        "example_id", "task_key", "step", "observation_id", "toolset", "tool", "arguments",
        "output", "is_error", "observed_at", "run_id", "flow_run_id", "models", "rubric_hash",
        "config_hash", "status", "candidate_score", "versions", "version_ids",
    ),
}

CONTRACT_COLUMNS.update(FACT_COLUMNS)
CONTRACT_COLUMNS.update(ACCOUNTING_COLUMNS)
CONTRACT_COLUMNS.update(REVIEW_COLUMNS)  # m010
CONTRACT_COLUMNS.update(REPORT_ROW_COLUMNS)  # m011
CONTRACT_COLUMNS["runs"] += RUNS_ACCOUNTING_COLUMNS  # m007

# Names in CONTRACT_COLUMNS that are table macros (called with arguments), not views.
TABLE_MACROS: dict[str, str] = {
    "dataset_rows": "dataset_rows(dataset, ref)",
    "dataset_diff": "dataset_diff(dataset, a, b)",
    "version_diff": "version_diff(version_id_a, version_id_b)",
    "lineage": "lineage(example_id)",
    "report_reviews": "report_reviews(dataset, ref)",
    **ACCOUNTING_MACROS,
    **REPORT_ROW_MACROS,
}

# SHA-256 over the sorted member ids, newline-joined; an empty version hashes ''.
# The definition of a version's content_hash since m001. Seal and verify compute
# it in Python over a sorted stream (_hashing.py) with the same result; this SQL
# is the reference and what a user can run to check a version by hand.
# Bind: version_id.
MEMBER_HASH_SQL = """
    SELECT sha256(coalesce(string_agg(example_id, chr(10) ORDER BY example_id), '')),
           count(*)
    FROM member_rows WHERE version_id = ?
"""
