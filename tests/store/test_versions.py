"""Versions: metadata, immutability, derive / merge / rollback, diff, time travel, lineage.

Real DuckDB files in tmp_path; every expected answer is worked out by hand from
the rows the test builds.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from schemas import (
    ConfigError,
    ReadOnlyQueryError,
    SealedVersionError,
    StoreError,
    VersionNotFound,
    content_hash,
)
from store import CONTRACT_COLUMNS, Store
from store._sql import MEMBER_HASH_SQL

from ._builders import make_example, save, seed, sha_members, synthetic_examples

# -- metadata ----------------------------------------------------------------------------


def test_a_run_version_records_its_run_and_the_run_what_made_it(st: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ada")
    config = {"examples": 4, "seed": 7}
    st.start_run("r1", "geo", config, {"writer": "tpl", "judge": "j"}, rubric_hash="h" * 32,
                 flow_run_id="flow-1")
    examples = [make_example(i) for i in range(3)]
    save(st, "r1", "geo", examples)
    v1 = st.seal_version("geo", run_id="r1", members=[(e.example_id, 0.5) for e in examples[:2]],
                         message="first")
    v2 = st.seal_version("geo", run_id="r1", members=[(e.example_id, 0.5) for e in examples],
                         author="grace")
    cols, rows = st.query("SELECT * FROM versions ORDER BY version")
    assert tuple(cols) == CONTRACT_COLUMNS["versions"]
    assert cols[:10] == ["dataset", "version", "version_id", "parent_id", "created_at", "row_count",
                         "content_hash", "message", "run_id", "tags"]  # the m001 contract comes first
    first, second = (dict(zip(cols, r, strict=True)) for r in rows)
    assert first["parent_id"] is None and second["parent_id"] == v1.version_id
    assert first["run_id"] == "r1" and first["flow_run_id"] == "flow-1"
    assert json.loads(first["models"]) == {"writer": "tpl", "judge": "j"}
    assert first["rubric_hash"] == "h" * 32 and first["config_hash"] == content_hash(config)
    assert first["author"] == "ada" and second["author"] == "grace"
    assert first["message"] == "first" and first["created_at"] <= second["created_at"]
    assert first["operation"] == "run" and first["derived_from"] == [] and first["predicate"] is None
    assert len(first["members_hash"]) == 64 and first["members_hash"] != first["content_hash"]
    assert st.describe("geo", 2)["version_id"] == v2.version_id
    assert st.describe("geo", 1)["models"] == {"writer": "tpl", "judge": "j"}
    _, runs = st.query("SELECT rubric_hash, config_hash, flow_run_id FROM runs")
    assert runs == [("h" * 32, content_hash(config), "flow-1")]


def test_seal_streams_pairs_arrow_tables_and_generators(st: Store) -> None:
    examples = seed(st, n=6)
    ids = [e.example_id for e in examples]
    table = pa.table({"example_id": ids[:3], "score": pa.array([0.1, None, 0.3])})
    v1 = st.seal_version("geo", run_id=None, members=table)
    v2 = st.seal_version("geo", run_id=None, members=((i, 1.0) for i in ids))
    v3 = st.seal_version("geo", run_id=None, members=table.to_reader())
    assert (v1.row_count, v2.row_count, v3.row_count) == (3, 6, 3)
    assert v1.content_hash == v3.content_hash == sha_members(ids[:3])
    assert st.describe("geo", 1)["members_hash"] == st.describe("geo", 3)["members_hash"]
    assert st.describe("geo", 1)["operation"] == "seal"  # no run
    _, rows = st.query("SELECT example_id, score FROM dataset_rows('geo', 1)")
    assert dict(rows) == {ids[0]: 0.1, ids[1]: None, ids[2]: 0.3}
    # An id listed twice with the same score counts once; with different scores it fails.
    v4 = st.seal_version("geo", run_id=None, members=[(ids[0], 0.5), (ids[0], 0.5), (ids[1], None),
                                                       (ids[1], None)])
    assert v4.row_count == 2 and st.verify(v4.version_id)
    with pytest.raises(StoreError, match=f"example '{ids[0]}' is listed twice with different scores"):
        st.seal_version("geo", run_id=None, members=[(ids[0], 0.5), (ids[0], 0.6)])
    with pytest.raises(StoreError, match="need columns example_id and score"):
        st.seal_version("geo", run_id=None, members=pa.table({"id": ["x"]}))
    with pytest.raises(StoreError, match=r"\(example_id: str, score: float \| None\) pairs"):
        st.seal_version("geo", run_id=None, members=[(1, "not a score")])  # type: ignore[list-item]
    assert [v.version for v in st.versions("geo")] == [1, 2, 3, 4]


def test_a_large_member_list_streams_in_batches(st: Store) -> None:
    n = 150_000  # more than two batches of members and of the hashing pass
    table = synthetic_examples(st, n)
    v = st.seal_version("big", run_id=None, members=((i, 0.5) for i in table.column("example_id").to_pylist()))
    assert v.row_count == n
    assert v.content_hash == st.query(
        "SELECT sha256(string_agg(example_id, chr(10) ORDER BY example_id)) FROM example_rows")[1][0][0]
    # the Python pass over Arrow batches and the reference SQL definition agree
    assert (v.content_hash, n) == st.con.execute(MEMBER_HASH_SQL, [v.version_id]).fetchall()[0]
    assert st.verify(v.version_id)


# -- immutability --------------------------------------------------------------------------


def test_sealed_versions_refuse_changes_through_the_api(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    v = st.seal_version("geo", run_id=None, members=[(ids[0], 0.5)])
    with pytest.raises(SealedVersionError, match="geo@1 is sealed and cannot change"):
        st.add_members(v.version_id, [(ids[1], 0.5)])
    for sql in ("DELETE FROM member_rows", "UPDATE member_rows SET score = 1",
                "INSERT INTO member_rows VALUES ('x', 'y', 'train', 1)",
                "UPDATE version_rows SET row_count = 9"):
        with pytest.raises(ReadOnlyQueryError):
            st.query(sql)
    assert st.verify(v.version_id) and st.resolve("geo").row_count == 1


@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM member_rows WHERE example_id = '{a}'",
        "INSERT INTO member_rows VALUES ('{v}', '{c}', 'train', 0.5)",
        "INSERT INTO member_rows VALUES ('{v}', '{a}', 'train', 0.5)",  # a duplicate row
        "UPDATE member_rows SET score = 0.99 WHERE example_id = '{a}'",
        "UPDATE member_rows SET score = NULL WHERE example_id = '{a}'",
        "UPDATE member_rows SET split = 'test' WHERE example_id = '{b}'",
        "UPDATE member_rows SET example_id = '{c}' WHERE example_id = '{b}'",
    ],
    ids=["delete", "insert", "duplicate", "score", "score-null", "split", "swap-id"],
)
def test_raw_sql_on_member_rows_is_detected_by_verify(db: Path, tamper: str) -> None:
    with Store(db) as s:
        ids = [e.example_id for e in seed(s)]
        v = s.seal_version("geo", run_id=None, members=[(ids[0], 0.5), (ids[1], 0.5)])
        other = s.seal_version("geo", run_id=None, members=[(ids[2], 0.5)])
        assert s.verify(v.version_id)
    con = duckdb.connect(str(db))
    con.execute(tamper.format(v=v.version_id, a=ids[0], b=ids[1], c=ids[2]))
    con.close()
    with Store(db) as s:
        assert not s.verify(v.version_id)
        assert s.verify(other.version_id)


# -- derive, merge, rollback -----------------------------------------------------------------


def _three_kinds(st: Store) -> list[str]:
    """Six examples, scores 0.0..1.0, kinds alternating multi_step / single; sealed as geo@1."""
    examples = [make_example(i, kind="multi_step" if i % 2 == 0 else "single") for i in range(6)]
    save(st, "r1", "geo", examples)
    st.seal_version("geo", run_id="r1", members=[(e.example_id, i / 5) for i, e in enumerate(examples)])
    return [e.example_id for e in examples]


def test_derive_filters_with_a_predicate_and_records_where_from(st: Store) -> None:
    ids = _three_kinds(st)
    v1 = st.resolve("geo", 1)
    v2 = st.derive("geo", 1, where="kind = 'multi_step' AND score > 0.3")
    assert v2.version == 2 and v2.parent_id == v1.version_id and v2.run_id is None
    _, rows = st.query("SELECT example_id, score, split FROM dataset_rows('geo', 2)")
    assert sorted(rows) == sorted([(ids[2], 0.4, "train"), (ids[4], 0.8, "train")])
    meta = st.describe("geo", 2)
    assert meta["operation"] == "derive" and meta["derived_from"] == [v1.version_id]
    assert meta["predicate"] == "kind = 'multi_step' AND score > 0.3"
    assert meta["message"] == "derive geo@1 where kind = 'multi_step' AND score > 0.3"
    assert meta["flow_run_id"] is None and st.verify(v2.version_id)
    # into another dataset; a subquery that only reads is fine
    v3 = st.derive("geo", "latest", where="example_id IN (SELECT example_id FROM candidates "
                   "WHERE status = 'accepted') AND score >= 0.8", into="geo-best", message="best")
    assert (v3.dataset, v3.version, v3.row_count, v3.message) == ("geo-best", 1, 1, "best")
    assert st.describe("geo-best", 1)["derived_from"] == [v2.version_id]


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        ("score >", StoreError, "could not parse the predicate"),
        ("", StoreError, "needs a predicate"),
        ("1; DROP TABLE member_rows", StoreError, "could not parse"),
        ("true) UNION ALL (SELECT 1", ReadOnlyQueryError, "reaches outside its parentheses"),
        ("example_id IN (WITH d AS (DELETE FROM tag_rows RETURNING *) SELECT tag FROM d)",
         ReadOnlyQueryError, "refused DELETE"),
        ("no_such_column > 1", StoreError, "failed on geo@1: .*no_such_column"),
    ],
)
def test_a_bad_predicate_stores_nothing(st: Store, where: str, error: type[Exception], message: str) -> None:
    _three_kinds(st)
    st.tag("geo", 1, "keep")
    with pytest.raises(error, match=message) as info:
        st.derive("geo", 1, where=where)
    assert "\n" not in str(info.value)
    assert [v.version for v in st.versions()] == [1]
    assert st.query("SELECT count(*) FROM member_rows")[1] == [(6,)]
    assert st.query("SELECT count(*) FROM tag_rows")[1] == [(1,)]


def test_merge_unions_by_example_id_and_keeps_the_higher_score(st: Store) -> None:
    examples = [make_example(i) for i in range(5)]
    save(st, "r1", "geo", examples)
    e = [x.example_id for x in examples]
    va = st.seal_version("geo", run_id=None, members=[(e[0], 0.2), (e[1], 0.9), (e[2], None)])
    vb = st.seal_version("other", run_id=None, members=[(e[1], 0.4), (e[2], 0.7), (e[3], None)],
                         split="test")
    result = st.merge(("geo", 1), ("other", "latest"))
    assert result.score_conflicts == 2  # e1 (0.9 vs 0.4) and e2 (NULL vs 0.7)
    merged = result.version
    assert (merged.dataset, merged.version, merged.row_count) == ("geo", 2, 4)
    _, rows = st.query("SELECT example_id, score, split FROM dataset_rows('geo', 2)")
    assert sorted(rows) == sorted([(e[0], 0.2, "train"), (e[1], 0.9, "train"), (e[2], 0.7, "train"),
                                   (e[3], None, "test")])
    meta = st.describe("geo", 2)
    assert meta["operation"] == "merge" and meta["derived_from"] == [va.version_id, vb.version_id]
    assert meta["parent_id"] == va.version_id and meta["message"] == "merge geo@1 and other@1"
    same = st.merge(("geo", 1), ("geo", 1), into="copy")
    assert same.score_conflicts == 0 and same.version.content_hash == va.content_hash


def test_rollback_is_a_new_version_with_the_old_rows(st: Store) -> None:
    ids = [e.example_id for e in seed(st, n=4)]
    v1 = st.seal_version("geo", run_id=None, members=[(ids[0], 0.1), (ids[1], None)], split="dev")
    st.seal_version("geo", run_id=None, members=[(ids[2], 0.5)])
    v3 = st.rollback("geo", 1)
    assert v3.version == 3 and v3.content_hash == v1.content_hash and v3.row_count == 2
    assert st.describe("geo", 3)["members_hash"] == st.describe("geo", 1)["members_hash"]
    assert st.query("SELECT example_id, score, split FROM dataset_rows('geo', 'latest')")[1] == \
        st.query("SELECT example_id, score, split FROM dataset_rows('geo', 1)")[1]
    meta = st.describe("geo", "latest")
    assert meta["operation"] == "rollback" and meta["derived_from"] == [v1.version_id]
    assert meta["parent_id"] == st.resolve("geo", 2).version_id and meta["message"] == "rollback to geo@1"
    assert [v.version for v in st.versions("geo")] == [1, 2, 3]  # history kept
    with pytest.raises(VersionNotFound):
        st.rollback("geo", 9)


# -- diff ------------------------------------------------------------------------------------


def test_diff_on_hand_built_versions(st: Store) -> None:
    base = [make_example(i) for i in range(6)]
    reworded = make_example(1, wording=" Please.")     # same task key as base[1]
    reworded4 = make_example(4, wording=" Thanks.")    # same task key as base[4]
    new = make_example(7)
    save(st, "r1", "geo", [*base, reworded, reworded4, new])
    b = [e.example_id for e in base]
    st.seal_version("geo", run_id=None, members=[(b[0], 0.5), (b[1], 0.5), (b[2], 0.5), (b[3], 0.5),
                                                  (b[4], 0.5)])
    st.seal_version("geo", run_id=None, members=[
        (b[0], 0.5),                      # unchanged
        (reworded.example_id, 0.5),       # changed: base[1] reworded
        (b[2], 0.9),                      # changed in place: score moved
        # base[3] removed
        (reworded4.example_id, 0.5),      # changed: base[4] reworded
        (new.example_id, 0.1),            # added
    ])
    d = st.diff(("geo", 1), ("geo", 2))
    assert (d.added, d.removed, d.changed, d.unchanged) == (1, 1, 3, 1)
    cols, rows = st.query("SELECT * FROM dataset_diff('geo', 1, 2)")
    assert tuple(cols) == CONTRACT_COLUMNS["dataset_diff"]
    got = {(r[0], r[2], r[3]) for r in rows}
    assert got == {
        ("added", None, new.example_id),
        ("removed", b[3], None),
        ("changed", b[1], reworded.example_id),
        ("changed", b[2], b[2]),
        ("changed", b[4], reworded4.example_id),
    }
    by_b = {r[3]: dict(zip(cols, r, strict=True)) for r in rows}
    assert by_b[reworded.example_id]["task_key"] == base[1].task_key
    assert by_b[reworded.example_id]["user_request_a"] == base[1].task.user_request
    assert by_b[reworded.example_id]["user_request_b"] == reworded.task.user_request
    assert (by_b[b[2]]["score_a"], by_b[b[2]]["score_b"]) == (0.5, 0.9)
    assert sorted(d.rows) == sorted(rows) and d.columns == list(cols)
    # the other way round, and against itself
    back = st.diff(("geo", 2), ("geo", 1))
    assert (back.added, back.removed, back.changed) == (1, 1, 3)
    same = st.query("SELECT count(*) FROM dataset_diff('geo', 'latest', 2)")[1]
    assert same == [(0,)]
    assert st.diff(("geo", 1), ("geo", 2), limit=0).rows == []


def test_diff_pairs_several_rows_of_one_task_key(st: Store) -> None:
    a1, a2, a3 = (make_example(1, wording=w) for w in ("", " A", " B"))
    b1 = make_example(1, wording=" C")
    save(st, "r1", "geo", [a1, a2, a3, b1])
    st.seal_version("geo", run_id=None, members=[(a1.example_id, 1.0), (a2.example_id, 1.0)])
    st.seal_version("geo", run_id=None, members=[(a3.example_id, 1.0), (b1.example_id, 1.0)])
    d = st.diff(("geo", 1), ("geo", 2))
    assert (d.added, d.removed, d.changed, d.unchanged) == (0, 0, 2, 0)


def test_diff_of_a_derived_dataset_and_bad_refs(st: Store) -> None:
    _three_kinds(st)
    st.derive("geo", 1, where="kind = 'single'", into="singles")
    d = st.diff(("geo", 1), ("singles", 1))
    assert (d.added, d.removed, d.changed, d.unchanged) == (0, 3, 0, 3)
    with pytest.raises(VersionNotFound, match="geo@7 names no version"):
        st.diff(("geo", 1), ("geo", 7))


# -- time travel -------------------------------------------------------------------------------


def test_time_travel_by_timestamp(st: Store) -> None:
    ids = [e.example_id for e in seed(st)]
    v1 = st.seal_version("geo", run_id=None, members=[(ids[0], None)])
    time.sleep(0.01)
    v2 = st.seal_version("geo", run_id=None, members=[(ids[0], None), (ids[1], None)])
    time.sleep(0.01)
    v3 = st.seal_version("geo", run_id=None, members=[(ids[2], None)])
    after1 = v1.created_at + (v2.created_at - v1.created_at) / 2
    for moment, expected in ((v1.created_at, v1), (after1, v1), (v2.created_at, v2),
                             (v3.created_at + dt.timedelta(days=1), v3)):
        iso = moment.isoformat()
        assert st.resolve("geo", iso).version_id == expected.version_id
        assert st.resolve("geo", moment).version_id == expected.version_id
        _, rows = st.query("SELECT count(*) FROM dataset_rows('geo', ?)", [iso])
        assert rows == [(expected.row_count,)]
    # Z and other zones, a naive time (UTC), and a date (its midnight)
    z = (v2.created_at + dt.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert st.resolve("geo", z).version == 2
    plus2 = (v2.created_at.astimezone(dt.timezone(dt.timedelta(hours=2)))).isoformat()
    assert st.resolve("geo", plus2).version == 2
    naive = v3.created_at.replace(tzinfo=None).isoformat()
    assert st.resolve("geo", naive).version == 3
    tomorrow = (v3.created_at + dt.timedelta(days=1)).date().isoformat()
    assert st.resolve("geo", tomorrow).version == 3
    assert st.query("SELECT resolve_version('geo', ?)", [tomorrow])[1] == [(v3.version_id,)]
    with pytest.raises(VersionNotFound, match="the first version of 'geo' was sealed at"):
        st.resolve("geo", "2001-01-01T00:00:00Z")
    assert st.query("SELECT count(*) FROM dataset_rows('geo', '2001-01-01')")[1] == [(0,)]
    with pytest.raises(ConfigError, match="bad timestamp"):
        st.resolve("geo", "2026-13-45")
    with pytest.raises(ConfigError, match="starts like a date"):
        st.tag("geo", 1, "2026-01-01")


# -- lineage -------------------------------------------------------------------------------------


def test_lineage_goes_from_an_example_to_its_observations_run_and_versions(st: Store) -> None:
    st.start_run("r1", "geo", {"seed": 1}, {"judge": "j"}, rubric_hash="h" * 32, flow_run_id="f1")
    examples = [make_example(i) for i in range(2)]
    save(st, "r1", "geo", examples)
    st.seal_version("geo", run_id="r1", members=[(e.example_id, 0.5) for e in examples])
    st.derive("geo", 1, where=f"example_id = '{examples[0].example_id}'", into="picked")
    cols, rows = st.query("SELECT * FROM lineage(?)", [examples[0].example_id])
    assert tuple(cols) == CONTRACT_COLUMNS["lineage"]
    (row,) = (dict(zip(cols, r, strict=True)) for r in rows)
    step = examples[0].trace.steps[0]
    assert row["example_id"] == examples[0].example_id and row["step"] == 0
    assert row["observation_id"] == step.observation_id and row["tool"] == "country_info"
    assert json.loads(row["arguments"]) == {"code": "C0"} and json.loads(row["output"])["capital"] == "City0"
    assert (row["run_id"], row["flow_run_id"], row["rubric_hash"]) == ("r1", "f1", "h" * 32)
    assert json.loads(row["models"]) == {"judge": "j"} and row["status"] == "accepted"
    assert row["config_hash"] == content_hash({"seed": 1})
    assert row["versions"] == ["geo@1", "picked@1"]
    assert row["version_ids"] == [st.resolve("geo", 1).version_id, st.resolve("picked", 1).version_id]
    assert st.query("SELECT * FROM lineage('no-such-example')")[1] == []
