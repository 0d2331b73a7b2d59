"""The version commands through typer's CliRunner: derive, merge, rollback, untag, diff, gc."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from store import Store

from ._builders import file_digest, make_example, save

runner = CliRunner()


def cli(db: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--db", str(db)])
    return result.exit_code, result.output


@pytest.fixture
def made(db: Path) -> dict[str, str]:
    """geo@1 (4 rows) and geo@2 (rows 1 and 2 kept, 2 reworded, 3 dropped, 4 added); ids by name."""
    base = [make_example(i, kind="multi_step" if i % 2 == 0 else "single") for i in range(5)]
    reworded = make_example(2, kind="multi_step", wording=" Please.")
    with Store(db) as s:
        save(s, "r1", "geo", [*base, reworded], scores=[0.2, 0.4, 0.6, 0.8, 0.9, 0.6])
        s.seal_version("geo", run_id="r1", members=[(e.example_id, (i + 1) / 5) for i, e in enumerate(base[:4])])
        s.seal_version("geo", run_id="r1", members=[(base[0].example_id, 0.2), (base[1].example_id, 0.4),
                                                    (reworded.example_id, 0.6), (base[4].example_id, 0.9)])
        s.tag("geo", 1, "prod")
    return {f"e{i}": e.example_id for i, e in enumerate(base)} | {"e2b": reworded.example_id}


def rows_of(db: Path, ref: str) -> list[str]:
    dataset, _, version = ref.partition("@")
    with Store(db, read_only=True) as s:
        return [r[0] for r in s.query("SELECT example_id FROM dataset_rows(?, ?)", [dataset, version])[1]]


def test_derive(db: Path, made: dict[str, str]) -> None:
    code, out = cli(db, "derive", "geo@1", "--where", "kind = 'multi_step' AND score > 0.5")
    assert code == 0, out
    assert out.strip() == "sealed geo@3: 1 of 4 rows of geo@1 where kind = 'multi_step' AND score > 0.5"
    assert rows_of(db, "geo@3") == [made["e2"]]
    code, out = cli(db, "derive", "geo@prod", "--where", "score <= 0.4", "--into", "low", "-m", "low ones")
    assert code == 0 and out.startswith("sealed low@1: 2 of 4 rows of geo@1")
    with Store(db, read_only=True) as s:
        meta = s.describe("low", 1)
    assert meta["message"] == "low ones" and meta["operation"] == "derive"
    assert meta["predicate"] == "score <= 0.4"


@pytest.mark.parametrize(
    ("where", "message"),
    [("score >", "could not parse"), ("1); DELETE FROM member_rows; SELECT (1", "not statements"),
     ("true) UNION ALL (SELECT 1", "reaches outside its parentheses")],
)
def test_derive_with_a_bad_predicate_is_one_line_and_stores_nothing(db: Path, made: dict[str, str],
                                                                    where: str, message: str) -> None:
    code, out = cli(db, "derive", "geo@1", "--where", where)
    assert code == 1 and message in out
    assert len(out.strip().splitlines()) == 1 and out.startswith("error:")
    with Store(db, read_only=True) as s:
        assert [v.version for v in s.versions("geo")] == [1, 2]
        assert s.query("SELECT count(*) FROM member_rows")[1] == [(8,)]


def test_merge(db: Path, made: dict[str, str]) -> None:
    code, out = cli(db, "merge", "geo@1", "geo@2", "--message", "both")
    assert code == 0, out
    assert out.strip() == "sealed geo@3: 6 rows, the union of geo@1 and geo@2"
    assert sorted(rows_of(db, "geo@3")) == sorted(made[k] for k in ("e0", "e1", "e2", "e3", "e4", "e2b"))
    with Store(db) as s:
        s.seal_version("rescored", run_id=None, members=[(made["e0"], 0.7), (made["e1"], 0.1)])
    code, out = cli(db, "merge", "geo@1", "rescored", "--into", "best")
    assert code == 0, out
    assert out.strip() == ("sealed best@1: 4 rows, the union of geo@1 and rescored; 2 example(s) in both "
                           "with different scores kept the higher")
    with Store(db, read_only=True) as s:
        scores = dict(s.query("SELECT example_id, score FROM dataset_rows('best', 1)")[1])
    assert (scores[made["e0"]], scores[made["e1"]]) == (0.7, 0.4)


def test_rollback(db: Path, made: dict[str, str]) -> None:
    code, out = cli(db, "rollback", "geo@prod")
    assert code == 0, out
    assert out.strip() == "sealed geo@3: 4 rows, the rows of geo@1 (geo@2 stays in the history)"
    assert rows_of(db, "geo@3") == rows_of(db, "geo@1")
    code, out = cli(db, "rollback", "geo@9")
    assert code == 1 and "geo@9 names no version" in out


def test_untag(db: Path, made: dict[str, str]) -> None:
    code, out = cli(db, "untag", "geo", "prod")
    assert (code, out.strip()) == (0, "removed tag prod from geo@1")
    code, out = cli(db, "untag", "geo", "prod")
    assert code == 1 and "has no tag 'prod'" in out and len(out.strip().splitlines()) == 1
    code, out = cli(db, "tag", "geo@1", "prod")  # the name is free again
    assert code == 0, out


def test_diff(db: Path, made: dict[str, str]) -> None:
    code, out = cli(db, "diff", "geo@1", "geo@latest")
    assert code == 0, out
    lines = out.splitlines()
    # e1: score 0.4 in both; e0: 0.2 -> 0.2; e3 removed; e2 reworded; e4 added; e1 0.4 -> 0.4
    assert lines[0] == "geo@1 -> geo@2: 1 added, 1 removed, 1 changed, 2 unchanged"
    table = "\n".join(lines[1:])
    assert "added" in table and "removed" in table and "changed" in table
    assert made["e2"][:12] in table and made["e2b"][:12] in table
    code, out = cli(db, "diff", "geo@1", "geo@2", "--format", "json")
    assert code == 0
    rows = json.loads(out[out.index("["):out.rindex("]") + 1])
    assert {(r["change"], r["example_id_a"], r["example_id_b"]) for r in rows} == {
        ("added", None, made["e4"]), ("removed", made["e3"], None), ("changed", made["e2"], made["e2b"])}


def test_refs_by_time_work_in_diff_derive_and_export(db: Path, made: dict[str, str], tmp_path: Path) -> None:
    with Store(db, read_only=True) as s:
        v1 = s.resolve("geo", 1)
    at = v1.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.01)
    code, out = cli(db, "diff", f"geo@{at}", "geo@2")
    assert code == 0 and out.startswith("geo@1 -> geo@2"), out
    code, out = cli(db, "derive", f"geo@{at}", "--where", "true", "--into", "then")
    assert code == 0 and "of geo@1 where true" in out, out
    code, out = cli(db, "export", f"geo@{at}", "--format", "trl-sft", "--out", str(tmp_path / "t.jsonl"))
    assert code == 0 and "4 rows of geo@1" in out, out
    code, out = cli(db, "diff", "geo@2001-01-01", "geo@2")
    assert code == 1 and "the first version of 'geo' was sealed at" in out


def test_gc_dry_run_then_for_real(db: Path, made: dict[str, str]) -> None:
    with Store(db) as s:
        s.rollback("geo", 2)
    digest = file_digest(db)
    code, out = cli(db, "gc", "--keep-last", "1", "--dry-run")
    assert code == 0, out
    assert out.splitlines()[0] == "would expire 1 version(s): geo@2 (4 rows)"
    assert out.splitlines()[1].startswith("would collect: candidate_rows 0, example_rows 0")
    assert file_digest(db) == digest
    code, out = cli(db, "gc", "--keep-last", "1", "--dataset", "geo")
    assert code == 0 and out.splitlines()[0] == "expired 1 version(s): geo@2 (4 rows)"
    with Store(db, read_only=True) as s:
        assert [v.version for v in s.versions("geo")] == [1, 3]  # prod and the latest
    code, out = cli(db, "gc", "--keep-last", "0")
    assert code == 1 and "keep at least 1" in out


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_gc_of_a_dataset_that_does_not_exist_is_an_error(db: Path, made: dict[str, str], dry_run: list[str]) -> None:
    digest = file_digest(db)
    code, out = cli(db, "gc", "--dataset", "nosuch", *dry_run)
    assert code == 1
    assert " ".join(out.split()) == ("error: gc --dataset nosuch: dataset 'nosuch' has no versions yet "
                                     "(datasets with versions: geo)")
    assert file_digest(db) == digest


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "ATTACH '/tmp/other.duckdb' AS other",
    "COPY (SELECT 1) TO '/tmp/backchain-leak.csv'",
    "SELECT count(*) FROM versions, read_json_auto('/etc/os-release')",
])
def test_sql_reads_the_project_database_only(db: Path, made: dict[str, str], query: str) -> None:
    code, out = cli(db, "sql", query)
    assert code == 1 and out.startswith("error: ") and len(out.strip().splitlines()) == 1
    assert "root:" not in out and not Path("/tmp/backchain-leak.csv").exists()
    code, out = cli(db, "sql", "SELECT count(*) AS n FROM versions", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 2}]


def test_derive_predicates_read_the_project_database_only(db: Path, made: dict[str, str]) -> None:
    digest = file_digest(db)
    code, out = cli(db, "derive", "geo@1", "--where", "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0")
    assert code == 1 and "disabled by configuration" in out and "root:" not in out
    assert file_digest(db) == digest


def test_commands_refuse_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    for args in (["derive", "geo", "--where", "true"], ["merge", "a", "b"], ["rollback", "geo@1"],
                 ["untag", "geo", "prod"], ["diff", "a", "b"], ["gc"]):
        code, out = cli(missing, *args)
        assert code == 1 and "no database at" in out, args
    assert not missing.exists()
