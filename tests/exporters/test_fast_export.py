"""The fast trl-sft export (stored renderings straight into parquet) writes what the Python path
writes, byte for byte, and still refuses what the Python path refuses.

Every version here is a real DuckDB file written through the Store API (and one made by the
pipeline itself, and the shipped m001 fixture migrated): the fast path is ``export_version``;
the reference is ``export_rows`` over ``select_rows``, the Python path that builds, checks and
writes each row (what ``export_version`` did before stored renderings existed).
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import exporters._fast as fast_module
from exporters import SelectionCounts, export_rows, export_version, select_rows
from exporters._base import DEFAULT_OPTIONS
from exporters._fast import plan_fast_export
from exporters._pipeline import format_named
from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    Example,
    ExportError,
    ExportFilters,
    Judgement,
    Normaliser,
    Step,
    StoreError,
    Task,
    TaskDifficulty,
    Tool,
    Trace,
    VersionInfo,
)
from store import Store

from ._examples import COUNTRY_INFO, TIMEZONE_AT, every_kind, paris_chain

FIXTURES = Path(__file__).resolve().parents[1] / "store" / "fixtures"

# Values whose text must survive exactly, and -0.7, which datasets' decoder loads changed.
AWKWARD = {"neg": -0.7, "sum": 0.1 + 0.2, "tiny": 1e-07, "sub": 5e-324, "max": 1.7976931348623157e308,
           "zero": -0.0, "big": 2**70, "long": 12345678901234567, "e16": 1e16, "t": True, "n": None,
           "text": "Côte d'Ivoire \u2028 \U0001f600 \"q\" \\ \x01 tab\t"}

SLOPE = Tool(toolset="builtin", name="slope_at", description="Terrain slope at a point (°).",
             input_schema={"type": "object", "properties": {"latitude": {"type": "number", "default": -0.7},
                                                            "scale": {"type": "number", "multipleOf": 0.1}},
                           "required": ["latitude"]},
             side_effect="read", side_effect_source="annotations")


def awkward_example(i: int = 0) -> Example:
    step = Step(toolset="builtin", tool="slope_at", arguments={"latitude": -0.7, "i": i, "extra": AWKWARD},
                sources={"latitude": ArgumentSource(origin="user", how="seed")}, observation_id=f"obs-slope-{i}",
                output={"slope": 0.30000000000000004, "zz": 1, "aa": [-0.7, 2**64], "note": AWKWARD["text"]})
    return Example(
        task=Task(kind="single", user_request=f"How steep is it at -0.7°? ({i}) {AWKWARD['text']}", user_values={},
                  answer=Answer(pointers=[AnswerPointer(step=0, pointer="/slope")], value=0.30000000000000004,
                                normaliser=Normaliser(kind="number", tolerance=1e-9)),
                  final_message="About 0.3 — «steep».", writer="template"),
        trace=Trace(steps=[step]), tools=[SLOPE, COUNTRY_INFO, TIMEZONE_AT],
    )


def _variant(example: Example, n: int) -> Example:
    task = example.task.model_copy(update={"user_request": f"{example.task.user_request} (#{n})"})
    return example.model_copy(update={"task": task})


def store_version(db: Path, examples: list[Example], scores: list[float | None], dataset: str = "geo") -> VersionInfo:
    run_id = uuid.uuid4().hex
    with Store(db) as store:
        store.save_tools([t for e in examples for t in e.tools], run_id)
        store.save_candidates(run_id, dataset, [
            (e, Judgement(example_id=e.example_id, rubric_id="t", rubric_hash="t", status="accepted", score=s,
                          leaves=[])) for e, s in zip(examples, scores, strict=True)])
        return store.seal_version(dataset, run_id=None, members=[(e.example_id, s) for e, s in zip(
            examples, scores, strict=True)])


@pytest.fixture
def hand_db(tmp_path: Path) -> Path:
    """Every task kind, awkward numbers and text, and variants of one trace (same split)."""
    examples = [*every_kind(), awkward_example(0), awkward_example(1), _variant(paris_chain(), 1),
                _variant(paris_chain(), 2)]
    scores: list[float | None] = [0.9, 0.8, 0.3, 0.95, 0.7, 0.6, None, 0.75, 0.5, 0.85, 0.65]
    db = tmp_path / "hand.duckdb"
    store_version(db, examples, scores)
    with Store(db) as store:
        store.save_difficulty([TaskDifficulty(example_id=e.example_id, solver_model="s", attempts=4, passes=k % 5)
                               for k, e in enumerate(examples[:8])])
    return db


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def both_paths(db: Path, tmp_path: Path, filters: ExportFilters, *, dataset: str = "geo",
               name: str = "train.parquet") -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(files of the fast path, files of the Python path) for one export; the fast one must apply."""
    fast_dir, slow_dir = tmp_path / f"fast-{uuid.uuid4().hex}", tmp_path / f"slow-{uuid.uuid4().hex}"
    with Store(db, read_only=True) as store:
        version = store.resolve(dataset, "latest")
        plan = plan_fast_export(store, version, format_named("trl-sft"), fast_dir / name, filters, DEFAULT_OPTIONS)
        assert plan is not None, "the fast path should apply here"
        export_version(store, version, fmt="trl-sft", out=fast_dir / name, filters=filters)
        counts = SelectionCounts()
        export_rows(select_rows(store, version, filters, counts), fmt="trl-sft", out=slow_dir / name,
                    version=version, filters=filters, selection=counts.model)
    return _snapshot(fast_dir), _snapshot(slow_dir)


CASES = {
    "plain": ExportFilters(),
    "split": ExportFilters(split={"train": 0.5, "validation": 0.25, "test": 0.25}, split_seed=7),
    "one-split": ExportFilters(split={"all": 1.0}),
    "min-score": ExportFilters(min_score=0.7),
    "kinds-and-split": ExportFilters(kinds=["single", "multi_step", "no_call"], split={"a": 0.5, "b": 0.5}),
    "tools": ExportFilters(tools=["slope_at", "convert_units"]),
    "pass-rate-band": ExportFilters(pass_rate_band=(0.2, 0.8), min_score=0.5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_writes_the_python_paths_bytes(case: str, hand_db: Path, tmp_path: Path) -> None:
    fast, slow = both_paths(hand_db, tmp_path, CASES[case])
    assert fast == slow
    manifest = json.loads(fast["train.parquet.manifest.json"])
    assert manifest["row_count"] > 0 and manifest["selection"]["rows_in_version"] == 11
    if case == "plain":  # every row, and the drift datasets would cause is reported the same way
        assert manifest["row_count"] == 11 and manifest["load_drift_total"] >= 2
        # a 2**70 argument: datasets cannot decode that message at all; -0.7 in a tool's schema
        assert {d["field"] for d in manifest["load_drift"]} == {
            "messages/1", "tools/0/function/parameters/properties/latitude/default"}
    if case == "split":
        assert len([p for p in fast if p.endswith(".parquet")]) == 3
    if case == "pass-rate-band":  # rows measured at 0 or 1 that the band dropped: both paths count them
        assert manifest["selection"]["zero_variance"] == 3


def test_many_rows_cross_chunks_and_row_groups_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than a row group (2000) and several store chunks that do not line up with them."""
    monkeypatch.setattr(fast_module, "CHUNK_ROWS", 700)
    kinds = every_kind()
    examples = [_variant(kinds[n % len(kinds)], n) for n in range(2300)] + [awkward_example(n) for n in range(1100)]
    db = tmp_path / "many.duckdb"
    store_version(db, examples, [(n % 10) / 10 for n in range(len(examples))])
    for filters in (ExportFilters(), ExportFilters(split={"train": 0.9, "test": 0.1}, split_seed=1),
                    ExportFilters(min_score=0.35)):
        fast, slow = both_paths(db, tmp_path, filters)
        assert fast == slow
        manifest = json.loads(fast["train.parquet.manifest.json"])
        if not filters.split and filters.min_score is None:
            assert manifest["row_count"] == 3400
            assert pq.read_metadata(pa.BufferReader(fast["train.parquet"])).num_row_groups == 2
            assert len(manifest["load_drift"]) == 1000 and manifest["load_drift_total"] > 1100


def test_drifting_values_in_rows_without_tools_or_only_in_tools(tmp_path: Path) -> None:
    no_tools = awkward_example(5).model_copy(update={"tools": []})
    tools_only = paris_chain().model_copy(update={"tools": [SLOPE]})
    db = tmp_path / "odd.duckdb"
    store_version(db, [no_tools, tools_only], [0.5, 0.6])
    store_version(db, [no_tools], [0.5], dataset="bare")  # not one tool in the whole chunk
    for dataset, expected in (("geo", ["messages/1", "tools/0/function/parameters/properties/latitude/default"]),
                              ("bare", ["messages/1"])):
        fast, slow = both_paths(db, tmp_path, ExportFilters(), dataset=dataset)
        assert fast == slow
        fields = [d["field"] for d in json.loads(fast["train.parquet.manifest.json"])["load_drift"]]
        assert sorted(fields) == expected


def test_a_real_pipeline_version_both_ways(pipeline_db: Path, tmp_path: Path) -> None:
    for filters in (ExportFilters(), ExportFilters(split={"train": 0.7, "test": 0.3}, split_seed=3)):
        fast, slow = both_paths(pipeline_db, tmp_path, filters, dataset="default")
        assert fast == slow


def test_the_old_fixture_after_its_migration_both_ways(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    shutil.copyfile(FIXTURES / "m001.duckdb", db)
    Store(db).close()  # migrates: m005 renders the stored examples
    fast, slow = both_paths(db, tmp_path, ExportFilters())
    assert fast == slow and json.loads(fast["train.parquet.manifest.json"])["row_count"] > 0


# --- what the fast path will not do, and what it still refuses ---------------------------------

def _bad_final(example: Example) -> Example:
    return example.model_copy(update={"task": example.task.model_copy(update={"final_message": ""})})


def test_an_invalid_row_fails_as_before_and_leaves_nothing(tmp_path: Path) -> None:
    good = every_kind()
    bad = _bad_final(good[2])
    db = tmp_path / "bad.duckdb"
    store_version(db, [*good, bad], [0.5] * (len(good) + 1))
    with Store(db, read_only=True) as store:
        version = store.resolve("geo", "latest")
        keys = store.export_keys(version.version_id, ExportFilters())
        assert len(keys.unready) == 1  # its rendering failed the trl-sft schema when stored
        with pytest.raises(ExportError) as fast_error:
            export_version(store, version, fmt="trl-sft", out=tmp_path / "fast" / "train.parquet")
        with pytest.raises(ExportError) as slow_error:
            export_rows(select_rows(store, version, ExportFilters()), fmt="trl-sft",
                        out=tmp_path / "slow" / "train.parquet", version=version)
        # a filter that leaves the bad row out makes the export fast again
        kinds = ExportFilters(kinds=[k.task.kind for k in good if k.task.kind != bad.task.kind])
        assert plan_fast_export(store, version, format_named("trl-sft"), tmp_path / "k.parquet", kinds,
                                DEFAULT_OPTIONS) is not None
    message = str(fast_error.value)
    assert message == str(slow_error.value) and "\n" not in message
    assert bad.example_id in message and "at messages/3/content:" in message
    assert not (tmp_path / "fast").exists() or not any((tmp_path / "fast").iterdir())


def test_a_stale_stamp_takes_the_python_path_and_gives_the_same_bytes(hand_db: Path, tmp_path: Path) -> None:
    before = both_paths(hand_db, tmp_path, ExportFilters())[0]
    with Store(hand_db) as store:  # as if rendered by older code: the stamp no longer matches
        # (a VARCHAR column: DuckDB updates it in place, so the storage order stays)
        store.con.execute("UPDATE example_rows SET chat_stamp = 'older' WHERE kind = 'single'")
        version = store.resolve("geo", "latest")
        assert plan_fast_export(store, version, format_named("trl-sft"), tmp_path / "x.parquet", ExportFilters(),
                                DEFAULT_OPTIONS) is None
        export_version(store, version, fmt="trl-sft", out=tmp_path / "after" / "train.parquet")
    assert _snapshot(tmp_path / "after") == before


@pytest.mark.parametrize("column", ["chat_messages", "chat_tools", "chat_stamp", "variant_key", "kind"])
def test_verify_notices_a_rendering_changed_behind_the_stores_back(column: str, hand_db: Path) -> None:
    changes = {"chat_messages": "list_reverse(chat_messages)", "chat_tools": "[]::VARCHAR[]",
               "chat_stamp": "'forged'", "variant_key": "'other'", "kind": "'no_call'"}
    with Store(hand_db) as store:
        version = store.resolve("geo", "latest")
        assert store.verify(version.version_id)
        store.con.execute(f"UPDATE example_rows SET {column} = {changes[column]} "
                          "WHERE example_id = (SELECT min(example_id) FROM example_rows)")
        assert not store.verify(version.version_id)


def test_formats_and_options_the_fast_path_leaves_to_python(hand_db: Path, tmp_path: Path) -> None:
    with Store(hand_db, read_only=True) as store:
        version = store.resolve("geo", "latest")
        for fmt, out, filters in [("trl-sft", "x.jsonl", ExportFilters()), ("trl-sft", "x.parquet", ExportFilters(dedup=True)),
                                  ("verl-sft", "x.parquet", ExportFilters()), ("hf", "x", ExportFilters())]:
            assert plan_fast_export(store, version, format_named(fmt), tmp_path / out, filters, DEFAULT_OPTIONS) is None


def test_rows_go_out_in_storage_order_on_both_paths(hand_db: Path, tmp_path: Path) -> None:
    with Store(hand_db, read_only=True) as store:
        version = store.resolve("geo", "latest")
        stored = [r[0] for r in store.con.execute(
            "SELECT e.example_id FROM example_rows AS e SEMI JOIN member_rows AS m ON m.example_id = e.example_id "
            "AND m.version_id = ? ORDER BY e.rowid", [version.version_id]).fetchall()]
        python = [e.example_id for e, _, _ in store.iter_version_examples(version.version_id, batch_size=3)]
        rendered: list[Any] = []
        for chunk in store.iter_rendered(store.export_keys(version.version_id, ExportFilters()), chunk_rows=4):
            rendered += chunk.column("example_id").to_pylist()
    assert stored == python == rendered and len(stored) == 11


def test_the_read_ahead_hands_over_errors_and_closes_the_reader() -> None:
    closed: list[str] = []

    def chunks() -> Any:
        try:
            for i in range(100):
                yield pa.table({"i": [i]})
        finally:
            closed.append(threading.current_thread().name)

    ahead = fast_module._prefetched(chunks())
    assert [next(ahead).column("i")[0].as_py() for _ in range(3)] == [0, 1, 2]
    ahead.close()  # the consumer stops early (say, a write failed): the reader is closed, in its thread
    assert closed == ["export-reader"]
    assert not any(t.name == "export-reader" for t in threading.enumerate())

    def failing() -> Any:
        yield pa.table({"i": [0]})
        raise StoreError("the store stopped answering")

    with pytest.raises(StoreError, match="stopped answering"):
        list(fast_module._prefetched(failing()))
