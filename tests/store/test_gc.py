"""Retention: gc expires untagged versions beyond N, then collects unreferenced rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import ConfigError, Example, VersionNotFound
from store import CONTRACT_COLUMNS, Store

from ._builders import file_digest, make_example, make_judgement, make_obs

TABLES = ("version_rows", "member_rows", "candidate_rows", "example_rows", "leaf_rows", "obs_rows",
          "run_rows", "tag_rows", "tool_rows", "reply_cache")


def counts(s: Store) -> dict[str, int]:
    return {t: s.query(f"SELECT count(*) FROM {t}")[1][0][0] for t in TABLES}


def run(s: Store, run_id: str, accepted: list[Example], rejected: list[Example] = (),  # type: ignore[assignment]
        dataset: str = "geo", finish: bool = True) -> None:
    """A run that judged these examples and sealed the accepted ones."""
    s.start_run(run_id, dataset, {"run": run_id}, {"judge": "j"})
    everything = [*accepted, *rejected]
    s.save_observations([make_obs(int(e.task.user_values["code"][1:])) for e in everything], run_id)
    s.save_candidates(run_id, dataset, [(e, make_judgement(e)) for e in accepted]
                      + [(e, make_judgement(e, "rejected", "leaks")) for e in rejected])
    s.seal_version(dataset, run_id=run_id, members=[(e.example_id, 0.9) for e in accepted])
    if finish:
        s.finish_run(run_id, status="completed", stats={})


@pytest.fixture
def history(st: Store) -> dict[str, Example]:
    """geo@1..4 from runs r1..r4; geo@2 is tagged prod. Examples by name."""
    ex = {
        "e0": make_example(0), "e1": make_example(1), "rej": make_example(9),
        "e2": make_example(2), "e3": make_example(3),
        "e0b": make_example(0, wording=" again"),  # a later example built on r1's observation 0
    }
    run(st, "r1", [ex["e0"], ex["e1"]], [ex["rej"]])
    run(st, "r2", [ex["e1"], ex["e2"]])
    st.tag("geo", 2, "prod")
    run(st, "r3", [ex["e3"]])
    run(st, "r4", [ex["e0b"]])
    return ex


def test_dry_run_lists_what_would_go_and_changes_nothing(db: Path, history: dict[str, Example], st: Store) -> None:
    before = counts(st)
    report = st.gc(keep_last=1, dry_run=True)
    assert report.dry_run and counts(st) == before
    assert [(v.dataset, v.version) for v in report.expired] == [("geo", 1), ("geo", 3)]
    assert report.collected == {"candidate_rows": 2, "example_rows": 2, "leaf_rows": 4, "obs_rows": 1}
    assert report.member_rows == 3
    st.close()
    digest = file_digest(db)
    with Store(db, read_only=True) as ro:  # a dry run works on a read-only store
        assert ro.gc(keep_last=1, dry_run=True) == report
    assert file_digest(db) == digest


def test_gc_expires_untagged_versions_then_collects_exactly_the_unreferenced_rows(
    st: Store, history: dict[str, Example]
) -> None:
    ex = history
    v2, v4 = st.resolve("geo", 2), st.resolve("geo", 4)
    v1_time = st.resolve("geo", 1).created_at
    before = counts(st)
    report = st.gc(keep_last=1)
    assert not report.dry_run and [v.version for v in report.expired] == [1, 3]
    after = counts(st)
    assert {t: before[t] - after[t] for t in TABLES} == {
        "version_rows": 2, "member_rows": 3, "candidate_rows": 2, "example_rows": 2, "leaf_rows": 4,
        "obs_rows": 1, "run_rows": 0, "tag_rows": 0, "tool_rows": 0, "reply_cache": 0,
    }
    # kept: the tagged version and the latest, intact
    assert [v.version for v in st.versions("geo")] == [2, 4]
    assert st.verify(v2.version_id) and st.verify(v4.version_id)
    assert st.resolve("geo", "prod").version_id == v2.version_id
    # collected: r1's example e0 (only in the expired geo@1) and its rejected candidate, their
    # leaves, and the observation only the rejected one used; e1 stays (geo@2 holds it) and so
    # does observation 0, which the kept geo@4 example was built from
    _, left = st.query("SELECT example_id FROM example_rows")
    assert {r[0] for r in left} == {ex[k].example_id for k in ("e1", "e2", "e3", "e0b")}
    _, obs = st.query("SELECT observation_id FROM obs_rows")
    assert {r[0] for r in obs} == {make_obs(i).observation_id for i in (0, 1, 2, 3)}
    _, cands = st.query("SELECT run_id, example_id FROM candidate_rows ORDER BY ALL")
    assert ("r1", ex["e1"].example_id) in cands and len(cands) == 5
    # r3 started after the oldest kept version: its rows stay though geo@3 expired
    assert st.query("SELECT count(*) FROM candidates WHERE run_id = 'r3'")[1] == [(1,)]
    # every kept example can still be read, and lineage still reaches its observations
    _, rows = st.query("SELECT observation_id, run_id FROM lineage(?)", [ex["e0b"].example_id])
    assert rows == [(make_obs(0).observation_id, "r4")]
    # tombstones: references to expired versions say so
    cols, gone = st.query("SELECT * FROM expired_versions ORDER BY version")
    assert tuple(cols) == CONTRACT_COLUMNS["expired_versions"] and [g[1] for g in gone] == [1, 3]
    with pytest.raises(VersionNotFound, match="geo@1 was expired by backchain gc"):
        st.resolve("geo", 1)
    with pytest.raises(VersionNotFound, match=r"latest then \(geo@1\) was expired by backchain gc"):
        st.resolve("geo", v1_time.isoformat())
    assert st.query("SELECT count(*) FROM dataset_rows('geo', ?)", [v1_time.isoformat()])[1] == [(0,)]
    # a second gc has nothing left to do; new versions continue the numbering
    again = st.gc(keep_last=1)
    assert again.expired == [] and set(again.collected.values()) == {0}
    assert st.rollback("geo", 2).version == 5


def test_gc_never_expires_tagged_versions_or_the_latest(st: Store) -> None:
    examples = [make_example(i) for i in range(6)]
    for i, e in enumerate(examples):
        run(st, f"r{i}", [e])
        if i % 2 == 0:
            st.tag("geo", i + 1, f"keep{i}")
    report = st.gc(keep_last=1)
    assert [v.version for v in report.expired] == [2, 4]
    assert [v.version for v in st.versions("geo")] == [1, 3, 5, 6]
    assert all(st.verify(v.version_id) for v in st.versions())
    with pytest.raises(ConfigError, match="keep at least 1"):
        st.gc(keep_last=0)
    with pytest.raises(ConfigError, match="bad dataset name"):
        st.gc(dataset="bad name")


def test_gc_keeps_the_newest_n_and_is_scoped_by_dataset(st: Store) -> None:
    for i in range(4):
        run(st, f"g{i}", [make_example(i)])
        run(st, f"o{i}", [make_example(10 + i)], dataset="other")
    report = st.gc(keep_last=2, dataset="geo")
    assert [(v.dataset, v.version) for v in report.expired] == [("geo", 1), ("geo", 2)]
    assert [v.version for v in st.versions("other")] == [1, 2, 3, 4]
    assert report.collected["candidate_rows"] == 2  # g0 and g1: before geo@3 was sealed
    assert st.query("SELECT count(*) FROM candidates WHERE dataset = 'other'")[1] == [(4,)]


def test_gc_never_touches_a_run_still_marked_running(st: Store) -> None:
    stuck = make_example(5)
    run(st, "crashed", [stuck], finish=False)  # status stays 'running'
    for i in range(3):
        run(st, f"r{i}", [make_example(i)])
    report = st.gc(keep_last=1)
    assert [v.version for v in report.expired] == [1, 2, 3]
    assert st.query("SELECT count(*) FROM candidates WHERE run_id = 'crashed'")[1] == [(1,)]
    assert st.query("SELECT count(*) FROM example_rows WHERE example_id = ?", [stuck.example_id])[1] == [(1,)]
