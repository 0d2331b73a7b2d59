"""The judge: yes/no mass from first-token logprobs, real scoring against the llama.cpp
server, the judge_error path through a real server that was stopped, and the
information barrier between the writer's prompt and what the judge sees.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from generators import ChatClient, Endpoint, LLMWriter, LocalModelServer, choose_answer, template_task
from schemas import Judgement, content_hash
from validators import Judge, JudgeScore, evaluate, judge_context, load_rubric, score_from_logprobs, yes_no_mass
from validators._judge import RESULT_CHARS, focus

from ._examples import COUNTRY_OUTPUT, context, example, step, tools

QUESTION = "Is the user's request written the way a real person would ask for this?"


def lp(p: float) -> float:
    return math.log(p)


# logprobs -> score


def test_yes_no_variants_are_summed() -> None:
    yes, no = yes_no_mass({
        " Yes": lp(0.4), "yes.": lp(0.1), "y": lp(0.05), "TRUE": lp(0.05), '"yes"': lp(0.1),
        "NO": lp(0.1), " no!": lp(0.05), "n": lp(0.02), "False": lp(0.03),
        "Maybe": lp(0.05), "yesterday": lp(0.02), "nope": lp(0.02), "": lp(0.01),
    })
    assert yes == pytest.approx(0.7) and no == pytest.approx(0.2)


def test_score_is_yes_share_and_coverage_is_yes_plus_no() -> None:
    score = score_from_logprobs({" Yes": lp(0.6), "No": lp(0.2), "The": lp(0.1)})
    assert score == JudgeScore(p_yes=pytest.approx(0.75), coverage=pytest.approx(0.8))  # type: ignore[arg-type]


def test_low_coverage_still_scores() -> None:
    score = score_from_logprobs({"I": lp(0.9), "yes": lp(0.01), "no": lp(0.03)})
    assert score is not None
    assert score.p_yes == pytest.approx(0.25) and score.coverage == pytest.approx(0.04)


@pytest.mark.parametrize("alternatives", [{}, {"The": lp(0.7), "I": lp(0.2)}, {"yes": -math.inf, "no": -math.inf}])
def test_zero_coverage_gives_no_score(alternatives: dict[str, float]) -> None:
    assert score_from_logprobs(alternatives) is None


def test_coverage_is_capped_at_one() -> None:
    # Servers can list spellings whose probabilities overlap; coverage never exceeds 1.
    score = score_from_logprobs({"Yes": lp(0.9), " Yes": lp(0.9), "No": lp(0.1)})
    assert score is not None and score.coverage == 1.0 and score.p_yes == pytest.approx(1.8 / 1.9)


# against the real llama.cpp server


def test_real_judge_scores_a_question(llama_endpoint: Endpoint) -> None:
    ex = example()

    async def go() -> tuple[JudgeScore, Judgement]:
        async with ChatClient(llama_endpoint) as client:
            judge = Judge(client)
            assert judge.model == llama_endpoint.model
            score = await judge.score(ex, QUESTION)
            # Three more, constrained and sampled, only when coverage is below min_coverage.
            assert client.requests in (1, 4)
            # The whole default rubric; its questions share the prompt prefix, so they are cheap.
            return score, await evaluate(load_rubric("default"), ex, context(ex), judge)

    score, judgement = asyncio.run(go())
    assert 0.0 <= score.p_yes <= 1.0 and 0.0 <= score.coverage <= 1.0
    if score.coverage < 0.5:
        assert score.note.startswith(f"coverage {score.coverage:.2f} below min_coverage 0.5: majority of 3")
        assert score.votes is not None and sum(score.votes) == 3 and score.p_yes in (0.0, 1 / 3, 2 / 3, 1.0)
    # Two judge questions gate in the default rubric; the plumbing model's noise may trip them.
    judged = {leaf.node_id: leaf for leaf in judgement.leaves if leaf.kind == "judge"}
    gates = [judged["answer_correct"], judged["answer_matches_request"]]
    for leaf in gates:
        assert leaf.p_yes is not None and 0.0 <= leaf.p_yes <= 1.0 and leaf.score == leaf.p_yes
        assert leaf.coverage is not None and 0.0 <= leaf.coverage <= 1.0
    if all(leaf.passed for leaf in gates):
        weighted = [judged["request_is_natural"], judged["request_needs_every_call"]]
        assert judgement.status == "accepted" and all(leaf.p_yes is not None for leaf in weighted)
        assert judgement.score == pytest.approx(sum(leaf.p_yes or 0.0 for leaf in weighted) / 2, abs=1e-6)
    else:
        assert judgement.status == "rejected" and judgement.score == 0.0
        assert judgement.reason.split(":")[0] in ("answer_correct", "answer_matches_request")
        assert judged["request_is_natural"].skipped  # the weighted questions come after the gates


def test_stopped_server_gives_judge_error_not_a_score() -> None:
    server = LocalModelServer("tiny")
    endpoint = server.start()
    server.stop()
    ex = example()

    async def go() -> Judgement:
        async with ChatClient(endpoint, attempts=1, timeout=10.0) as client:
            return await evaluate(load_rubric("default"), ex, context(ex), Judge(client))

    j = asyncio.run(go())
    assert j.status == "judge_error"
    judged = [leaf for leaf in j.leaves if leaf.kind == "judge"]
    assert {leaf.node_id for leaf in judged} == {
        "answer_correct", "request_is_natural", "request_needs_every_call", "answer_matches_request"}
    for leaf in judged:
        assert leaf.score is None and leaf.p_yes is None and leaf.passed is None and not leaf.skipped
        assert leaf.reason.startswith("judge_error: model endpoint") and endpoint.url in leaf.reason
    assert j.reason.split(":")[0] in {leaf.node_id for leaf in judged}
    assert all(leaf.passed for leaf in j.leaves if leaf.kind == "check")


# information barrier


def test_judge_sees_the_task_and_trace_but_not_the_writer_prompt(llama_endpoint: Endpoint) -> None:
    base = example()
    ans = choose_answer(base.trace)
    assert ans is not None
    draft = template_task(base.trace, ans)

    async def go() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        async with ChatClient(llama_endpoint) as client:
            writer_messages = LLMWriter(client).messages(draft)
            task = draft.model_copy(update={
                "user_request": "Which time zone is the capital of France in?",
                "writer": "llm", "writer_model": llama_endpoint.model,
                "writer_prompt_hash": content_hash(writer_messages),
                "writer_note": "WRITER-NOTE-7f3a: rewrite kept",
            })
            unused = tools()[0].model_copy(update={"name": "holidays_in", "description": "Public holidays."})
            ex = base.model_copy(update={"task": task, "tools": [*base.tools, unused]})
            judge_messages = Judge(client).messages(judge_context(ex), QUESTION)
            return writer_messages, judge_messages

    writer_messages, judge_messages = asyncio.run(go())
    seen = "\n".join(m["content"] for m in judge_messages)

    # What the judge must see: the request, the calls with their arguments and results, the answer.
    assert "User request: Which time zone is the capital of France in?" in seen
    assert 'Call 1: country_info({"country": "France"})' in seen
    assert 'Call 2: timezone_at({"latitude": 48.8566, "longitude": 2.3522})' in seen
    assert '"capital": "Paris"' in seen and '"timezone": "Europe/Paris"' in seen
    assert f"Assistant's final answer: {draft.final_message}" in seen
    assert QUESTION in seen and "- timezone_at(latitude: number, longitude: number): The IANA time zone at a point." in seen
    assert "holidays_in" not in seen  # only the tools the trace used

    # What it must not: the writer's prompt, its draft, its note, the hash of its prompt.
    writer_system = writer_messages[0]["content"]
    assert writer_messages[0]["role"] == "system" and writer_system
    for message in judge_messages:
        assert writer_system not in message["content"]
        assert writer_messages[1]["content"] not in message["content"]
    assert "Values to keep verbatim" not in seen and draft.user_request not in seen
    assert "WRITER-NOTE-7f3a" not in seen
    assert content_hash(writer_messages) not in seen


def test_long_results_keep_what_the_task_reads_and_count_what_they_leave_out() -> None:
    big = {**COUNTRY_OUTPUT, "notes": "x" * 5000, "regions": [f"region {i}" for i in range(300)]}
    first = step("country_info", {"country": "France"}, example().trace.steps[0].sources, big)
    ctx = judge_context(example(steps=[first, example().trace.steps[1]]))
    line = next(ln for ln in ctx.splitlines() if ln.startswith("Result 1: "))
    assert len(line) <= len("Result 1: ") + RESULT_CHARS
    # Step 2 reads /latitude and /longitude of this result: they stay, whatever else is cut.
    assert '"latitude": 48.8566' in line and '"longitude": 2.3522' in line
    assert "more" in line and "x" * 200 not in line


def test_focus_keeps_wanted_members_in_place_and_counts_the_rest() -> None:
    rows = [{"id": i, "name": f"row {i}"} for i in range(50)]
    kept = focus({"rows": rows, "total": 50}, ["/rows/40/name"], budget=200)
    assert kept["total"] == 50 and {"id": 40, "name": "row 40"} in kept["rows"]
    gaps = [x for x in kept["rows"] if isinstance(x, str)]
    assert gaps and all(g.startswith("… ") and g.endswith(" more") for g in gaps)
    shown = [x for x in kept["rows"] if isinstance(x, dict)]
    assert sum(int(g.split()[1]) for g in gaps) + len(shown) == 50
    assert focus({"a": 1}, ["/a"], budget=200) == {"a": 1}  # short results are untouched
