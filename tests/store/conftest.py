"""Fixtures for the store tests: a database path in tmp, and a store open on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "backchain.duckdb"


@pytest.fixture
def st(db: Path) -> Iterator[Store]:
    with Store(db) as s:
        yield s
