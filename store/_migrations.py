"""Numbered schema migrations, recorded in the database they changed.

Each migration is a function ``mNNN_name(con)``; its number is its schema
version. ``_migrations(version, name, applied_at)`` records which ran. Opening a
store for writing applies every pending migration in one transaction, so a file
is always at a schema version the code knows, never half-way between two.

Opening refuses, without writing anything, a file whose recorded version is
newer than the newest migration here (it was written by a newer backchain), or
which records a migration this code does not know. A read-only open cannot
migrate, so it refuses a file that still has migrations pending.

To change the schema: add ``m003_what_changed`` below, append it to
``MIGRATIONS``, never edit one that has shipped. Views and macros are recreated
with ``CREATE OR REPLACE`` in the migration that changes them.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from schemas import SchemaVersionError

from ._accounting import m007_run_accounting, m008_cached_tool_calls
from ._calls import m006_call_cache_run_owner
from ._connection import first_row
from ._facts import m003_tool_graph_volatility_difficulty, m004_flag_empty_results
from ._hashing import member_digest
from ._observations import m009_output_views
from ._rendered import m005_render_chat
from ._report import m011_report_rows
from ._reviews import m010_reviews
from ._sql import (
    M001_MACROS,
    M001_TABLES,
    M001_VIEWS,
    M002_BACKFILL,
    M002_COLUMNS,
    M002_MACROS,
    M002_TABLES,
    M002_VIEWS,
)

Migration = Callable[[duckdb.DuckDBPyConnection], None]

_MIGRATIONS_DDL = """
    CREATE TABLE IF NOT EXISTS _migrations (
        version    INTEGER PRIMARY KEY,
        name       VARCHAR NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL
    )
"""


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    """Tables, the public views and the dataset_rows macro."""
    for statement in (*M001_TABLES, *M001_VIEWS, *M001_MACROS):
        con.execute(statement)


def m002_lineage_diff_retention(con: duckdb.DuckDBPyConnection) -> None:
    """Version metadata and lineage, members_hash, diff, time travel, gc tombstones (issue 3).

    Rows and version ids are kept as they are. Runs get their config hash back
    from their stored config and their rubric hash from their candidates;
    versions sealed before get operation 'run' (or 'seal' without a run) and a
    members_hash computed from their members now, if those still match the
    content hash (a version that no longer verifies is left without one, so it
    keeps failing verify).
    """
    for statement in (*M002_COLUMNS, *M002_BACKFILL, *M002_TABLES):
        con.execute(statement)
    rows = con.execute("SELECT version_id, content_hash, row_count FROM version_rows").fetchall()
    for version_id, content, count in rows:
        digest = member_digest(con, version_id)
        if digest.content_hash == content and digest.count == count:
            con.execute(
                "UPDATE version_rows SET members_hash = ? WHERE version_id = ?",
                [digest.members_hash, version_id],
            )
    for statement in (*M002_VIEWS, *M002_MACROS):
        con.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    m001_initial, m002_lineage_diff_retention, m003_tool_graph_volatility_difficulty,
    m004_flag_empty_results, m005_render_chat, m006_call_cache_run_owner, m007_run_accounting,
    m008_cached_tool_calls, m009_output_views, m010_reviews, m011_report_rows,
)


def migration_number(migration: Migration) -> int:
    """``m001_initial`` -> 1."""
    match = re.fullmatch(r"m(\d{3})_[a-z0-9_]+", migration.__name__)
    if match is None:
        raise ValueError(f"migration {migration.__name__!r} is not named mNNN_description")
    return int(match.group(1))


def latest_version() -> int:
    """The schema version this code writes."""
    return migration_number(MIGRATIONS[-1])


def applied(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Recorded migrations {version: name}; empty for a blank file."""
    exists = first_row(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_migrations' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ))
    if not exists or not exists[0]:
        return {}
    rows = con.execute("SELECT version, name FROM _migrations ORDER BY version").fetchall()
    return {int(v): str(n) for v, n in rows}


def check_known(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, str]:
    """Raise SchemaVersionError if the file records migrations this code lacks."""
    done = applied(con)
    known = {migration_number(m): m.__name__ for m in MIGRATIONS}
    newest = latest_version()
    unknown = {v: n for v, n in done.items() if known.get(v) != n}
    if done and max(done) > newest:
        raise SchemaVersionError(
            f"database {path} has schema version {max(done)}, newer than the {newest} this "
            "backchain knows; upgrade backchain (pip install -U backchain) or point --db / "
            "BACKCHAIN_DB at another file. The file was not changed."
        )
    if unknown:
        listed = ", ".join(f"{v}:{n}" for v, n in sorted(unknown.items()))
        raise SchemaVersionError(
            f"database {path} records migrations this backchain does not know ({listed}); "
            "it was written by another backchain build. The file was not changed."
        )
    return done


def pending(con: duckdb.DuckDBPyConnection, path: Path) -> list[Migration]:
    """Migrations not yet applied, oldest first (after ``check_known``)."""
    done = check_known(con, path)
    return [m for m in MIGRATIONS if migration_number(m) not in done]


def apply_pending(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Apply pending migrations in one transaction; return their names."""
    todo = pending(con, path)
    if not todo:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_MIGRATIONS_DDL)
        for migration in todo:
            migration(con)
            con.execute(
                "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [migration_number(migration), migration.__name__, _dt.datetime.now(_dt.UTC)],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return [m.__name__ for m in todo]
