"""Naming and finding versions: tags, ``resolve`` (numbers, tags, 'latest', timestamps), ``describe``.

Kept apart from `_store.py` (runs, rows, sealing) as a mixin of `Store`: the
same connection and write path. Which version a reference names is decided by
the ``resolve_version`` SQL macro (``_sql``), so ``backchain sql`` and the API
agree; this module adds the error messages that say what a dataset does have.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from schemas import StoreError, VersionInfo, VersionNotFound

from . import _arrow
from ._connection import first_row
from ._refs import (
    LATEST,
    check_dataset_name,
    check_tag_name,
    is_timestamp,
    is_version_number,
    normalise_ref,
    parse_timestamp,
)
from ._sql import CONTRACT_COLUMNS, column_list

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import duckdb

# The columns VersionInfo carries (the versions view has more; see describe()).
VERSION_COLUMNS = tuple(VersionInfo.model_fields)


class LookupMixin:
    """Store methods that name (tag, untag) and find (versions, resolve, describe) versions."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def _write(self, action: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def tag(self, dataset: str, ref: str, tag: str, *, move: bool = False) -> VersionInfo:
        """Name one version ``tag``; moving an existing tag needs ``move=True``."""
        check_tag_name(tag)
        target = self.resolve(dataset, ref)
        with self._write("tag") as con:
            row = first_row(con.execute(
                "SELECT t.version_id, v.seq FROM tag_rows AS t JOIN version_rows AS v "
                "ON v.version_id = t.version_id WHERE t.dataset = ? AND t.tag = ?",
                [dataset, tag],
            ))
            if row is None:
                con.execute(
                    "INSERT INTO tag_rows (dataset, tag, version_id, created_at) VALUES (?, ?, ?, ?)",
                    [dataset, tag, target.version_id, _arrow.now_utc()],
                )
            elif row[0] != target.version_id:
                if not move:
                    raise StoreError(
                        f"tag {tag!r} already names {dataset}@{row[1]}; untag it first "
                        f"(backchain untag {dataset} {tag}) or pass --force to move it"
                    )
                con.execute(
                    "UPDATE tag_rows SET version_id = ?, created_at = ? WHERE dataset = ? AND tag = ?",
                    [target.version_id, _arrow.now_utc(), dataset, tag],
                )
        return self._version_by_id(target.version_id)

    def untag(self, dataset: str, tag: str) -> VersionInfo:
        """Remove a tag; the version itself stays. Returns the version it named."""
        check_dataset_name(dataset)
        with self._write("untag") as con:
            row = first_row(con.execute(
                "DELETE FROM tag_rows WHERE dataset = ? AND tag = ? RETURNING version_id",
                [dataset, tag],
            ))
            if row is None:
                raise VersionNotFound(
                    f"dataset {dataset!r} has no tag {tag!r} (it {self._known(dataset)})"
                )
        return self._version_by_id(str(row[0]))

    # -- reads ----------------------------------------------------------------------

    def _version_infos(self, where: str, params: Sequence[Any]) -> list[VersionInfo]:
        cur = self.con.execute(
            f"SELECT {column_list(VERSION_COLUMNS)} FROM versions {where} ORDER BY dataset, version",
            list(params),
        )
        return [VersionInfo(**dict(zip(VERSION_COLUMNS, row, strict=True))) for row in cur.fetchall()]

    def _version_by_id(self, version_id: str) -> VersionInfo:
        found = self._version_infos("WHERE version_id = ?", [version_id])
        if not found:
            raise VersionNotFound(f"no version with id {version_id!r}; see `backchain versions`")
        return found[0]

    def _known(self, dataset: str) -> str:
        """What a dataset has, for error messages: 'has versions 1..3 and tags: prod'."""
        seqs = first_row(self.con.execute(
            "SELECT min(seq), max(seq) FROM version_rows WHERE dataset = ?", [dataset]
        ))
        if seqs is None or seqs[0] is None:
            others = [r[0] for r in self.con.execute(
                "SELECT DISTINCT dataset FROM version_rows ORDER BY 1 LIMIT 10").fetchall()]
            return "has no versions yet" + (
                f" (datasets with versions: {', '.join(others)})" if others else ""
            )
        tags = [r[0] for r in self.con.execute(
            "SELECT tag FROM tag_rows WHERE dataset = ? ORDER BY tag", [dataset]).fetchall()]
        span = f"{seqs[0]}" if seqs[0] == seqs[1] else f"{seqs[0]}..{seqs[1]}"
        return f"has versions {span} and " + (f"tags: {', '.join(tags)}" if tags else "no tags")

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        """Every sealed version, or one dataset's, oldest first."""
        if dataset is None:
            return self._version_infos("", [])
        check_dataset_name(dataset)
        return self._version_infos("WHERE dataset = ?", [dataset])

    def resolve(self, dataset: str, ref: str | int | _dt.datetime = LATEST) -> VersionInfo:
        """The version a number, a tag, 'latest' or a timestamp names.

        A timestamp (ISO 8601 text or a datetime; no zone means UTC) names the
        newest version sealed at or before it. The SQL macro
        ``resolve_version(dataset, ref)`` decides, so ``backchain sql`` and the
        API always agree.
        """
        check_dataset_name(dataset)
        text = normalise_ref(ref)
        # A tag made before date-like tag names were refused still wins, as in SQL.
        timed = is_timestamp(text) and not is_version_number(text) and not self._is_tag(dataset, text)
        moment = parse_timestamp(text) if timed else None
        sql_ref = moment.isoformat() if moment is not None else text
        row = first_row(self.con.execute("SELECT resolve_version(?, ?)", [dataset, sql_ref]))
        found = self._version_infos("WHERE version_id = ?", [row[0]]) if row and row[0] else []
        if found:
            return found[0]
        raise VersionNotFound(self._not_found(dataset, text, moment))

    def _is_tag(self, dataset: str, name: str) -> bool:
        return first_row(self.con.execute(
            "SELECT 1 FROM tag_rows WHERE dataset = ? AND tag = ?", [dataset, name]
        )) is not None

    def _not_found(self, dataset: str, text: str, moment: _dt.datetime | None) -> str:
        """Why DATASET@REF names no version, with what the dataset does have."""
        con = self.con
        if moment is not None:
            hit = first_row(con.execute(
                "SELECT seq, expired_at FROM expired_version_rows WHERE dataset = ? AND created_at <= ? "
                "AND created_at >= coalesce((SELECT max(created_at) FROM version_rows WHERE dataset = ? "
                "AND created_at <= ?), '-infinity'::TIMESTAMPTZ) ORDER BY created_at DESC, seq DESC LIMIT 1",
                [dataset, moment, dataset, moment],
            ))
            if hit is not None:
                return (
                    f"{dataset}@{text}: the version that was latest then ({dataset}@{hit[0]}) was "
                    f"expired by backchain gc at {hit[1].isoformat(timespec='seconds')}; tag versions "
                    "you need to keep (gc never expires a tagged version)"
                )
            first = first_row(con.execute(
                "SELECT min(created_at) FROM version_rows WHERE dataset = ?", [dataset]
            ))
            if first is not None and first[0] is not None:
                return (
                    f"{dataset}@{text} names no version: the first version of {dataset!r} was sealed "
                    f"at {first[0].isoformat(timespec='seconds')}, after {moment.isoformat()}"
                )
        elif is_version_number(text):
            hit = first_row(con.execute(
                "SELECT expired_at FROM expired_version_rows WHERE dataset = ? AND seq = ?",
                [dataset, int(text)],
            ))
            if hit is not None:
                return (
                    f"{dataset}@{int(text)} was expired by backchain gc at "
                    f"{hit[0].isoformat(timespec='seconds')}; dataset {dataset!r} {self._known(dataset)}"
                )
        return f"{dataset}@{text} names no version: dataset {dataset!r} {self._known(dataset)}"

    def describe(self, dataset: str, ref: str | int | _dt.datetime = LATEST) -> dict[str, Any]:
        """Everything the versions view records about one version, as a dict."""
        info = self.resolve(dataset, ref)
        columns = CONTRACT_COLUMNS["versions"]
        row = first_row(self.con.execute(
            f"SELECT {column_list(columns)} FROM versions WHERE version_id = ?", [info.version_id]
        ))
        if row is None:  # pragma: no cover - resolve just found it
            raise VersionNotFound(f"no version with id {info.version_id!r}")
        out = dict(zip(columns, row, strict=True))
        out["models"] = json.loads(out["models"]) if out["models"] else None
        return out
