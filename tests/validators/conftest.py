"""Fixtures for the judge, reward and calibration tests: a small real version, a reply cache."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schemas import Example


class DictCache:
    """A reply cache in memory (the `ReplyCache` protocol the store implements), counting writes."""

    def __init__(self) -> None:
        self.replies: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, dict[str, Any]] = {}

    def get_reply(self, key: str) -> dict[str, Any] | None:
        return self.replies.get(key)

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        self.replies.setdefault(key, reply)
        self.requests.setdefault(key, request)


@dataclass
class SmallVersion:
    db: Path
    dataset: str
    examples: list[Example]  # the sealed version's rows
    scores: dict[str, float | None]  # example id -> the score the filter stored


@pytest.fixture(scope="session")
def small_version(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallVersion]:
    """A real run of the embedded default (no model, single calls, no dedup), sealed in a DuckDB file."""
    from flows import Reporter, RunConfig, run_pipeline
    from store import Store

    db = tmp_path_factory.mktemp("small-version") / "bc.duckdb"
    config = RunConfig(dataset="small", examples=6, no_model=True, max_calls=40, dedup_threshold=0,
                       kinds={"single": 1.0})
    asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    with Store(db, read_only=True) as store:
        info = store.resolve("small", "latest")
        rows = list(store.iter_examples(info.version_id))
    yield SmallVersion(db, "small", [e for e, _, _ in rows], {e.example_id: s for e, s, _ in rows})
