"""Tests for store/: real DuckDB files in tmp_path, hand-built records, no mocks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import store
from schemas import (
    ConfigError,
    Example,
    ReadOnlyQueryError,
    SchemaVersionError,
    SealedVersionError,
    StoreError,
    VersionNotFound,
)
from store import (
    CONTRACT_COLUMNS,
    DEFAULT_DB,
    MIGRATIONS,
    TABLE_MACROS,
    Store,
    default_db_path,
    parse_ref,
)
from store._connection import translate_error
from store._migrations import migration_number

from ._builders import (
    REPO,
    T0,
    file_digest,
    make_example,
    make_judgement,
    make_obs,
    make_tool,
    seed,
    sha_members,
)

# -- migrations and opening --------------------------------------------------------------


def test_blank_file_gets_every_migration_recorded(db: Path) -> None:
    assert not db.parent.exists()
    with Store(db) as s:
        _, rows = s.query("SELECT version, name FROM _migrations ORDER BY version")
        _, objects = s.query(
            "SELECT table_name FROM duckdb_tables() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal"
        )
    assert rows == [(migration_number(m), m.__name__) for m in MIGRATIONS]
    names = {r[0] for r in objects}
    assert {"run_rows", "obs_rows", "example_rows", "version_rows", "member_rows", "tag_rows",
            "reply_cache", "tool_rows", "candidate_rows", "leaf_rows"} <= names
    assert set(CONTRACT_COLUMNS) - set(TABLE_MACROS) <= names
    with Store(db, read_only=True) as s:
        _, found = s.query("SELECT DISTINCT function_name FROM duckdb_functions() WHERE NOT internal")
    assert set(TABLE_MACROS) | {"resolve_version"} <= {r[0] for r in found}


def test_migrations_are_numbered_in_order() -> None:
    numbers = [migration_number(m) for m in MIGRATIONS]
    assert numbers == list(range(1, len(MIGRATIONS) + 1))


def test_reopening_is_a_no_op(db: Path) -> None:
    with Store(db) as s:
        seed(s)
        _, before = s.query("SELECT * FROM _migrations")
    with Store(db) as s:
        _, after = s.query("SELECT * FROM _migrations")
        _, n = s.query("SELECT count(*) FROM candidates")
    assert after == before and n == [(4,)]


def test_newer_schema_is_refused_and_the_file_left_untouched(db: Path) -> None:
    Store(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO _migrations VALUES (99, 'm099_future', now())")
    con.close()
    digest = file_digest(db)
    with pytest.raises(SchemaVersionError, match="schema version 99.*upgrade backchain"):
        Store(db)
    with pytest.raises(SchemaVersionError):
        Store(db, read_only=True)
    assert file_digest(db) == digest
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no WAL left behind


def test_unknown_migration_name_is_refused(db: Path) -> None:
    Store(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE _migrations SET name = 'm001_someone_elses' WHERE version = 1")
    con.close()
    with pytest.raises(SchemaVersionError, match="m001_someone_elses"):
        Store(db)


def test_read_only_open_needs_a_migrated_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database at"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    with pytest.raises(SchemaVersionError, match="needs migrations .*m001_initial"):
        Store(plain, read_only=True)


def test_close_is_idempotent_and_closed_store_says_so(db: Path) -> None:
    s = Store(db)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.versions()


# -- writes -------------------------------------------------------------------------------


def test_content_addressed_inserts_are_idempotent(st: Store) -> None:
    obs = [make_obs(i) for i in range(3)]
    assert st.save_observations(obs, "r1") == 3
    assert st.save_observations(obs + obs, "r2") == 0
    assert st.save_observations([*obs, make_obs(3)], "r2") == 1
    assert st.save_tools([make_tool(), make_tool()], "r1") == 1
    assert st.save_tools([make_tool()], "r2") == 0
    seed(st, run_id="r3")
    seed_again = [make_example(i) for i in range(4)]
    st.save_candidates("r3", "geo", [(e, make_judgement(e)) for e in seed_again])
    counts = {t: st.query(f"SELECT count(*) FROM {t}")[1][0][0]
              for t in ("obs_rows", "tool_rows", "example_rows", "candidate_rows", "leaf_rows")}
    assert counts == {"obs_rows": 4, "tool_rows": 1, "example_rows": 4, "candidate_rows": 4,
                      "leaf_rows": 8}
    _, first = st.query("SELECT run_id FROM obs_rows WHERE observation_id = ?", [obs[0].observation_id])
    assert first == [("r1",)]  # the first run that saw it


def test_observations_view_has_the_contract_columns(st: Store) -> None:
    naive = dt.datetime(2025, 3, 1, 12, 0)
    st.save_observations([make_obs(1), make_obs(2, is_error=True, started_at=naive)], "r1")
    cols, rows = st.query("SELECT * FROM observations ORDER BY latency_ms")
    assert tuple(cols) == CONTRACT_COLUMNS["observations"]
    first, second = (dict(zip(cols, r, strict=True)) for r in rows)
    assert json.loads(first["arguments"]) == {"code": "C1"}
    assert json.loads(first["output"]) == {"capital": "City1", "n": 1}
    assert first["started_at"] == T0 and first["started_at"].utcoffset() == dt.timedelta(0)
    assert second["is_error"] and second["error"] == "boom" and second["output"] is None
    assert second["started_at"] == T0  # naive input is taken as UTC
    assert first["call_key"] == make_obs(1).call_key and first["run_id"] == "r1"


def test_candidates_leaf_results_tools_and_runs_views(st: Store) -> None:
    examples = seed(st)
    st.finish_run("run-1", status="completed", stats={"kept": 3}, flow_run_id="flow-9")
    cols, rows = st.query("SELECT * FROM candidates ORDER BY status, example_id")
    assert tuple(cols) == CONTRACT_COLUMNS["candidates"]
    by_id = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    row = by_id[examples[0].example_id]
    assert row["status"] == "accepted" and row["dataset"] == "geo" and row["run_id"] == "run-1"
    assert row["writer"] == "template" and row["kind"] == "multi_step"
    step = json.loads(row["trace"])["steps"][0]
    assert {"tool", "arguments", "observation_id", "sources", "output"} <= set(step)
    assert json.loads(row["answer"])["value"] == "City0"
    assert by_id[examples[3].example_id]["status"] == "rejected"

    cols, rows = st.query("SELECT * FROM leaf_results WHERE example_id = ? ORDER BY node_id",
                          [examples[0].example_id])
    assert tuple(cols) == CONTRACT_COLUMNS["leaf_results"]
    assert [(r[1], r[2], r[3]) for r in rows] == [("natural", "judge", False), ("schema", "check", True)]

    cols, rows = st.query("SELECT * FROM tools")
    assert tuple(cols) == CONTRACT_COLUMNS["tools"] and rows[0][:2] == ("geo", "country_info")

    cols, rows = st.query("SELECT * FROM runs")
    run = dict(zip(cols, rows[0], strict=True))
    assert tuple(cols) == CONTRACT_COLUMNS["runs"]
    assert run["status"] == "completed" and run["flow_run_id"] == "flow-9"
    assert json.loads(run["stats"]) == {"kept": 3} and run["finished_at"] >= run["started_at"]


def test_runs_refuse_unknown_ids_and_dataset_switches(st: Store) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        st.finish_run("nope", status="failed", stats={})
    st.start_run("r1", "geo", {}, {})
    st.start_run("r1", "geo", {}, {})  # resume
    with pytest.raises(StoreError, match="already exists for dataset 'geo'"):
        st.start_run("r1", "other", {}, {})
    with pytest.raises(ConfigError, match="bad dataset name"):
        st.start_run("r2", "bad name!", {}, {})


def test_mismatched_judgement_is_refused(st: Store) -> None:
    a, b = make_example(1), make_example(2)
    with pytest.raises(StoreError, match="paired with example"):
        st.save_candidates("r1", "geo", [(a, make_judgement(b))])


def test_stats_counts_one_run(st: Store) -> None:
    seed(st)
    st.save_observations([make_obs(50, is_error=True)], "run-1")
    assert st.stats("run-1") == {
        "run_id": "run-1",
        "calls": 5,
        "errors": 1,
        "candidates": {"accepted": 3, "rejected": 1, "judge_error": 0},
        "top_rejections": [("leaks answer", 1)],
    }


def test_atomic_nests_and_rolls_back_everything(st: Store) -> None:
    with pytest.raises(RuntimeError):
        with st.atomic():
            st.save_observations([make_obs(1)], "r1")
            with st.atomic():
                st.save_observations([make_obs(2)], "r1")
            raise RuntimeError("stop")
    assert st.query("SELECT count(*) FROM obs_rows")[1] == [(0,)]
    with st.atomic():
        st.save_observations([make_obs(1)], "r1")
        with st.atomic():
            st.save_observations([make_obs(2)], "r1")
    assert st.query("SELECT count(*) FROM obs_rows")[1] == [(2,)]


def test_bulk_insert_goes_through_arrow(st: Store) -> None:
    obs = [make_obs(i) for i in range(5000)]
    assert st.save_observations(obs, "bulk") == 5000
    assert st.query("SELECT count(DISTINCT call_key) FROM observations")[1] == [(5000,)]


# -- versions -------------------------------------------------------------------------


def test_seal_twice_links_parent_and_hashes_members(st: Store) -> None:
    examples = seed(st)
    ids = [e.example_id for e in examples]
    v1 = st.seal_version("geo", run_id="run-1", members=[(i, 0.5) for i in ids[:2]], message="first")
    v2 = st.seal_version("geo", run_id="run-1", members=[(i, None) for i in ids], author="ci")
    assert (v1.version, v1.parent_id, v1.row_count) == (1, None, 2)
    assert (v2.version, v2.parent_id, v2.row_count) == (2, v1.version_id, 4)
    assert v1.content_hash == sha_members(ids[:2]) and v2.content_hash == sha_members(ids)
    assert v1.message == "first" and v1.run_id == "run-1" and v1.tags == []
    assert v1.created_at.tzinfo is not None
    assert st.verify(v1.version_id) and st.verify(v2.version_id)
    assert [v.version for v in st.versions("geo")] == [1, 2]
    assert st.versions() == st.versions("geo")
    cols, rows = st.query("SELECT * FROM versions ORDER BY version")
    assert tuple(cols) == CONTRACT_COLUMNS["versions"] and rows[1][3] == v1.version_id


def test_seal_an_empty_version(st: Store) -> None:
    v = st.seal_version("empty", run_id=None, members=[])
    assert v.row_count == 0 and v.content_hash == hashlib.sha256(b"").hexdigest()
    assert st.verify(v.version_id) and list(st.iter_examples(v.version_id)) == []


def test_seal_with_unknown_ids_writes_nothing(st: Store) -> None:
    examples = seed(st)
    with pytest.raises(StoreError, match="unknown example ids 'nope'"):
        st.seal_version("geo", run_id=None, members=[(examples[0].example_id, 1.0), ("nope", 1.0)])
    assert st.versions() == []
    assert st.query("SELECT count(*) FROM member_rows")[1] == [(0,)]
    with pytest.raises(StoreError, match="twice with different scores"):
        st.seal_version("geo", run_id=None, members=[(examples[0].example_id, 1.0),
                                                     (examples[0].example_id, 0.5)])


def test_dataset_rows_by_number_string_tag_and_latest(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    st.seal_version("geo", run_id=None, members=[(ids[0], 0.9)], split="test")
    st.seal_version("geo", run_id=None, members=[(i, 0.1) for i in ids[1:]])
    st.seal_version("other", run_id=None, members=[(ids[0], 0.5)])
    st.tag("geo", "1", "prod")

    def rows(ref_sql: str) -> list[str]:
        cols, out = st.query(f"SELECT * FROM dataset_rows('geo', {ref_sql})")
        assert tuple(cols) == CONTRACT_COLUMNS["dataset_rows"]
        return [r[0] for r in out]

    assert rows("1") == rows("'1'") == rows("'prod'") == [ids[0]]
    assert rows("2") == rows("'latest'") == sorted(ids[1:])
    assert rows("'3'") == rows("'nope'") == []
    cols, out = st.query("SELECT score, split, body FROM dataset_rows(?, ?)", ["geo", "prod"])
    assert out[0][:2] == (0.9, "test")
    assert Example.model_validate_json(out[0][2]).example_id == ids[0]
    assert st.query("SELECT count(*) FROM dataset_rows('other', 'latest')")[1] == [(1,)]


def test_resolve_numbers_tags_latest_and_errors(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    for _ in range(3):
        st.seal_version("geo", run_id=None, members=[(ids[0], None)])
    st.tag("geo", 2, "prod")
    assert st.resolve("geo").version == 3
    assert st.resolve("geo", 1).version == st.resolve("geo", "1").version == 1
    assert st.resolve("geo", "prod").version == 2
    expected = r"geo@7 names no version: dataset 'geo' has versions 1\.\.3 and tags: prod"
    with pytest.raises(VersionNotFound, match=expected):
        st.resolve("geo", 7)
    with pytest.raises(VersionNotFound, match="has versions 1..3 and tags: prod"):
        st.resolve("geo", "staging")
    expected = r"dataset 'nope' has no versions yet \(datasets with versions: geo\)"
    with pytest.raises(VersionNotFound, match=expected):
        st.resolve("nope")
    with pytest.raises(ConfigError):
        st.resolve("bad name")
    with pytest.raises(ConfigError):
        st.resolve("geo", "bad ref!")


def test_tags_move_only_when_asked(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    v1 = st.seal_version("geo", run_id=None, members=[(ids[0], None)])
    v2 = st.seal_version("geo", run_id=None, members=[(ids[1], None)])
    assert st.tag("geo", "1", "prod").tags == ["prod"]
    assert st.tag("geo", "1", "prod").version == 1  # same version: no-op
    with pytest.raises(StoreError, match="already names geo@1; untag it first .* --force"):
        st.tag("geo", "latest", "prod")
    assert st.resolve("geo", "prod").version_id == v1.version_id
    moved = st.tag("geo", "latest", "prod", move=True)
    assert moved.version_id == v2.version_id and moved.tags == ["prod"]
    st.tag("geo", "2", "a-first")
    assert st.resolve("geo", 2).tags == ["a-first", "prod"]
    assert st.resolve("geo", 1).tags == []
    st.untag("geo", "prod")
    with pytest.raises(VersionNotFound, match="has no tag 'prod'"):
        st.untag("geo", "prod")
    with pytest.raises(VersionNotFound):
        st.resolve("geo", "prod")
    for bad in ("latest", "12", "-x", "a b"):
        with pytest.raises(ConfigError):
            st.tag("geo", "1", bad)


def test_sealed_versions_refuse_new_members(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    v = st.seal_version("geo", run_id=None, members=[(ids[0], None)])
    with pytest.raises(SealedVersionError, match="geo@1 is sealed"):
        st.add_members(v.version_id, [(ids[1], None)])
    with pytest.raises(VersionNotFound):
        st.add_members("no-such-version", [(ids[1], None)])
    assert st.resolve("geo").row_count == 1 and st.verify(v.version_id)


def test_raw_delete_on_members_fails_verify(db: Path) -> None:
    with Store(db) as s:
        ids = [e.example_id for e in seed(s)]
        v = s.seal_version("geo", run_id=None, members=[(i, None) for i in ids])
        assert s.verify(v.version_id)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM member_rows WHERE example_id = ?", [ids[0]])
    con.close()
    with Store(db) as s:
        assert not s.verify(v.version_id)
        with pytest.raises(VersionNotFound):
            s.verify("nope")


def test_iter_examples_streams_in_id_order(st: Store) -> None:
    examples = seed(st, n=7)
    members = [(e.example_id, float(i)) for i, e in enumerate(examples)]
    v = st.seal_version("geo", run_id=None, members=members, split="dev")
    got = list(st.iter_examples(v.version_id, batch_size=2))
    assert [e.example_id for e, _, _ in got] == sorted(e.example_id for e in examples)
    by_id = {e.example_id: (e, float(i)) for i, e in enumerate(examples)}
    for example, score, split in got:
        assert example == by_id[example.example_id][0]
        assert score == by_id[example.example_id][1] and split == "dev"
    with pytest.raises(VersionNotFound):
        next(st.iter_examples("nope"))


# -- query guard and read-only mode ----------------------------------------------------

REFUSED = [
    ("INSERT INTO tag_rows VALUES ('geo', 'x', 'v', now())", "INSERT"),
    ("UPDATE obs_rows SET is_error = true", "UPDATE"),
    ("DELETE FROM obs_rows", "DELETE"),
    ("CREATE TABLE evil(a INT)", "CREATE"),
    ("DROP TABLE obs_rows", "DROP"),
    ("ATTACH '{tmp}/other.duckdb' AS other", "ATTACH"),
    ("COPY obs_rows TO '{tmp}/leak.csv'", "COPY"),
    ("SELECT 1; DROP TABLE obs_rows", "DROP"),
    ("WITH gone AS (DELETE FROM obs_rows RETURNING *) SELECT * FROM gone", "DELETE"),
    ("WITH x AS (COPY obs_rows TO '{tmp}/leak.csv') SELECT * FROM x", "COPY"),
    ("EXPLAIN ANALYZE DELETE FROM obs_rows", "DELETE"),
    ("ALTER TABLE obs_rows ADD COLUMN x INT", "ALTER"),
    ("SET threads = 1", "SET"),
    ("PRAGMA threads = 1", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("PRAGMA force_checkpoint", "PRAGMA"),
    ("CHECKPOINT", "CALL"),
    ("COMMIT", "transaction"),
    ("INSTALL httpfs", "LOAD"),
]


@pytest.mark.parametrize(("sql", "kind"), REFUSED, ids=[s.split()[0] + "-" + k for s, k in REFUSED])
def test_query_refuses_writes_and_changes_nothing(st: Store, tmp_path: Path, sql: str, kind: str) -> None:
    st.save_observations([make_obs(1)], "r1")
    with pytest.raises(ReadOnlyQueryError, match=f"backchain sql is read-only: refused {kind} statement"):
        st.query(sql.format(tmp=tmp_path))
    assert st.query("SELECT count(*), bool_or(is_error) FROM obs_rows")[1] == [(1, False)]
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "other.duckdb").exists()
    assert st.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'evil'")[1] == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM observations",
        "WITH t AS (SELECT tool, count(*) AS n FROM observations GROUP BY tool) SELECT * FROM t",
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3) SELECT * FROM r",
        "SELECT tool, row_number() OVER (PARTITION BY toolset ORDER BY latency_ms) FROM observations",
        "SELECT list_transform([1, 2], lambda x: x + 1), (SELECT max(latency_ms) FROM obs_rows)",
        "SELECT 1 UNION SELECT 2 EXCEPT SELECT 3",
        "FROM versions",
        "DESCRIBE candidates",
        "SHOW TABLES",
        "SUMMARIZE observations",
        "EXPLAIN SELECT * FROM observations",
        "PRAGMA table_info('observations')",
        "SELECT 1; SELECT 2",
    ],
)
def test_query_allows_reads(st: Store, sql: str) -> None:
    st.save_observations([make_obs(1)], "r1")
    cols, _ = st.query(sql)
    assert cols


def test_query_binds_parameters_and_translates_errors(st: Store) -> None:
    st.save_observations([make_obs(1), make_obs(2)], "r1")
    assert st.query("SELECT count(*) FROM observations WHERE latency_ms > ?", [3.0])[1] == [(1,)]
    with pytest.raises(StoreError, match="no_such_table"):
        st.query("SELECT * FROM no_such_table")
    with pytest.raises(StoreError, match="could not parse"):
        st.query("SELEC 1")
    with pytest.raises(StoreError, match="single statement"):
        st.query("SELECT ?; SELECT 2", [1])


def test_read_only_store_reads_and_refuses_writes(db: Path) -> None:
    with Store(db) as s:
        ids = [e.example_id for e in seed(s)]
        s.seal_version("geo", run_id=None, members=[(ids[0], None)])
    digest = file_digest(db)
    with Store(db, read_only=True) as ro:
        assert ro.resolve("geo").row_count == 1
        assert ro.query("SELECT count(*) FROM candidates")[1] == [(4,)]
        with pytest.raises(ReadOnlyQueryError):
            ro.query("DELETE FROM obs_rows")
        with pytest.raises(StoreError, match="open read-only"):
            ro.save_observations([make_obs(9)], "r9")
        with pytest.raises(StoreError, match="open read-only"):
            ro.put_reply("k", "e", {}, {})
    assert file_digest(db) == digest


def test_second_writer_process_gets_a_clear_error(db: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from schemas import StoreError
        from store import Store
        try:
            Store({str(db)!r})
        except StoreError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    with Store(db):
        env = {**os.environ, "PYTHONPATH": str(REPO), "BACKCHAIN_LOCK_TIMEOUT": "0.3"}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=REPO, env=env, timeout=60)
    assert done.returncode == 3, done.stderr
    message = done.stdout.strip()
    assert "\n" not in message
    assert str(db) in message and "another process (PID" in message and "holds its lock" in message
    assert "waited 0.3 s" in message and "BACKCHAIN_LOCK_TIMEOUT" in message


def test_translate_error_maps_every_duckdb_error(tmp_path: Path) -> None:
    classes = [c for c in vars(duckdb).values()
               if isinstance(c, type) and issubclass(c, duckdb.Error)]
    assert len(classes) > 10
    for cls in classes:
        mapped = translate_error(cls("something failed\nsecond line"), tmp_path, "act")
        assert isinstance(mapped, StoreError) and "\n" not in str(mapped), cls


# -- reply cache, refs, exports ----------------------------------------------------------


def test_reply_cache_round_trip(st: Store) -> None:
    assert st.get_reply("k1") is None
    st.put_reply("k1", "http://127.0.0.1:8000/v1", {"messages": []}, {"choices": [{"text": "hi"}]})
    st.put_reply("k1", "http://127.0.0.1:8000/v1", {"messages": []}, {"choices": [{"text": "later"}]})
    assert st.get_reply("k1") == {"choices": [{"text": "hi"}]}


def test_reply_cache_survives_reopen(db: Path) -> None:
    with Store(db) as s:
        s.put_reply("k", "e", {"a": 1}, {"b": 2})
    with Store(db, read_only=True) as s:
        assert s.get_reply("k") == {"b": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ds@3", ("ds", "3")), ("ds", ("ds", "latest")), ("ds@latest", ("ds", "latest")),
     ("tools.v2@prod", ("tools.v2", "prod")), (" ds@1 ", ("ds", "1"))],
)
def test_parse_ref(text: str, expected: tuple[str, str]) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("text", ["", "@3", "ds@", "ds@1@2", "bad name", "ds@a b", "-ds"])
def test_parse_ref_rejects_bad_text(text: str) -> None:
    with pytest.raises(ConfigError, match=r"DATASET\[@VERSION\|@TAG\|@latest\|@TIMESTAMP\]"):
        parse_ref(text)


def test_default_db_path_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BACKCHAIN_DB", raising=False)
    assert default_db_path() == DEFAULT_DB == Path("data/backchain.duckdb")
    monkeypatch.setenv("BACKCHAIN_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"


def test_exports_are_sorted_and_present() -> None:
    assert store.__all__ == sorted(store.__all__)
    for name in store.__all__:
        assert hasattr(store, name), name
