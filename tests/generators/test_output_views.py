"""Views in the record (issue 17): raw output, view and parser id; replay on views; leaves of views.

Real parts: Python toolsets whose functions return text or JSON, the CallRecorder, replay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from generators import (
    CallRecorder,
    PythonToolset,
    answer_candidates,
    iter_leaves,
    raw_output,
    view_as,
    viewed_outcome,
)
from generators._explore import iter_scalars
from generators._outputs import upgrade_cached
from schemas import ArgumentSource, Observation, Step, Trace, content_hash, tool_output_text
from validators import replay_steps

_USER = {"q": ArgumentSource(origin="user", how="seed")}


def _observe(toolset: PythonToolset, tool: str, args: dict[str, Any]) -> Observation:
    return asyncio.run(CallRecorder().call(toolset.name, toolset, tool, args, purpose="explore", timeout=10))


def test_plain_json_keeps_its_id_and_text_gets_raw_and_parser() -> None:
    plain = viewed_outcome(raw_output(structured={"city": "Paris", "rows": [1, 2]}))
    assert (plain.output, plain.raw, plain.parser) == ({"city": "Paris", "rows": [1, 2]}, None, None)
    obs = Observation(toolset="t", tool="x", arguments={}, output=plain.output, started_at=dt.datetime.now(dt.UTC))
    assert obs.observation_id == content_hash([obs.call_key, obs.output, False, None])  # as before views
    text = viewed_outcome(raw_output(["city: Paris\npopulation: 2102650"]))
    assert text.output == {"city": "Paris", "population": 2102650} and text.parser == "kv/1"
    assert text.raw == {"text": ["city: Paris\npopulation: 2102650"]}
    # Structured content that only wraps the text gives way to the text: same view, shorter pointers.
    wrapped = viewed_outcome(raw_output(["| a | b |\n|---|---|\n| 1 | 2 |"], {"result": "| a | b |\n|---|---|\n| 1 | 2 |"}))
    assert wrapped.parser == "markdown-table/1" and wrapped.output["rows"] == [{"a": 1, "b": 2}]
    # An envelope in text and the inner object structured: the structured content is the view.
    inner = viewed_outcome(raw_output(['{"ok": true, "result": {"value": 3}}'], {"value": 3}))
    assert inner.output == {"value": 3} and inner.parser is None


def test_failure_text_with_no_error_flag_is_an_inferred_error() -> None:
    out = viewed_outcome(raw_output(["Invalid arguments: min_value must be <= max_value"]))
    assert out.is_error and out.error_inferred and out.error.startswith("Invalid arguments")
    ok = viewed_outcome(raw_output(["Error rate: 3%\nSamples: 120"]))  # a field named error is not a failure
    assert not ok.is_error


def test_a_step_shows_the_tools_text_and_pointers_address_its_view() -> None:
    def stock(q: str) -> str:
        """Stock as a markdown table."""
        return "| item | qty |\n|---|---|\n| tea | 3 |\n| mugs | 12 |"

    toolset = PythonToolset([stock], default_side_effect="read")
    obs = _observe(toolset, "stock", {"q": "all"})
    step = Step.from_observation(obs, _USER)
    assert step.parser == "markdown-table/1" and step.output["rows"][1] == {"item": "mugs", "qty": 12}
    assert tool_output_text(step) == "| item | qty |\n|---|---|\n| tea | 3 |\n| mugs | 12 |"
    pointers = [p.pointer for p in answer_candidates(Trace(steps=[step]))]
    assert "/rows/1/qty" in pointers and not any(p.startswith("/columns") for p in pointers)


def test_leaves_of_views_are_values_not_scaffolding() -> None:
    spans = {"text": "Commit 9f86d0818 on 2024-03-01", "spans": [
        {"kind": "hash", "text": "9f86d0818", "value": "9f86d0818", "start": 7, "end": 16},
        {"kind": "date", "text": "2024-03-01", "value": "2024-03-01", "start": 20, "end": 30}]}
    assert [(leaf.pointer, leaf.key, leaf.kind) for leaf in iter_leaves(spans)] == [
        ("/spans/0/value", "hash", "hash"), ("/spans/1/value", "date", "date")]
    assert list(iter_scalars({"value": 212.0, "kind": "number"})) == [("/value", "value", 212.0)]
    table = {"columns": ["id", "name"], "rows": [{"id": 7, "name": "tea"}]}
    assert [leaf.pointer for leaf in iter_leaves(table)] == ["/rows/0/id", "/rows/0/name"]
    [qualified] = [leaf.qualified for leaf in iter_leaves({"items": [{"id": 3}]})]
    assert qualified == "item_id"
    # A one-value output is an answer: its /value.
    step = Step(toolset="t", tool="x", arguments={}, sources={}, observation_id="o",
                output={"value": 360, "kind": "number"}, raw={"text": ["360"]}, parser="scalar/1")
    assert [p.pointer for p in answer_candidates(Trace(steps=[step]))] == ["/value"]


def test_replay_rederives_with_the_recorded_parser_and_names_a_change_of_shape() -> None:
    state = {"text": "| item | qty |\n|---|---|\n| tea | 3 |"}

    def board(q: str) -> str:
        """A stock board."""
        return state["text"]

    toolset = PythonToolset([board], name="board", default_side_effect="read")
    step = Step.from_observation(_observe(toolset, "board", {"q": "x"}), _USER)
    report = asyncio.run(replay_steps({"board": toolset}, [step], min_age=0))
    assert [r.same for r in report.results.values()] == [True]
    state["text"] = "Closed for stocktaking."
    report = asyncio.run(replay_steps({"board": toolset}, [step], min_age=0))
    [result] = report.results.values()
    assert result.differing == ("/",) and "the output changed shape" in (result.error or "")


def test_view_as_reads_a_fresh_output_by_the_recorded_parser() -> None:
    fresh = viewed_outcome(raw_output(["a,b\n1,2\n3,4"]))
    assert view_as(fresh.parser, fresh.output, fresh.raw) == fresh.output
    assert view_as("text-spans/1", fresh.output, fresh.raw)["text"] == "a,b\n1,2\n3,4"
    plain = viewed_outcome(raw_output(structured={"a": 1}))
    assert view_as(None, plain.output, plain.raw) == {"a": 1}


def test_a_call_cached_before_views_is_read_as_a_new_one_would_be() -> None:
    old = {"toolset": "t", "tool": "x", "arguments": {}, "output": "数值: 360\n是否素数: 否", "is_error": False,
           "error": None, "latency_ms": 1.0, "started_at": "2024-01-01T00:00:00Z"}
    new = Observation.model_validate(upgrade_cached(old))
    assert new.parser == "kv/1" and new.output == {"数值": 360, "是否素数": "否"} and new.raw == {"text": [old["output"]]}
    plain = {**old, "output": {"a": 1}}
    assert upgrade_cached(plain) is plain
