"""The project's DuckDB store: tables, public views, versions, tags and caches.

``Store`` is the only thing in backchain that opens the database. Public names:

* ``Store``: open a file, write records, seal and tag versions, read them back,
  run read-only SQL, cache model replies and tool calls.
* ``CallWriter``: what ``Store.call_writer()`` returns: records tool calls
  from a thread of its own, a batch per commit.
* ``ReplySnapshot``: a model-reply cache read from a snapshot file
  (``Store.snapshot_replies``), for batches on workers that cannot open the store.
* ``parse_ref``: ``"flights@3"`` -> ``("flights", "3")``.
* ``DEFAULT_DB`` / ``default_db_path()``: where the file lives (``BACKCHAIN_DB``).
* ``quote_identifier``: the one way identifiers are put into SQL.
* ``CONTRACT_COLUMNS``: the public views and table macros and their columns,
  for docs and tests; ``TABLE_MACROS``: which of them are macros, with their call.
* ``Grade`` / ``NATURALNESS``: one person's grade of a row (`backchain review`, the reviews view).
* ``GcReport``, ``MergeResult``, ``VersionDiff``: what ``Store.gc``, ``merge``
  and ``diff`` return; ``Ref``: a (dataset, ref) pair.
"""

from ._calls import CallWriter
from ._connection import LOCK_TIMEOUT_ENV
from ._gc import GcReport
from ._migrations import MIGRATIONS, latest_version
from ._refs import DB_ENV_VAR, DEFAULT_DB, default_db_path, parse_ref
from ._reviews import NATURALNESS, Grade
from ._snapshot import ReplySnapshot
from ._sql import CONTRACT_COLUMNS, TABLE_MACROS, quote_identifier
from ._store import Store
from ._versions import MergeResult, Ref, VersionDiff

__all__ = [
    "CONTRACT_COLUMNS",
    "CallWriter",
    "DB_ENV_VAR",
    "DEFAULT_DB",
    "GcReport",
    "Grade",
    "LOCK_TIMEOUT_ENV",
    "MIGRATIONS",
    "MergeResult",
    "NATURALNESS",
    "Ref",
    "ReplySnapshot",
    "Store",
    "TABLE_MACROS",
    "VersionDiff",
    "default_db_path",
    "latest_version",
    "parse_ref",
    "quote_identifier",
]
