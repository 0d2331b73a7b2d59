"""Schema migrations against a file made by the previous schema (tests/store/fixtures/m001.duckdb)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from schemas import SchemaVersionError, content_hash
from store import MIGRATIONS, Store, latest_version
from store import _migrations as migrations_module
from store._migrations import migration_number

from ._builders import file_digest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A copy of the shipped m001 database (the original stays untouched in the repo)."""
    target = tmp_path / "old.duckdb"
    shutil.copyfile(FIXTURES / "m001.duckdb", target)
    return target


def schema_version(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT max(version) FROM _migrations").fetchall()[0][0])
    finally:
        con.close()


def test_the_fixture_is_at_the_first_schema(old_file: Path) -> None:
    assert EXPECTED["schema_version"] == 1 == schema_version(old_file)
    assert latest_version() > 1


def test_opening_an_old_file_migrates_it_and_keeps_every_row_and_version_hash(old_file: Path) -> None:
    with Store(old_file) as s:
        _, applied = s.query("SELECT version, name FROM _migrations ORDER BY version")
        assert applied == [(migration_number(m), m.__name__) for m in MIGRATIONS]
        counts = {t: s.query(f"SELECT count(*) FROM {t}")[1][0][0] for t in EXPECTED["counts"]}
        assert counts == EXPECTED["counts"]
        _, members = s.query("SELECT version_id, example_id, split, score FROM member_rows ORDER BY ALL")
        assert [list(r) for r in members] == EXPECTED["members"]
        for old in EXPECTED["versions"]:
            info = s.resolve("geo", old["version"])
            assert info.model_dump(mode="json") == old  # id, parent, hashes, time, tags: unchanged
            assert s.verify(info.version_id)
            meta = s.describe("geo", old["version"])
            assert meta["operation"] == "run" and meta["derived_from"] == []
            assert meta["flow_run_id"] == "flow-1" and meta["rubric_hash"] == "r" * 32
            assert meta["config_hash"] == content_hash({"examples": 4, "seed": 1})
            assert meta["members_hash"] is not None
        # the new operations work on the migrated data
        d = s.diff(("geo", 1), ("geo", 2))
        assert (d.added, d.removed, d.changed, d.unchanged) == (1, 0, 0, 2)
        derived = s.derive("geo", "prod", where="score > 0.55")
        assert derived.version == 3 and derived.row_count == 1
    with Store(old_file) as s:  # a second open has nothing to migrate
        assert s.query("SELECT count(*) FROM _migrations")[1] == [(len(MIGRATIONS),)]
    assert schema_version(old_file) == latest_version()


def test_a_read_only_open_of_an_old_file_is_refused_untouched(old_file: Path) -> None:
    digest = file_digest(old_file)
    with pytest.raises(SchemaVersionError, match="needs migrations .*m002"):
        Store(old_file, read_only=True)
    assert file_digest(old_file) == digest


def test_a_failed_migration_leaves_the_file_as_it_was(old_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = file_digest(old_file)

    def m099_breaks_half_way(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM member_rows")
        con.execute("CREATE TABLE half_done (x INT)")
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(migrations_module, "MIGRATIONS", (*MIGRATIONS, m099_breaks_half_way))
    with pytest.raises(RuntimeError, match="disk full"):
        Store(old_file)
    # m002 ran in the same transaction and was rolled back with it
    assert schema_version(old_file) == 1
    assert file_digest(old_file) == digest
    monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS)
    with Store(old_file) as s:  # the real code still migrates it
        assert s.query("SELECT count(*) FROM member_rows")[1] == [(EXPECTED["counts"]["member_rows"],)]
        assert s.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_done'")[1] == [(0,)]


def test_a_newer_file_is_refused_and_never_changed(old_file: Path) -> None:
    con = duckdb.connect(str(old_file))
    con.execute("INSERT INTO _migrations VALUES (42, 'm042_from_the_future', now())")
    con.close()
    digest = file_digest(old_file)
    for read_only in (False, True):
        with pytest.raises(SchemaVersionError, match="schema version 42, newer than"):
            Store(old_file, read_only=read_only)
    assert file_digest(old_file) == digest


def test_m006_adds_the_call_cache_and_run_owners_to_an_old_file(old_file: Path) -> None:
    con = duckdb.connect(str(old_file))
    con.execute("UPDATE run_rows SET status = 'running'")  # as if the old run had been killed
    old_runs = sorted(r[0] for r in con.execute("SELECT run_id FROM run_rows").fetchall())
    con.close()
    with Store(old_file) as s:
        assert s.query("SELECT name FROM _migrations WHERE version = 6")[1] == [("m006_call_cache_run_owner",)]
        assert s.query("SELECT count(*) FROM call_cache")[1] == [(0,)]
        assert s.query("SELECT DISTINCT pid, host, process FROM run_rows")[1] == [(None, None, None)]
        observation = {"toolset": "geo", "tool": "find", "call_key": "k" * 32, "arguments": {"q": 1}}
        s.put_call("key-1", "explore", observation, run_id="r1")
        assert s.get_call("key-1") == observation and s.get_call("key-2") is None
        # A run recorded before m006 has no process: still 'running' means its process is gone.
        assert s.interrupt_abandoned_runs() == old_runs
        assert s.query("SELECT DISTINCT status FROM run_rows")[1] == [("interrupted",)]


def test_m007_adds_the_accounting_and_report_macros_to_an_old_file(old_file: Path) -> None:
    with Store(old_file) as s:
        assert s.query("SELECT name FROM _migrations WHERE version = 7")[1] == [("m007_run_accounting",)]
        # the old run has no accounting: NULL, not zero
        cols, rows = s.query("SELECT tokens_in, model_requests, tool_calls, stage_seconds, wall_seconds "
                             "FROM runs WHERE run_id = 'run-fixture'")
        assert rows == [(None, None, None, None, rows[0][4])] and rows[0][4] is not None
        for view in ("run_stages", "run_model_usage", "run_tool_calls", "model_requests"):
            assert s.query(f"SELECT count(*) FROM {view}")[1] == [(0,)]
        # the report's macros read the migrated versions: the old run made them, from its observations
        assert s.query("SELECT * FROM version_runs(resolve_version('geo', 1))")[1] == [("run-fixture",)]
        meta, tables = s.report_tables("geo", "2")
        assert meta["version"] == 2
        _, kinds = tables["report_kinds"]
        assert sum(n for _, n, _ in kinds) == EXPECTED["versions"][1]["row_count"]
        cols, coverage = tables["report_tool_coverage"]
        assert sum(r[cols.index("calls")] for r in coverage) == EXPECTED["counts"]["obs_rows"]
        assert tables["report_stages"][1] == []  # nothing was timed before m007


def test_m008_counts_cached_tool_calls_apart_and_keeps_the_old_counts(
        old_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS[:7])  # the file as m007 left it
    with Store(old_file) as s:
        s.con.execute("INSERT INTO run_tool_rows VALUES ('run-fixture', 'explore', 'geo', 5, 1)")
    assert schema_version(old_file) == 7
    monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS)
    with Store(old_file) as s:
        assert s.query("SELECT name FROM _migrations WHERE version = 8")[1] == [("m008_cached_tool_calls",)]
        # a row recorded before: every call was executed, none counted as cached
        assert s.query("SELECT calls, errors, cached FROM run_tool_calls")[1] == [(5, 1, 0)]
        assert s.query("SELECT tool_calls, cached_tool_calls FROM runs WHERE run_id = 'run-fixture'")[1] == [(5, 0)]
        cols, rows = s.report_tables("geo", "2")[1]["report_stages"]
        assert dict(zip(cols, rows[0]))["cached_tool_calls"] == 0
