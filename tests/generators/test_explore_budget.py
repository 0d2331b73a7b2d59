"""Exploration uses its budget: a real HTTP API on 127.0.0.1 whose answers fail 30% of the time.

Before issue 17, exploration of this three-endpoint spec (a paged list, one item by id, a search)
made 3 calls in all and sealed 0 rows. Now it keeps going while new argument combinations exist
(every id a list shows, query parameters and enums, the next page, names from other outputs),
retries what got no answer, and stops early only when nothing new is left, saying so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from flows import Reporter, RunConfig, run_pipeline
from store import Store
from tests.generators._items_api import ITEMS, ItemsAPI


def test_exploration_keeps_going_through_failures_until_nothing_new_is_left(tmp_path: Path) -> None:
    with ItemsAPI() as api:
        config = RunConfig(openapi=[{"spec": f"{api.url}/openapi.json"}], examples=6, no_model=True,
                           max_calls=120, dedup_threshold=0)
        summary = asyncio.run(run_pipeline(config, tmp_path / "items.duckdb", Reporter(quiet=True)))
        seen = list(api.seen)
    report = summary.exploration
    assert report is not None
    assert report.calls >= 40, report.lines()  # was 3
    assert report.retried >= 5  # the 500s and 429s were asked again
    assert report.stop.startswith("nothing new to try") or report.stop.startswith("the call budget is spent")
    assert any("page=2" in p for p in seen) and any("status=" in p for p in seen)
    assert sum(p.startswith("/search") for p in seen) >= 3
    assert summary.status_counts.get("accepted", 0) >= 3, summary.top_reasons
    assert summary.multi_step >= 1 and summary.edges_confirmed >= 1
    with Store(tmp_path / "items.duckdb", read_only=True) as store:
        _, rows = store.query("SELECT DISTINCT from_tool, to_tool FROM tool_edges WHERE confirmed")
        _, listed = store.query("SELECT DISTINCT CAST(i.id AS INTEGER) FROM observations, "
                                "unnest(from_json(output -> '$.items', '[{\"id\": \"INTEGER\"}]')) AS t(i) "
                                "WHERE tool = 'listItems' AND NOT is_error")
    assert ("listItems", "getItem") in rows
    # Every id a successful page of the list showed was looked up (a failed page shows none).
    fetched = {int(p.rsplit("/", 1)[1]) for p in seen if p.startswith("/items/")}
    shown = {r[0] for r in listed}
    assert len(shown) >= len(ITEMS) - 4 and shown <= fetched, sorted(shown - fetched)
