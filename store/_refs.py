"""Names and references: where the database lives, and what DATASET@REF means.

A dataset reference is ``DATASET``, ``DATASET@VERSION`` (a number), ``DATASET@TAG``
or ``DATASET@latest``; a bare dataset name means its latest version. Dataset and
tag names are ``[A-Za-z0-9][A-Za-z0-9_.-]*``: safe in a file name, in a shell
argument and in a SQL string. A tag cannot look like a version number and cannot
be ``latest``, so a reference always has exactly one reading.

The default database file is ``data/backchain.duckdb`` relative to the working
directory; the environment variable ``BACKCHAIN_DB`` overrides it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from schemas import ConfigError

DEFAULT_DB = Path("data/backchain.duckdb")
DB_ENV_VAR = "BACKCHAIN_DB"
LATEST = "latest"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NUMBER = re.compile(r"[0-9]+")
_REF_FORM = "DATASET[@VERSION|@TAG|@latest]"


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
    return name


def is_version_number(ref: str) -> bool:
    """True when ``ref`` reads as a version number (digits only)."""
    return bool(_NUMBER.fullmatch(ref))


def normalise_ref(ref: str | int) -> str:
    """A ref as text: 3 -> '3'; '  prod ' -> 'prod'; bad text -> ConfigError."""
    if isinstance(ref, bool):
        raise ConfigError(f"bad version reference {ref!r}: expected a number, a tag or 'latest'")
    if isinstance(ref, int):
        if ref < 1:
            raise ConfigError(f"bad version number {ref}: versions are numbered from 1")
        return str(ref)
    text = str(ref).strip()
    if not _NAME.fullmatch(text):
        raise ConfigError(f"bad version reference {ref!r}: expected a number, a tag or 'latest'")
    return text


def parse_ref(text: str) -> tuple[str, str]:
    """Split ``DATASET[@REF]`` into (dataset, ref); a bare name means ``latest``.

    >>> parse_ref("flights@3")
    ('flights', '3')
    >>> parse_ref("flights")
    ('flights', 'latest')
    """
    raw = text.strip() if isinstance(text, str) else ""
    dataset, sep, ref = raw.partition("@")
    if not _NAME.fullmatch(dataset) or (sep and not _NAME.fullmatch(ref)):
        raise ConfigError(
            f"bad dataset reference {text!r}: expected {_REF_FORM}, e.g. flights@3 or flights@prod"
        )
    return dataset, (ref if sep else LATEST)
