"""Dedup and the diversity report, with the real all-MiniLM-L6-v2 model (no mocks).

The model loads once per process (validators/_diversity.py caches it), so every
test here after the first pays only for encoding. Similarities quoted in
comments were measured with this model on CPU.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas import Answer, AnswerPointer, ArgumentSource, Example, Step
from tests.validators._examples import country_step, example, step, timezone_step
from validators import (
    DEFAULT_DEDUP_THRESHOLD,
    dedup,
    diversity_report,
    duplicate_judgement,
    load_rubric,
    trace_text,
)

USER = ArgumentSource(origin="user", how="seed")

FACTS = [
    ("France", "Paris", "EUR"), ("Japan", "Tokyo", "JPY"), ("Brazil", "Brasilia", "BRL"),
    ("Germany", "Berlin", "EUR"), ("Kenya", "Nairobi", "KES"), ("Canada", "Ottawa", "CAD"),
    ("India", "New Delhi", "INR"), ("Mexico", "Mexico City", "MXN"), ("Egypt", "Cairo", "EGP"),
    ("Norway", "Oslo", "NOK"), ("Peru", "Lima", "PEN"), ("Thailand", "Bangkok", "THB"),
]


def country_fact(country: str, request: str, *, field: str = "capital", capital: str = "Paris",
                 currency: str = "EUR") -> Example:
    """A single country_info call whose answer is the capital or the currency."""
    output = {"name": country, "capital": capital, "currencies": [currency]}
    pointer, value = ("/capital", capital) if field == "capital" else ("/currencies/0", currency)
    return example(
        request=request, kind="single", user_values={"country": country},
        steps=[step("country_info", {"country": country}, {"country": USER}, output)],
        ans=Answer(pointers=[AnswerPointer(step=0, pointer=pointer)], value=value),
        final_message=f"It is {value}.",
    )


def convert(value: float, unit: str, to_unit: str, request: str) -> Example:
    args = {"value": value, "unit": unit, "to_unit": to_unit}
    return example(
        request=request, kind="single", user_values=args,
        steps=[step("convert_units", args, {p: USER for p in args}, {"value": 1.0, "unit": to_unit})],
        ans=Answer(pointers=[AnswerPointer(step=0, pointer="/value")], value=1.0),
        final_message="It is 1.0.",
    )


def ids(examples: list[Example]) -> list[str]:
    return [e.example_id for e in examples]


# -- dedup -------------------------------------------------------------------------------


def test_dedup_removes_planted_paraphrases_and_keeps_distinct_questions() -> None:
    first = country_fact("France", "What's the capital of France?")
    paraphrases = [
        country_fact("France", "Which city is the capital of France?"),   # 0.945 to the first
        country_fact("France", "Tell me France's capital city."),         # 0.903
    ]
    # Same user values, different questions: compared, and kept.
    distinct = [
        country_fact("France", "What currency does France use?", field="currency"),
        country_fact("France", "What is the population of France?", capital="68042591"),
        country_fact("France", "What time zone is the capital of France in?", capital="Europe/Paris"),
    ]
    batch = [first, *paraphrases, *distinct]

    kept, removed = dedup(batch, threshold=0.90)
    assert ids(kept) == ids([first, *distinct])
    assert {r for r, _, _ in removed} == set(ids(paraphrases))
    assert all(k == first.example_id and 0.90 <= sim < 1.0 for _, k, sim in removed)

    # The default is stricter: only the closer paraphrase goes (see the module docstring).
    kept, removed = dedup(batch)
    assert DEFAULT_DEDUP_THRESHOLD == 0.92
    assert [r for r, _, _ in removed] == [paraphrases[0].example_id]
    assert removed[0][2] > 0.92


def test_requests_with_different_values_are_never_near_duplicates() -> None:
    # 0.993 for the model: it barely sees which unit comes first. The values differ.
    there = convert(10, "mile", "kilometer", "Convert 10 miles to kilometers.")
    back = convert(10, "kilometer", "mile", "Convert 10 kilometers to miles.")
    kept, removed = dedup([there, back], threshold=0.5)
    assert ids(kept) == ids([there, back]) and removed == []


def test_exact_duplicates_go_first_whatever_the_values() -> None:
    a = country_fact("France", "What's the capital of France?")
    same_text = country_fact("FR", "  what's the CAPITAL of France ")
    kept, removed = dedup([a, same_text, a])  # the same record twice is one record
    assert ids(kept) == [a.example_id]
    assert removed == [(same_text.example_id, a.example_id, 1.0)]


def test_the_higher_score_is_kept_and_the_result_is_deterministic() -> None:
    a = country_fact("France", "What's the capital of France?")
    b = country_fact("France", "Which city is the capital of France?")
    kept, removed = dedup([a, b], scores=[0.0, 1.0])
    assert ids(kept) == [b.example_id]
    assert [(r, k) for r, k, _ in removed] == [(a.example_id, b.example_id)]
    assert dedup([a, b], scores=[0.0, 1.0]) == (kept, removed)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        dedup([], threshold=threshold)


def test_a_duplicate_is_a_rejected_candidate_that_names_the_kept_example(tmp_path: Path) -> None:
    """Through the flow's stage and into the store: nothing is dropped silently."""
    from flows import _stages
    from flows._config import RunConfig
    from store import Store

    a = country_fact("France", "What's the capital of France?")
    b = country_fact("France", "Which city is the capital of France?")
    kept, removed = asyncio.run(_stages.dedup([a, b], RunConfig()))
    assert ids(kept) == [a.example_id]
    assert asyncio.run(_stages.dedup([a, b], RunConfig(dedup_threshold=0))) == ([a, b], [])

    rubric = load_rubric("default")
    (gone, kept_id, sim), = removed
    judgement = duplicate_judgement(b, kept_id, sim, rubric)
    assert judgement.status == "rejected" and judgement.score is None
    assert judgement.reason == f"near_duplicate: of {a.example_id} (cosine {sim:.2f})"
    with Store(tmp_path / "t.duckdb") as store:
        store.start_run("r1", "default", {}, {})
        store.save_candidates("r1", "default", [(b, judgement)])
        _, rows = store.query("SELECT example_id, status, reason FROM candidates")
    assert rows == [(b.example_id, "rejected", judgement.reason)]


# -- the report --------------------------------------------------------------------------


def test_the_report_counts_tools_edges_shapes_and_kinds() -> None:
    chain = example()  # country_info -> timezone_at, latitude and longitude from step 0
    single = country_fact("Japan", "What is the capital of Japan?", capital="Tokyo")
    parallel_steps: list[Step] = [
        country_step(country="Kenya"),
        timezone_step(sources={"latitude": USER, "longitude": USER}),
    ]
    parallel = example(request="What is Kenya's capital, and which time zone is at 48.8566, 2.3522?",
                       kind="parallel", steps=parallel_steps, user_values={"country": "Kenya"})
    no_call = example(request="What is 2 plus 3?", kind="no_call", steps=[], ans=None,
                      user_values={}, final_message="5")
    report = diversity_report([chain, single, parallel, no_call])

    assert report.examples == 4
    assert report.tools == {"country_info": 3, "timezone_at": 2} and report.distinct_tools == 2
    # Only the chain feeds an output into a later call; the parallel calls are independent.
    assert report.edges == {"country_info>timezone_at": 1} and report.distinct_edges == 1
    assert report.shapes == {"(no call)": 1, "country_info": 1, "country_info>timezone_at": 2}
    assert report.kinds == {"multi_step": 1, "no_call": 1, "parallel": 1, "single": 1}
    assert report.writers == {"template": 4}
    assert report.request_spread is not None and 0 < report.request_spread <= 2
    # Three traces with steps: too few for a verdict, but the numbers are there.
    assert report.collapse.requests == 3 and report.collapse.collapsed is None
    assert json.loads(json.dumps(report.to_json()))["edges"] == report.edges
    assert "country_info>timezone_at" in report.render()


def test_trace_text_names_the_calls_arguments_and_answer() -> None:
    text = trace_text(example())
    assert text.startswith("country info: country France")
    assert "timezone at: latitude 48.8566; longitude 2.3522" in text
    assert text.endswith("answer: Europe/Paris")


def test_template_collapse_is_flagged_when_requests_ignore_their_traces() -> None:
    same = [country_fact(c, "Can you look this up for me?", capital=cap) for c, cap, _ in FACTS]
    report = diversity_report(same)
    c = report.collapse
    assert c.distinct_traces == len(FACTS) and c.collapsed is True
    assert c.mrr is not None and c.chance_mrr is not None and c.mrr < c.threshold
    assert c.not_top1_share is not None and c.not_top1_share > 0.5
    assert report.request_spread == 0.0


def test_varied_requests_that_depend_on_their_traces_are_not_collapsed() -> None:
    varied = [
        country_fact(c, f"What is the capital of {c}?", capital=cap) if i % 2 else
        country_fact(c, f"Which currency is used in {c}?", field="currency", capital=cap, currency=cur)
        for i, (c, cap, cur) in enumerate(FACTS)
    ]
    c = diversity_report(varied).collapse
    assert c.collapsed is False
    assert c.mrr is not None and c.mrr > 0.9 and c.chance_mrr is not None and c.chance_mrr < 0.3


# -- the command -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version from a real run of the embedded default (no model; about 10 s)."""
    from flows import run_pipeline
    from flows._config import RunConfig
    from flows._report import Reporter

    db = tmp_path_factory.mktemp("diversity") / "run.duckdb"
    summary = asyncio.run(run_pipeline(RunConfig(examples=6, no_model=True, seed=1), db, Reporter(quiet=True)))
    assert summary.version is not None and summary.version.row_count > 0
    return db


def test_diversity_command_reports_a_sealed_version(sealed_db: Path) -> None:
    from flows.cli import app
    from store import Store

    runner = CliRunner()
    result = runner.invoke(app, ["diversity", "default@latest", "--db", str(sealed_db), "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    with Store(sealed_db, read_only=True) as store:
        info = store.resolve("default")
        examples = [e for e, _, _ in store.iter_examples(info.version_id)]
    assert data["dataset"] == "default" and data["version"] == info.version
    assert data["examples"] == info.row_count == len(examples)
    assert data["tools"] == diversity_report(examples).tools and data["distinct_tools"] > 0
    assert set(data["collapse"]) >= {"mrr", "chance_mrr", "not_top1_share", "collapsed", "threshold"}

    text = runner.invoke(app, ["diversity", "default@1", "--db", str(sealed_db)])
    assert text.exit_code == 0 and "template collapse:" in text.stdout and "chain shapes:" in text.stdout

    missing = runner.invoke(app, ["diversity", "default@99", "--db", str(sealed_db)])
    assert missing.exit_code == 1 and "default@99" in missing.output
