"""Observation storage for output views (issue 17): the raw output, the view's parser, inferred errors.

Migration m009 appends three columns to ``obs_rows`` and to the public ``observations`` view:

    raw             JSON     what the tool sent when ``output`` is a view derived from it
                             ({"text": [...], "structured": ..., "content": [...]}), else NULL
    parser          VARCHAR  the parser id that made the view ('json/1>csv/1', 'text-spans/1'),
                             NULL for plain JSON (every row stored before m009 reads so)
    error_inferred  BOOLEAN  the tool did not flag an error but its output reads as one
                             (false for rows stored before m009)

``output`` keeps its meaning for queries and pointers: the value JSON pointers resolve into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

M009_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE obs_rows ADD COLUMN raw JSON",
    "ALTER TABLE obs_rows ADD COLUMN parser VARCHAR",
    "ALTER TABLE obs_rows ADD COLUMN error_inferred BOOLEAN DEFAULT false",
    """
    CREATE OR REPLACE VIEW observations AS
    SELECT "observation_id", "toolset", "tool", "arguments", "output", "is_error", "error",
           "latency_ms", "started_at", "call_key", "toolset_version", "run_id",
           NOT is_error AND (
               output IS NULL OR output::VARCHAR IN ('[]', '{}', '""', 'null')
               -- an object whose lists are all empty: {"route": "JFK-EEN", "flights": []}
               OR (json_type(output) = 'OBJECT'
                   AND len(list_filter(json_keys(output), lambda k: json_type(output -> k) = 'ARRAY')) > 0
                   AND len(list_filter(json_keys(output),
                           lambda k: json_type(output -> k) = 'ARRAY' AND json_array_length(output -> k) > 0)) = 0)
           ) AS is_empty,
           "raw", "parser", coalesce("error_inferred", false) AS error_inferred
    FROM obs_rows
    """,
)

#: The columns m009 appends to the public ``observations`` view.
OBSERVATION_VIEW_COLUMNS: tuple[str, ...] = ("raw", "parser", "error_inferred")


def m009_output_views(con: duckdb.DuckDBPyConnection) -> None:
    """Observations keep their raw output and the parser of their view (issue 17).

    Rows stored before read as plain JSON: raw and parser NULL, error_inferred false.
    """
    for statement in M009_STATEMENTS:
        con.execute(statement)
