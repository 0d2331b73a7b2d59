"""m005: each example's chat rendering stored beside it, backfilled for old files, checked by verify.

Real DuckDB files throughout: the shipped m001 fixture (tests/store/fixtures/m001.duckdb) is
upgraded, and new rows are written through the Store API.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas import Example, ExportFilters, compact_json, render_example, rendering_stamp
from schemas import chat_messages as chat_messages_of
from store import Store
from store._rendered import RENDERED_COLUMNS, rendered_columns

from ._builders import make_example, make_judgement

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    target = tmp_path / "old.duckdb"
    shutil.copyfile(FIXTURES / "m001.duckdb", target)
    return target


def _columns(store: Store) -> list[tuple[str, dict[str, object]]]:
    rows = store.con.execute(
        f"SELECT body, {', '.join(RENDERED_COLUMNS)} FROM example_rows ORDER BY example_id").fetchall()
    return [(body, dict(zip(RENDERED_COLUMNS, rest, strict=True))) for body, *rest in rows]


def test_upgrading_the_old_fixture_renders_every_stored_example(old_file: Path) -> None:
    with Store(old_file) as store:
        rows = _columns(store)
        assert len(rows) == 4
        for body, stored in rows:
            assert stored == rendered_columns(body)  # what a fresh write of that body would store
            example = Example.model_validate_json(body)
            assert stored["chat_stamp"] == rendering_stamp()
            assert stored["chat_messages"] == [compact_json(m) for m in chat_messages_of(example)]
            assert [json.loads(t)["function"]["name"] for t in stored["chat_tools"]] == [
                t.name for t in example.tools]
        for version in store.versions("geo"):
            assert store.verify(version.version_id)
        # every row was kept, and the store still writes and reads rows as before
        assert store.query("SELECT count(*) FROM example_rows")[1] == [(4,)]


def test_new_examples_are_rendered_when_written(tmp_path: Path) -> None:
    examples = [make_example(i) for i in range(3)] + [make_example(9, kind="no_call")]
    with Store(tmp_path / "s.duckdb") as store:
        store.save_candidates("run-1", "geo", [(e, make_judgement(e)) for e in examples])
        rows = dict(store.con.execute(
            "SELECT example_id, chat_stamp FROM example_rows").fetchall())
        for e in examples:
            rendered = render_example(e)
            assert rows[e.example_id] == rendered.stamp
        version = store.seal_version("geo", run_id=None, members=[(e.example_id, 0.5) for e in examples])
        assert store.verify(version.version_id)
        keys = store.export_keys(version.version_id, ExportFilters(kinds=["no_call"]))
        assert (keys.read, keys.kept, keys.dropped["kinds"], len(keys.unready)) == (4, 1, 3, 0)


def test_an_example_that_does_not_render_validly_is_stored_without_a_stamp(tmp_path: Path) -> None:
    example = make_example(1)
    empty = example.model_copy(update={"task": example.task.model_copy(update={"final_message": ""})})
    with Store(tmp_path / "s.duckdb") as store:
        store.save_candidates("run-1", "geo", [(empty, make_judgement(empty))])
        stamp, messages = store.con.execute("SELECT chat_stamp, chat_messages FROM example_rows").fetchall()[0]
        assert stamp is None and messages[-1] == '{"role":"assistant","content":""}'
        version = store.seal_version("geo", run_id=None, members=[(empty.example_id, 0.5)])
        assert store.verify(version.version_id)  # unstamped is not tampered
        assert len(store.export_keys(version.version_id, ExportFilters()).unready) == 1


def test_verify_notices_a_rendering_changed_in_place(tmp_path: Path) -> None:
    examples = [make_example(i) for i in range(3)]
    with Store(tmp_path / "s.duckdb") as store:
        store.save_candidates("run-1", "geo", [(e, make_judgement(e)) for e in examples])
        version = store.seal_version("geo", run_id=None, members=[(e.example_id, 0.5) for e in examples])
        store.con.execute("UPDATE example_rows SET chat_tools = [] WHERE example_id = ?", [examples[1].example_id])
        assert not store.verify(version.version_id)
