"""Retention: ``backchain gc``, in two steps as Delta and Lance do it.

1. **Expire versions.** Per dataset, versions beyond the newest ``keep_last`` go,
   except tagged versions (never, whatever their age) and the latest (``keep_last``
   is at least 1). An expired version's row moves to ``expired_version_rows`` (a
   tombstone: a later reference to it, by number or by a time at which it was the
   latest, says it was expired instead of quietly meaning another version) and its
   ``member_rows`` are deleted. ``parent_id`` and ``derived_from`` of kept
   versions keep naming it, as history.
2. **Collect unreferenced rows**, in exactly these tables:

   * ``candidate_rows`` of *collectable runs*, for examples no kept version
     holds. A run is collectable when it is in scope (``--dataset``), finished
     (a run still marked 'running' is never touched), made no kept version, and
     started before the oldest kept version of its dataset was sealed. So the
     rejected candidates of recent runs stay for analysis, and a dataset with no
     version left is not touched at all.
   * ``example_rows`` that a collected candidate or an expired version's member
     named, when no kept version (of any dataset) holds them and no remaining
     candidate names them. An example gc cannot attribute (no candidate, no
     version) is never collected.
   * ``leaf_rows`` of collected examples.
   * ``obs_rows`` first recorded by a collectable run, when no remaining
     example's trace points at them. Observations are content-addressed and
     shared: an observation a kept example was built from stays even if the run
     that first recorded it goes.

   Never collected: ``run_rows`` (the run history is small and explains the
   tombstones), ``tool_rows``, ``tag_rows``, ``reply_cache`` and ``call_cache``
   (model replies and tool calls kept for later runs, not part of any version)
   and anything of a kept version.

Both steps run in one transaction, so a crash leaves either everything or
nothing collected. The plan is computed into temporary tables first; a dry run
reports them and rolls back, so it changes nothing (and runs on a read-only
store). Afterwards a CHECKPOINT lets DuckDB reuse the freed blocks.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import duckdb

from ._connection import first_row

COLLECTED_TABLES = ("candidate_rows", "example_rows", "leaf_rows", "obs_rows")


@dataclass(frozen=True)
class ExpiredVersion:
    """One version that gc expired (or would expire)."""

    dataset: str
    version: int
    version_id: str
    row_count: int
    created_at: _dt.datetime


@dataclass(frozen=True)
class GcReport:
    """What ``Store.gc`` expired and collected (or, with ``dry_run``, would)."""

    dry_run: bool
    keep_last: int
    dataset: str | None
    expired: list[ExpiredVersion] = field(default_factory=list)
    collected: dict[str, int] = field(default_factory=dict)
    member_rows: int = 0


# Bind: scope dataset (or NULL) twice, keep_last.
_PLAN_VERSIONS = """
    CREATE TEMP TABLE _gc_versions AS
    SELECT v.version_id, v.dataset, v.seq, v.row_count, v.created_at
    FROM (SELECT w.*, row_number() OVER (PARTITION BY w.dataset ORDER BY w.seq DESC) AS rank
          FROM version_rows AS w WHERE ($1 IS NULL OR w.dataset = $1)) AS v
    WHERE v.rank > $2
      AND v.version_id NOT IN (SELECT t.version_id FROM tag_rows AS t)
"""

# Bind: scope dataset (or NULL).
_PLAN_ROWS = (
    """
    CREATE TEMP TABLE _gc_kept AS
    SELECT v.version_id, v.dataset, v.run_id, v.created_at FROM version_rows AS v
    WHERE v.version_id NOT IN (SELECT g.version_id FROM _gc_versions AS g)
    """,
    """
    CREATE TEMP TABLE _gc_runs AS
    SELECT r.run_id FROM run_rows AS r
    WHERE ($1 IS NULL OR r.dataset = $1)
      AND r.status <> 'running'
      AND r.run_id NOT IN (SELECT k.run_id FROM _gc_kept AS k WHERE k.run_id IS NOT NULL)
      AND r.started_at < (SELECT min(k.created_at) FROM _gc_kept AS k WHERE k.dataset = r.dataset)
    """,
    """
    CREATE TEMP TABLE _gc_held AS
    SELECT DISTINCT m.example_id FROM member_rows AS m
    SEMI JOIN _gc_kept AS k ON k.version_id = m.version_id
    """,
    """
    CREATE TEMP TABLE _gc_candidates AS
    SELECT c.run_id, c.example_id FROM candidate_rows AS c
    SEMI JOIN _gc_runs AS r ON r.run_id = c.run_id
    ANTI JOIN _gc_held AS h ON h.example_id = c.example_id
    """,
    """
    CREATE TEMP TABLE _gc_examples AS
    WITH named AS (
        SELECT gc.example_id FROM _gc_candidates AS gc
        UNION
        SELECT m.example_id FROM member_rows AS m
        SEMI JOIN _gc_versions AS g ON g.version_id = m.version_id
    ),
    still_named AS (
        SELECT c.example_id FROM candidate_rows AS c
        ANTI JOIN _gc_candidates AS gc ON gc.run_id = c.run_id AND gc.example_id = c.example_id
    )
    SELECT n.example_id FROM named AS n
    SEMI JOIN example_rows AS e ON e.example_id = n.example_id
    ANTI JOIN _gc_held AS h ON h.example_id = n.example_id
    ANTI JOIN still_named AS s ON s.example_id = n.example_id
    """,
    """
    CREATE TEMP TABLE _gc_obs AS
    WITH used AS (
        SELECT DISTINCT unnest(json_extract_string(e.trace, '$.steps[*].observation_id')) AS id
        FROM example_rows AS e ANTI JOIN _gc_examples AS x ON x.example_id = e.example_id
    )
    SELECT o.observation_id FROM obs_rows AS o
    SEMI JOIN _gc_runs AS r ON r.run_id = o.run_id
    ANTI JOIN used AS u ON u.id = o.observation_id
    """,
)

_COUNTS = """
    SELECT (SELECT count(*) FROM _gc_candidates), (SELECT count(*) FROM _gc_examples),
           (SELECT count(*) FROM leaf_rows AS l SEMI JOIN _gc_examples AS x
                ON x.example_id = l.example_id),
           (SELECT count(*) FROM _gc_obs),
           (SELECT count(*) FROM member_rows AS m SEMI JOIN _gc_versions AS g
                ON g.version_id = m.version_id)
"""

_APPLY = (
    """
    INSERT INTO expired_version_rows
        (version_id, dataset, seq, created_at, row_count, content_hash, expired_at)
    SELECT v.version_id, v.dataset, v.seq, v.created_at, v.row_count, v.content_hash, $1
    FROM version_rows AS v SEMI JOIN _gc_versions AS g ON g.version_id = v.version_id
    """,
    "DELETE FROM member_rows WHERE version_id IN (SELECT version_id FROM _gc_versions)",
    "DELETE FROM version_rows WHERE version_id IN (SELECT version_id FROM _gc_versions)",
    """
    DELETE FROM candidate_rows AS c USING _gc_candidates AS g
    WHERE c.run_id = g.run_id AND c.example_id = g.example_id
    """,
    "DELETE FROM leaf_rows WHERE example_id IN (SELECT example_id FROM _gc_examples)",
    "DELETE FROM example_rows WHERE example_id IN (SELECT example_id FROM _gc_examples)",
    "DELETE FROM obs_rows WHERE observation_id IN (SELECT observation_id FROM _gc_obs)",
)

_TEMP = ("_gc_versions", "_gc_kept", "_gc_runs", "_gc_held", "_gc_candidates", "_gc_examples", "_gc_obs")


def plan_and_apply(
    con: duckdb.DuckDBPyConnection, *, keep_last: int, dataset: str | None, apply: bool,
    now: _dt.datetime,
) -> GcReport:
    """Compute the plan on ``con`` (inside the caller's transaction) and apply it if asked."""
    for name in _TEMP:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    con.execute(_PLAN_VERSIONS, [dataset, keep_last])
    for statement in _PLAN_ROWS:
        con.execute(statement, [dataset] if "$1" in statement else None)
    expired = [
        ExpiredVersion(dataset=d, version=int(s), version_id=v, row_count=int(n), created_at=c)
        for v, d, s, n, c in con.execute(
            "SELECT version_id, dataset, seq, row_count, created_at FROM _gc_versions "
            "ORDER BY dataset, seq"
        ).fetchall()
    ]
    counts = first_row(con.execute(_COUNTS)) or (0, 0, 0, 0, 0)
    collected = dict(zip(COLLECTED_TABLES, (int(counts[0]), int(counts[1]), int(counts[2]),
                                            int(counts[3])), strict=True))
    if apply:
        for statement in _APPLY:
            con.execute(statement, [now] if "$1" in statement else None)
    for name in _TEMP:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    return GcReport(dry_run=not apply, keep_last=keep_last, dataset=dataset, expired=expired,
                    collected=collected, member_rows=int(counts[4]))
