"""The read-only guard for ``Store.query`` (``backchain sql``).

A user's SQL is parsed by DuckDB's own parser, never by a regex over the text:

1. ``duckdb.extract_statements`` splits the text and gives each statement's
   type. Only SELECT (which includes DESCRIBE, SHOW, SUMMARIZE and ``FROM t``),
   EXPLAIN of a read, and a short list of reading PRAGMAs pass. INSERT, UPDATE,
   DELETE, CREATE, DROP, ALTER, ATTACH, COPY, SET, CALL, LOAD, transactions and
   the rest are refused with ``ReadOnlyQueryError``.
2. A SELECT can still hide a write in a common table expression: DuckDB runs
   ``WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x`` and ``WITH x AS
   (COPY t TO 'f.csv') SELECT ...`` (both measured on DuckDB 2.0.1). So the
   statement's syntax tree (``json_serialize_sql``) is walked, and any query
   node other than a select, set operation or CTE is refused.
3. EXPLAIN ANALYZE executes its statement, so the explained statement is
   checked by the same rules.

The store adds two more walls behind this one: on a writable store a query
runs inside a transaction that is rolled back, and a store opened read-only
holds a DuckDB connection that itself refuses writes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import duckdb

from schemas import ReadOnlyQueryError, StoreError

from ._connection import first_line, first_row

# Query-node types that only read. Anything else ending in _NODE is a write
# (INSERT_QUERY_NODE, UPDATE_QUERY_NODE, DELETE_QUERY_NODE, COPY_QUERY_NODE, ...).
_READ_NODES = frozenset(
    {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE", "BOUND_SUBQUERY_NODE"}
)

# PRAGMAs that only report. Anything else (settings, checkpoints) is refused.
_READ_PRAGMAS = frozenset(
    {
        "collations", "database_list", "database_size", "functions", "metadata_info",
        "platform", "show", "show_databases", "show_tables", "show_tables_expanded",
        "storage_info", "table_info", "user_agent", "version",
    }
)

_EXPLAIN = re.compile(
    r"^\s*EXPLAIN\b\s*(?:\((?P<opts>[^)]*)\))?\s*(?P<analyze>ANALY[SZ]E\b)?\s*(?P<inner>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_PRAGMA = re.compile(r"^\s*PRAGMA\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<rest>.*)$", re.DOTALL)


def _refuse(what: str) -> ReadOnlyQueryError:
    return ReadOnlyQueryError(
        f"backchain sql is read-only: refused {what} statement "
        "(use SELECT, WITH ... SELECT, DESCRIBE, SHOW, EXPLAIN or PRAGMA table_info)"
    )


def split_statements(sql: str) -> list[Any]:
    """Parse ``sql`` into DuckDB statements; a parse error becomes StoreError."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"backchain sql could not parse the query: {first_line(exc)}") from exc
    if not statements:
        raise StoreError("backchain sql got no statement to run")
    return list(statements)


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """Return the statements of ``sql`` as text if every one only reads.

    Raises ReadOnlyQueryError naming the first statement kind that would write.
    """
    statements = split_statements(sql)
    for statement in statements:
        _check_statement(con, statement.type, statement.query)
    return [s.query for s in statements]


def _check_statement(con: duckdb.DuckDBPyConnection, kind: Any, text: str) -> None:
    name = kind.name
    if name == "SELECT":
        _check_select_tree(con, text)
    elif name == "EXPLAIN":
        _check_explain(con, text)
    elif name == "PRAGMA":
        _check_pragma(text)
    else:
        raise _refuse({"VARIABLE_SET": "SET", "TRANSACTION": "transaction"}.get(name, name))


def _check_explain(con: duckdb.DuckDBPyConnection, text: str) -> None:
    match = _EXPLAIN.match(text)
    inner = match.group("inner").strip() if match else ""
    if not inner:
        raise _refuse("EXPLAIN")
    try:
        statements = duckdb.extract_statements(inner)
    except duckdb.Error as exc:
        raise _refuse("EXPLAIN") from exc
    if len(statements) != 1:
        raise _refuse("EXPLAIN")
    _check_statement(con, statements[0].type, statements[0].query)


def _check_pragma(text: str) -> None:
    match = _PRAGMA.match(text)
    rest = match.group("rest").strip().rstrip(";").strip() if match else "="
    if match is None or match.group("name").lower() not in _READ_PRAGMAS or rest.startswith("="):
        raise _refuse("PRAGMA")


def _check_select_tree(con: duckdb.DuckDBPyConnection, text: str) -> None:
    row = first_row(con.execute("SELECT json_serialize_sql(?)", [text]))
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        # extract_statements parsed it, the serializer could not: the tree
        # cannot be inspected, so the statement cannot be shown to only read.
        reason = tree.get("error_message", "unknown")
        raise ReadOnlyQueryError(
            f"backchain sql is read-only: could not confirm that this SELECT only reads ({reason})"
        )
    bad = _write_node(tree.get("statements", []))
    if bad is not None:
        raise _refuse(bad)


def _write_node(node: Any) -> str | None:
    """The first non-read query node in a serialized syntax tree, as 'INSERT' etc."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            kind = item.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
                return kind.removesuffix("_NODE").removesuffix("_QUERY")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


# -- derive --where: one read-only boolean expression -----------------------------------

_PREDICATE_TABLE = "__backchain_rows"


def check_predicate(con: duckdb.DuckDBPyConnection, predicate: str) -> str:
    """Return ``predicate`` (stripped) if it is one read-only SQL expression.

    The predicate is parsed as the WHERE clause of ``SELECT 1 FROM t WHERE (...)``
    by DuckDB's own parser, on lines of its own so that a trailing ``--`` comment
    cannot swallow the closing parenthesis. The parse must give exactly that
    shape back: one SELECT of the constant 1 from t, with no other clause. Text
    that closes the parenthesis and goes on (``x) UNION SELECT ...``, ``; DROP``,
    ``) LIMIT 1``) changes the shape and is refused, and so is any write node
    inside (subqueries that read, such as ``example_id IN (SELECT ...)``, pass).
    """
    text = predicate.strip() if isinstance(predicate, str) else ""
    if not text:
        raise StoreError("--where needs a predicate over dataset_rows' columns, e.g. \"score > 0.5\"")
    sql = f"SELECT 1 FROM {_PREDICATE_TABLE} WHERE (\n{text}\n)"
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"--where could not parse the predicate {text!r}: {first_line(exc)}") from exc
    if len(statements) != 1 or statements[0].type.name != "SELECT":
        raise ReadOnlyQueryError(
            f"--where takes one boolean expression over dataset_rows' columns, not statements: {text!r}"
        )
    row = first_row(con.execute("SELECT json_serialize_sql(?)", [sql]))
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        reason = tree.get("error_message", "unknown")
        raise StoreError(f"--where could not parse the predicate {text!r}: {reason}")
    bad = _write_node(tree.get("statements", []))
    if bad is not None:
        raise ReadOnlyQueryError(f"--where must only read: refused {bad} in {text!r}")
    node = tree["statements"][0].get("node", {})
    source = node.get("from_table") or {}
    shape_ok = (
        node.get("type") == "SELECT_NODE"
        and source.get("type") == "BASE_TABLE"
        and source.get("table_name") == _PREDICATE_TABLE
        and len(node.get("select_list", [])) == 1
        and node["select_list"][0].get("class") == "CONSTANT"
        and not node.get("modifiers")
        and not (node.get("cte_map") or {}).get("map")
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and node.get("sample") is None
        and node.get("where_clause") is not None
    )
    if not shape_ok:
        raise ReadOnlyQueryError(
            f"--where takes one boolean expression over dataset_rows' columns: {text!r} "
            "reaches outside its parentheses"
        )
    return text
