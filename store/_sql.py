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


TABLES: tuple[str, ...] = (
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

# The public contract. Column order here is the order users see.
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "observations": (
        "observation_id", "toolset", "tool", "arguments", "output", "is_error", "error",
        "latency_ms", "started_at", "call_key", "toolset_version", "run_id",
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
    ),
    "tools": ("toolset", "name", "description", "input_schema", "side_effect", "side_effect_source"),
    "runs": ("run_id", "dataset", "flow_run_id", "started_at", "finished_at", "status", "stats"),
    "dataset_rows": (
        "example_id", "kind", "user_request", "trace", "answer", "score", "split", "writer", "body",
    ),
}

VIEWS: tuple[str, ...] = (
    f"CREATE VIEW observations AS SELECT {column_list(CONTRACT_COLUMNS['observations'])} "
    "FROM obs_rows",
    """
    CREATE VIEW candidates AS
    SELECT c.example_id, c.dataset, c.run_id, e.kind, e.writer, e.writer_model, e.user_request,
           e.trace, e.answer, c.status, c.reason, c.score
    FROM candidate_rows AS c JOIN example_rows AS e ON e.example_id = c.example_id
    """,
    f"CREATE VIEW leaf_results AS SELECT {column_list(CONTRACT_COLUMNS['leaf_results'])} "
    "FROM leaf_rows",
    """
    CREATE VIEW versions AS
    SELECT v.dataset, v.seq AS version, v.version_id, v.parent_id, v.created_at, v.row_count,
           v.content_hash, v.message, v.run_id,
           coalesce((SELECT list(t.tag ORDER BY t.tag) FROM tag_rows AS t
                     WHERE t.version_id = v.version_id), []::VARCHAR[]) AS tags
    FROM version_rows AS v
    """,
    f"CREATE VIEW tools AS SELECT {column_list(CONTRACT_COLUMNS['tools'])} FROM tool_rows",
    f"CREATE VIEW runs AS SELECT {column_list(CONTRACT_COLUMNS['runs'])} FROM run_rows",
)

# `ref` may arrive as a number (dataset_rows('x', 3)) or as text ('3', 'prod',
# 'latest'); both compare as VARCHAR so one macro serves every spelling.
MACROS: tuple[str, ...] = (
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

# SHA-256 over the sorted member ids, newline-joined; an empty version hashes ''.
# One definition, used when sealing and when verifying. Bind: version_id.
MEMBER_HASH_SQL = """
    SELECT sha256(coalesce(string_agg(example_id, chr(10) ORDER BY example_id), '')),
           count(*)
    FROM member_rows WHERE version_id = ?
"""
