"""Names and references: where the database lives, and what DATASET@REF means.

A dataset reference is ``DATASET``, ``DATASET@VERSION`` (a number), ``DATASET@TAG``,
``DATASET@latest`` or ``DATASET@TIMESTAMP``; a bare dataset name means its latest
version. A timestamp is ISO 8601 (``2026-11-28``, ``2026-11-28T10:00:00Z``,
``2026-11-28 10:00:00+01:00``; no zone means UTC, a date alone its midnight) and
names the newest version sealed at or before it. Dataset and tag names are
``[A-Za-z0-9][A-Za-z0-9_.-]*``: safe in a file name, in a shell argument and in
a SQL string. A tag cannot look like a version number, a date or ``latest``, so a
reference always has exactly one reading (number, 'latest', tag, timestamp: the
order in which ``resolve_version`` tries them, so a date-like tag made before
this rule still wins over the date).

The default database file is ``data/backchain.duckdb`` relative to the working
directory; the environment variable ``BACKCHAIN_DB`` overrides it.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

from schemas import ConfigError

DEFAULT_DB = Path("data/backchain.duckdb")
DB_ENV_VAR = "BACKCHAIN_DB"
LATEST = "latest"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NUMBER = re.compile(r"[0-9]+")
_REF_FORM = "DATASET[@VERSION|@TAG|@latest|@TIMESTAMP]"
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")


def default_db_path() -> Path:
    """The database file: ``$BACKCHAIN_DB`` if set and not empty, else ``data/backchain.duckdb``."""
    value = os.environ.get(DB_ENV_VAR, "").strip()
    return Path(value).expanduser() if value else DEFAULT_DB


def check_dataset_name(name: str) -> str:
    """Return ``name`` if it is a valid dataset name, else raise ConfigError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"bad dataset name {name!r}: use letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. flights or tools.v2)"
        )
    return name


def check_tag_name(name: str) -> str:
    """Return ``name`` if it is a valid tag name, else raise ConfigError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"bad tag name {name!r}: use letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. prod or v1.2)"
        )
    if name == LATEST:
        raise ConfigError("'latest' is reserved for the newest version; choose another tag name")
    if _NUMBER.fullmatch(name):
        raise ConfigError(
            f"tag {name!r} looks like a version number; choose a name with a letter in it (e.g. v{name})"
        )
    if _DATE_LIKE.match(name):
        raise ConfigError(
            f"tag {name!r} starts like a date, which a reference reads as a time; "
            f"choose a name that starts with a letter (e.g. release-{name})"
        )
    return name


def is_version_number(ref: str) -> bool:
    """True when ``ref`` reads as a version number (digits only)."""
    return bool(_NUMBER.fullmatch(ref))


def parse_timestamp(ref: str) -> _dt.datetime | None:
    """An ISO 8601 reference as an aware UTC datetime; None if it is not one.

    >>> parse_timestamp("2026-11-28T10:00:00+01:00").isoformat()
    '2026-11-28T09:00:00+00:00'
    """
    text = ref.strip()
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        value = _dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"bad timestamp {ref!r}: {exc} (use e.g. 2026-11-28T10:00:00Z)") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC)


def normalise_ref(ref: str | int | _dt.datetime) -> str:
    """A ref as text: 3 -> '3'; '  prod ' -> 'prod'; a datetime -> ISO; bad text -> ConfigError."""
    if isinstance(ref, bool):
        raise ConfigError(f"bad version reference {ref!r}: {_REF_KINDS}")
    if isinstance(ref, _dt.datetime):
        value = ref if ref.tzinfo is not None else ref.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC).isoformat()
    if isinstance(ref, int):
        if ref < 1:
            raise ConfigError(f"bad version number {ref}: versions are numbered from 1")
        return str(ref)
    text = str(ref).strip()
    if not (_NAME.fullmatch(text) or _TIMESTAMP.fullmatch(text)):
        raise ConfigError(f"bad version reference {ref!r}: {_REF_KINDS}")
    return text


def is_timestamp(ref: str) -> bool:
    """True when ``ref`` reads as a timestamp (and not as a number or a name first)."""
    return bool(_TIMESTAMP.fullmatch(ref.strip()))


_REF_KINDS = "expected a number, a tag, 'latest' or an ISO 8601 time (2026-11-28T10:00:00Z)"


def parse_ref(text: str) -> tuple[str, str]:
    """Split ``DATASET[@REF]`` into (dataset, ref); a bare name means ``latest``.

    >>> parse_ref("flights@3")
    ('flights', '3')
    >>> parse_ref("flights")
    ('flights', 'latest')
    >>> parse_ref("flights@2026-11-28T10:00:00Z")
    ('flights', '2026-11-28T10:00:00Z')
    """
    raw = text.strip() if isinstance(text, str) else ""
    dataset, sep, ref = raw.partition("@")
    good_ref = _NAME.fullmatch(ref) or _TIMESTAMP.fullmatch(ref)
    if not _NAME.fullmatch(dataset) or (sep and not good_ref):
        raise ConfigError(
            f"bad dataset reference {text!r}: expected {_REF_FORM}, e.g. flights@3, flights@prod "
            "or flights@2026-11-28T10:00:00Z"
        )
    return dataset, (ref if sep else LATEST)
