"""m009 (issue 17): observations keep their raw output, the view's parser and inferred errors.

Real parts: the shipped m001 database file upgraded in place, and new observations stored and
read back through the Store API.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from schemas import Observation
from store import CONTRACT_COLUMNS, MIGRATIONS, Store
from store import _migrations as migrations_module

FIXTURES = Path(__file__).parent / "fixtures"


def test_m009_reads_old_rows_as_plain_json_and_stores_views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "old.duckdb"
    shutil.copyfile(FIXTURES / "m001.duckdb", db)
    monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS[:8])  # the file as m008 left it
    with Store(db) as s:
        before = s.query("SELECT observation_id, output FROM obs_rows ORDER BY observation_id")[1]
    monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS)
    with Store(db) as s:
        assert s.query("SELECT name FROM _migrations WHERE version = 9")[1] == [("m009_output_views",)]
        cols, rows = s.query("SELECT * FROM observations LIMIT 1")
        assert tuple(cols) == CONTRACT_COLUMNS["observations"]
        old = s.query("SELECT observation_id, output, raw, parser, error_inferred FROM observations "
                      "ORDER BY observation_id")[1]
        assert [(r[0], r[1]) for r in old] == before and before  # nothing rewritten
        assert {(r[2], r[3], r[4]) for r in old} == {(None, None, False)}  # old rows read as plain JSON
        # An old row read back is the observation it was: same id, no view fields.
        first = next(iter(s.iter_observations()))
        assert first.parser is None and first.raw is None and first.observation_id in {r[0] for r in before}
        viewed = Observation(toolset="t", tool="board", arguments={"q": 1}, output={"value": 360, "kind": "number"},
                             raw={"text": ["360"]}, parser="scalar/1", started_at=dt.datetime.now(dt.UTC))
        failed = Observation(toolset="t", tool="board", arguments={"q": 2}, output={"text": "Error: no", "spans": []},
                             raw={"text": ["Error: no"]}, parser="text-spans/1", is_error=True, error="Error: no",
                             error_inferred=True, started_at=dt.datetime.now(dt.UTC))
        s.save_observations([viewed, failed], "run-1")
        _, rows = s.query("SELECT output, raw, parser, error_inferred FROM observations WHERE run_id = 'run-1' "
                          "ORDER BY parser")
        assert [(json.loads(o), json.loads(r), p, e) for o, r, p, e in rows] == [
            ({"value": 360, "kind": "number"}, {"text": ["360"]}, "scalar/1", False),
            ({"text": "Error: no", "spans": []}, {"text": ["Error: no"]}, "text-spans/1", True)]
        back = {o.observation_id: o for o in s.iter_observations(["t"])}
        assert back[viewed.observation_id] == viewed and back[failed.observation_id].error_inferred
