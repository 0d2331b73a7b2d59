"""Issue 18's proof, over a real default run: the pipeline on the built-in toolset and
mcp-server-time, every kind, no model (the template writer; the judge leaves are skipped).

- no accepted request or answer contains an identifier-like token that is not a value the
  user gives or a recorded output holds;
- no accepted row asks for a constant or an echo field;
- every no_call answer recomputes, over two values of one kind;
- distinct request skeletons (values masked) are at least 80% of the accepted rows;
- planted defects of each kind, made from the run's own accepted rows, are rejected.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generators import FieldStats
from generators._explore import iter_scalars
from schemas import Answer, AnswerPointer, Example
from validators import CHECKS, CheckContext, evaluate, load_rubric

IDENTIFIER = re.compile(r"(?<![\w/])(?:[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z]*|/[a-z_]+/[\w/*]+)"
                        r"|\bitem \d+\b")


@dataclass
class DefaultRun:
    db: Path
    accepted: list[Example]
    rejected: list[tuple[Example, str]]
    fields: FieldStats


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DefaultRun]:
    from flows import Reporter, RunConfig, run_pipeline
    from store import Store

    db = tmp_path_factory.mktemp("default-run") / "bc.duckdb"
    config = RunConfig(dataset="default", examples=24, no_model=True, seed=3)
    asyncio.run(run_pipeline(config, db, Reporter(quiet=True)))
    with Store(db, read_only=True) as store:
        info = store.resolve("default", "latest")
        accepted = [e for e, _, _ in store.iter_examples(info.version_id)]
        rows = store.con.execute(
            "SELECT e.body, c.reason FROM candidate_rows AS c JOIN example_rows AS e USING (example_id) "
            "WHERE c.status <> 'accepted'").fetchall()
        observations = store.con.execute(
            "SELECT toolset, tool, arguments, output, is_error FROM observations").fetchall()
    import json

    fields = FieldStats.from_outputs((ts, tool, json.loads(a), json.loads(o) if o else None, err)
                                     for ts, tool, a, o, err in observations)
    yield DefaultRun(db, accepted, [(Example.model_validate_json(b), r) for b, r in rows], fields)


def _allowed(example: Example) -> str:
    values = [str(v) for v in example.task.user_values.values()]
    values += [str(v) for s in example.trace.steps for _, _, v in iter_scalars(s.output)]
    values += [str(v) for s in example.trace.steps for _, _, v in iter_scalars(s.arguments)]
    return " ".join(values).casefold()


def test_the_default_run_builds_every_kind(default_run: DefaultRun) -> None:
    kinds = {e.task.kind for e in default_run.accepted}
    assert len(default_run.accepted) >= 12, [r for _, r in default_run.rejected]
    assert {"single", "multi_step", "parallel", "multi_turn", "no_call"} <= kinds, kinds


def test_no_identifier_like_token_is_written(default_run: DefaultRun) -> None:
    for e in default_run.accepted:
        allowed = _allowed(e)
        tools = {t.name for t in e.tools}
        for text in (e.task.user_request, e.task.final_message, *(t.content for t in e.task.dialogue)):
            for m in IDENTIFIER.finditer(text):
                assert m.group(0).casefold() in allowed, f"{m.group(0)!r} in {text!r}"
            for name in tools:
                assert not re.search(rf"\b{re.escape(name)}\b", text) or name.casefold() in allowed, (name, text)


def test_no_row_asks_for_a_constant_or_an_echo_field(default_run: DefaultRun) -> None:
    ctx = CheckContext(fields=default_run.fields)
    for e in default_run.accepted:
        for gate in ("constant_field", "echo_field", "worth_asking", "same_field_twice"):
            result = CHECKS[gate](e, ctx)
            assert result.passed, f"{gate}: {result.reason} ({e.task.user_request!r})"


def test_every_no_call_answer_recomputes_over_one_kind(default_run: DefaultRun) -> None:
    no_calls = [e for e in default_run.accepted if e.task.kind == "no_call"]
    assert no_calls
    for e in no_calls:
        keys = [k.split("@")[0] for k in e.task.user_values]
        assert len(keys) == 2 and keys[0] == keys[1], e.task.user_values
        assert CHECKS["no_call_arithmetic"](e, CheckContext()).passed, e.task.final_message


_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"


def skeleton(example: Example) -> str:
    """The request with every value masked: what stays is the phrasing."""
    text = example.task.user_request
    values = sorted({str(v) for v in example.task.user_values.values()}, key=len, reverse=True)
    for v in values:
        text = re.sub(re.escape(v), "<v>", text, flags=re.I)
    text = re.sub(rf"\b(?:{_MONTHS})\b", "<v>", text, flags=re.I)
    text = re.sub(r"[-+]?\d[\d,.:]*(?:\s?[ap]\.m\.)?", "<v>", text)
    text = re.sub(r"\b[A-Z][A-Z0-9]{1,5}\b", "<v>", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_request_skeletons_are_varied(default_run: DefaultRun) -> None:
    skeletons = [skeleton(e) for e in default_run.accepted]
    share = len(set(skeletons)) / len(skeletons)
    assert share >= 0.8, (share, sorted(skeletons))


def _plant(e: Example, **task: object) -> Example:
    return e.model_copy(update={"task": e.task.model_copy(update=task)})


def test_planted_defects_of_each_kind_are_rejected(default_run: DefaultRun) -> None:
    """From real accepted rows: a leaked answer, an identifier, a wrong stated number, an echo field,
    a constant field, an intermediate value given away, wrong no_call arithmetic, a copied example."""
    from generators._writer import EXAMPLES

    rubric = load_rubric("default")
    ctx = CheckContext(decided={"replay": "not re-executed here"}, fields=default_run.fields)
    singles = [e for e in default_run.accepted if e.task.kind in ("single", "multi_step") and e.task.answer]
    chains = [e for e in default_run.accepted if e.task.kind == "multi_step"]
    no_call = next(e for e in default_run.accepted if e.task.kind == "no_call")
    # a row whose last output echoes one of its inputs (most tools say what they were asked about)
    base, echo_ptr = next((e, p) for e in singles for p, _, v in iter_scalars(e.trace.steps[-1].output)
                          if v == e.trace.steps[-1].arguments.get(p.strip("/")))
    assert base.task.answer is not None
    answer_text = str(base.task.answer.value)
    first_arg = next(iter(base.trace.steps[0].arguments))
    echo_value = base.trace.steps[-1].arguments[echo_ptr.strip("/")]
    planted: dict[str, Example] = {
        "leaked answer": _plant(base, user_request=f"{base.task.user_request} Is it {answer_text}?"),
        "identifier": _plant(base, user_request=f"{base.task.user_request} (field {first_arg}_value)"),
        "ungrounded number": _plant(base, final_message=f"{base.task.final_message} That is up 12.5% on last year."),
        "answer not stated": _plant(base, final_message="I looked it up for you."),
        "echo field": _plant(base, answer=Answer(pointers=[AnswerPointer(step=len(base.trace.steps) - 1,
                                                                         pointer=echo_ptr)], value=echo_value),
                             final_message=f"It is {echo_value}."),
        "wrong no_call result": _plant(no_call, final_message="The result is 123456."),
        "copied example": _plant(base, writer="llm", user_request=EXAMPLES["single"][4].split('"')[3]),
    }
    if chains:
        chain = chains[0]
        fed = next((chain.trace.steps[k].arguments[p], k) for k, s in enumerate(chain.trace.steps)
                   for p, src in s.sources.items() if src.origin == "step")
        planted["intermediate value given"] = _plant(chain, user_request=f"{chain.task.user_request} (It's {fed[0]}.)")
    for name, example in planted.items():
        judgement = asyncio.run(evaluate(rubric, example, ctx, None))
        assert judgement.status == "rejected", f"{name} was accepted: {example.task.user_request!r}"
    # A field constant across the tool's observations, asked as if it told something.
    constant = [(e, p) for e in default_run.accepted if e.trace.steps
                for p, _, _ in iter_scalars(e.trace.steps[-1].output)
                if default_run.fields.is_constant(e.trace.steps[-1].toolset, e.trace.steps[-1].tool, p)]
    if constant:
        e, p = constant[0]
        from generators import resolve_pointer

        value = resolve_pointer(e.trace.steps[-1].output, p)
        asked = _plant(e, answer=Answer(pointers=[AnswerPointer(step=len(e.trace.steps) - 1, pointer=p)],
                                        value=value), final_message=f"It is {value}.")
        assert not CHECKS["constant_field"](asked, ctx).passed
