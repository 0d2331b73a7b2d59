"""A version's hashes, computed over its members as one sorted stream.

Two hashes identify a version's content, both over its members in example-id
order (DuckDB's binary string order, the order ``ORDER BY example_id`` gives):

* ``content_hash`` (since m001): SHA-256 of the member example ids joined by
  newlines; an empty version hashes the empty string. ``MEMBER_HASH_SQL`` in
  ``_sql.py`` is the same definition in SQL.
* ``members_hash`` (since m002): also covers each member's split and score, so
  that a score changed in place (``UPDATE member_rows SET score = ...``) is
  caught by ``verify``, not only an added or removed member. It is SHA-256 of
  the text ``"{content_hash}\\n{splits}\\n{scores}\\n{nulls}"`` where, in the same
  order, ``splits`` is the SHA-256 of the splits joined by newlines, ``scores``
  of the scores as IEEE-754 float64 little-endian bytes (a NULL score as 0.0)
  and ``nulls`` of one byte per member, 1 where the score is NULL, else 0.
  Bytes, not decimal text, so no float formatting rule can ever change it.

The stream is read in Arrow batches (``BATCH`` rows) and every step is a
vectorised Arrow or hashlib call over a whole batch: sealing a million members
never builds a Python object per member. The same pass reports duplicate ids
(adjacent in sorted order) and, when asked, ids with no stored example.
"""

from __future__ import annotations

import array
import hashlib
import sys
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

BATCH = 131_072
_SHOW = 5  # ids listed in an error message


@dataclass
class MemberDigest:
    """What one pass over a version's sorted members found."""

    content_hash: str
    members_hash: str
    count: int
    duplicates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


class _JoinedHash:
    """SHA-256 of strings joined by newlines, fed one Arrow string array at a time."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._first = True

    def update(self, strings: pa.Array) -> None:
        if len(strings) == 0:
            return
        # "\n" + s for every s, as one Arrow array; its data buffer is then the
        # joined text with a leading newline, fed to hashlib without copying.
        joined = pc.binary_join_element_wise(pa.scalar("\n"), strings, "")
        view = _data_view(joined)
        if self._first:
            view = view[1:]
            self._first = False
        self._h.update(view)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _data_view(array: pa.Array) -> memoryview:
    """The bytes of a (large_)string array's values, in order, without a copy."""
    _, offsets_buf, data_buf = array.buffers()
    offsets = memoryview(offsets_buf).cast("q" if pa.types.is_large_string(array.type) else "i")
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    if data_buf is None or start == end:
        return memoryview(b"")
    return memoryview(data_buf)[start:end]


def _fixed_view(array: pa.Array, width: int) -> memoryview:
    """The bytes of a fixed-width array's values (nulls must be filled first)."""
    data = array.buffers()[1]
    return memoryview(data)[array.offset * width: (array.offset + len(array)) * width]


def _little_endian(view: memoryview) -> memoryview | bytes:
    """float64 bytes as little-endian: Arrow buffers are in the machine's order."""
    if sys.byteorder == "little":
        return view
    values = array.array("d", view.cast("d"))  # pragma: no cover - no big-endian machines here
    values.byteswap()  # pragma: no cover
    return values.tobytes()  # pragma: no cover


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _as_string(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = _combined(column)
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


_SORTED = """
    SELECT m.example_id, m.split, m.score{known}
    FROM member_rows AS m{join}
    WHERE m.version_id = $1
    ORDER BY m.example_id
"""


def member_digest(
    con: duckdb.DuckDBPyConnection, version_id: str, *, check_known: bool = False
) -> MemberDigest:
    """Hash a version's members in one sorted pass, on ``con``'s current transaction."""
    sql = _SORTED.format(
        known=", e.example_id IS NOT NULL AS known" if check_known else "",
        join=" LEFT JOIN example_rows AS e ON e.example_id = m.example_id" if check_known else "",
    )
    ids, splits = _JoinedHash(), _JoinedHash()
    scores, nulls = hashlib.sha256(), hashlib.sha256()
    count = 0
    previous: str | None = None
    duplicates: list[str] = []
    unknown: list[str] = []
    reader = con.sql(sql, params=[version_id]).to_arrow_reader(BATCH)
    for batch in reader:
        n = batch.num_rows
        if n == 0:
            continue
        id_col = _as_string(batch.column(0))
        split_col = _as_string(batch.column(1))
        score_col = batch.column(2)
        ids.update(id_col)
        splits.update(split_col)
        score_col = _combined(score_col).cast(pa.float64())
        scores.update(_little_endian(_fixed_view(pc.fill_null(score_col, 0.0), 8)))
        nulls.update(_fixed_view(pc.is_null(score_col).cast(pa.uint8()), 1))
        # Duplicates sit next to each other in sorted order, also across batches.
        if len(duplicates) < _SHOW:
            if previous is not None and id_col[0].as_py() == previous:
                duplicates.append(previous)
            if n > 1:
                same = pc.equal(id_col.slice(1), id_col.slice(0, n - 1))
                if pc.any(same).as_py():
                    hits = pc.filter(id_col.slice(1), same).slice(0, _SHOW).to_pylist()
                    duplicates.extend(h for h in hits if h not in duplicates)
        previous = id_col[n - 1].as_py()
        if check_known and len(unknown) < _SHOW:
            known = batch.column(3)
            if not pc.all(known).as_py():
                unknown.extend(pc.filter(id_col, pc.invert(known)).slice(0, _SHOW).to_pylist())
        count += n
    content = ids.hexdigest()
    members = hashlib.sha256(
        f"{content}\n{splits.hexdigest()}\n{scores.hexdigest()}\n{nulls.hexdigest()}".encode()
    ).hexdigest()
    return MemberDigest(content, members, count, duplicates[:_SHOW], unknown[:_SHOW])
