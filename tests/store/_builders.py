"""Hand-built records and synthetic bulk rows shared by the store tests."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa

from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    Example,
    Judgement,
    LeafResult,
    Observation,
    Step,
    Task,
    Tool,
    Trace,
)
from store import Store

REPO = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def make_tool(name: str = "country_info", toolset: str = "geo") -> Tool:
    return Tool(
        toolset=toolset,
        name=name,
        description=f"{name} lookup",
        input_schema={"type": "object", "properties": {"code": {"type": "string"}}},
        side_effect="read",
        side_effect_source="annotations",
    )


def make_obs(i: int, *, is_error: bool = False, started_at: dt.datetime = T0) -> Observation:
    return Observation(
        toolset="geo",
        toolset_version="1.0",
        tool="country_info",
        arguments={"code": f"C{i}"},
        output=None if is_error else {"capital": f"City{i}", "n": i},
        is_error=is_error,
        error="boom" if is_error else None,
        latency_ms=1.5 + i,
        started_at=started_at,
    )


def make_example(i: int, *, kind: str = "multi_step", wording: str = "") -> Example:
    """Example i; another ``wording`` gives the same task key (trace, kind) with new content."""
    obs = make_obs(i)
    step = Step(
        toolset="geo",
        tool="country_info",
        arguments={"code": f"C{i}"},
        sources={"code": ArgumentSource(origin="user", how="seed")},
        observation_id=obs.observation_id,
        output=obs.output,
    )
    task = Task(
        kind=kind,  # type: ignore[arg-type]
        user_request=f"What is the capital of C{i}?{wording}",
        user_values={"code": f"C{i}"},
        answer=Answer(pointers=[AnswerPointer(step=0, pointer="/capital")], value=f"City{i}"),
        final_message=f"The capital is City{i}.",
        writer="template",
    )
    return Example(task=task, trace=Trace(steps=[step]), tools=[make_tool()])


def make_judgement(example: Example, status: str = "accepted", reason: str = "",
                   score: float | None = None) -> Judgement:
    return Judgement(
        example_id=example.example_id,
        rubric_id="default",
        rubric_hash="r" * 32,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        score=score if score is not None else (0.9 if status == "accepted" else 0.2),
        leaves=[
            LeafResult(node_id="schema", kind="check", critical=True, passed=True, score=1.0),
            LeafResult(node_id="natural", kind="judge", passed=status == "accepted",
                       score=0.8, p_yes=0.8, coverage=0.95, reason="ok"),
        ],
    )


def sha_members(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed(s: Store, n: int = 4, dataset: str = "geo", run_id: str = "run-1") -> list[Example]:
    """A run with n judged examples (the last one rejected)."""
    s.start_run(run_id, dataset, config={"seed": 1}, models={"judge": "tiny"})
    examples = [make_example(i) for i in range(n)]
    judged = [
        (e, make_judgement(e, "rejected" if i == n - 1 else "accepted", "leaks answer" if i == n - 1 else ""))
        for i, e in enumerate(examples)
    ]
    s.save_observations([make_obs(i) for i in range(n)], run_id)
    s.save_tools([make_tool()], run_id)
    s.save_candidates(run_id, dataset, judged)
    return examples


def save(s: Store, run_id: str, dataset: str, examples: list[Example],
         scores: list[float] | None = None) -> None:
    """Store examples as accepted candidates of a run (starting the run if new)."""
    s.start_run(run_id, dataset, config={"run": run_id}, models={"judge": "tiny"})
    s.save_observations([make_obs(int(e.task.user_values["code"][1:])) for e in examples], run_id)
    judged = [(e, make_judgement(e, score=scores[i] if scores else None)) for i, e in enumerate(examples)]
    s.save_candidates(run_id, dataset, judged)


SYNTHETIC_SQL = """
    SELECT md5('example' || i) AS example_id, md5('task' || i) AS task_key,
           'single' AS kind, 'request ' || i AS user_request, 'template' AS writer,
           NULL::VARCHAR AS writer_model, '{"steps":[]}' AS trace, '{"value":"x"}' AS answer,
           '{"i":' || i || '}' AS body, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS created_at
    FROM range($1) AS t(i)
"""


def synthetic_examples(s: Store, n: int) -> pa.Table:
    """n synthetic example rows (ids md5('example' || i)) stored through the Arrow path."""
    table = s.con.sql(SYNTHETIC_SQL, params=[n]).to_arrow_table()
    with s._write("test: synthetic example rows"):
        s._insert("example_rows", table)
    return table
