"""Deterministic checks: every check passes the good example and fails, with a reason
naming the step and argument, on variants that differ from it in one place.

Replay reports here are records built by hand (the shape `replay_steps` returns),
so each volatile pointer can be placed exactly; tests/validators/test_replay.py
produces them from real re-executed calls.
"""

from __future__ import annotations

import pytest

from generators import choose_answer, template_task
from schemas import ArgumentSource, Example
from validators import CHECKS, CheckContext, CheckResult

from ._examples import (
    COUNTRY_OUTPUT,
    answer,
    context,
    country_step,
    example,
    step,
    timezone_step,
    tools,
)


def run(name: str, ex: Example, ctx: CheckContext | None = None) -> CheckResult:
    return CHECKS[name](ex, ctx if ctx is not None else context(ex))


def fails(name: str, ex: Example, ctx: CheckContext | None = None) -> str:
    result = run(name, ex, ctx)
    assert not result.passed, f"{name} passed {ex.task.user_request!r}"
    assert result.reason and "\n" not in result.reason
    return result.reason


def test_the_checks_tested_here_are_all_the_checks() -> None:
    # A new check must get its passing and failing cases in this file.
    assert set(CHECKS) == {
        "answer_pointers", "answer_stated", "arguments_schema", "calls_succeeded", "leakage",
        "no_tool_names", "provenance", "record_schema", "replay", "writer",
    }


def test_record_schema_fails_json_that_the_published_schema_rejects() -> None:
    ex = example()
    # model_construct skips pydantic's validation: the only way to get JSON the schema rejects.
    bad_task = ex.task.model_construct(**{**dict(ex.task), "user_request": ""})
    bad = ex.model_construct(task=bad_task, trace=ex.trace, tools=ex.tools)
    result = run("record_schema", bad)
    assert not result.passed
    assert result.reason.startswith("example JSON at /task/user_request:")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_passes_the_good_example(name: str) -> None:
    assert run(name, example()) == CheckResult(True, "")


def test_template_task_from_a_trace_passes_every_check() -> None:
    ex = example()
    ans = choose_answer(ex.trace)
    assert ans is not None and ans.value == "Europe/Paris"  # latitude/longitude are inputs, not answers
    task = template_task(ex.trace, ans)
    built = ex.model_copy(update={"task": task})
    for name in CHECKS:
        assert run(name, built).passed, (name, task.user_request, run(name, built).reason)


# writer


def test_writer_error_fails() -> None:
    ex = example(writer="llm", writer_error="reply is not valid JSON (Expecting value at char 0)")
    assert fails("writer", ex) == "llm writer: reply is not valid JSON (Expecting value at char 0)"


# arguments_schema


def test_missing_required_argument_names_step_and_argument() -> None:
    bad = timezone_step().model_copy(update={"arguments": {"latitude": 48.8566}})
    reason = fails("arguments_schema", example(steps=[country_step(), bad]))
    assert reason == "step 2 (timezone_at): arguments: 'longitude' is a required property"


def test_wrong_type_names_the_argument_path() -> None:
    reason = fails("arguments_schema", example(steps=[country_step(), timezone_step(latitude="48.8566")]))
    assert reason == "step 2 (timezone_at): arguments/latitude: '48.8566' is not of type 'number'"


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ({"country": 5}, "arguments/country: 5 is not of type 'string'"),
        ({"country": "F"}, "arguments/country: 'F' is too short"),
        ({"country": "France", "detail": "everything"}, "arguments/detail: 'everything' is not one of"),
        ({"country": "France", "lang": "fr"}, "Additional properties are not allowed ('lang'"),
    ],
)
def test_schema_constraints_fail_in_the_first_step(arguments: dict[str, object], where: str) -> None:
    bad = country_step().model_copy(update={"arguments": arguments})
    reason = fails("arguments_schema", example(steps=[bad, timezone_step()]))
    assert reason.startswith("step 1 (country_info): ") and where in reason


def test_out_of_range_number_fails() -> None:
    reason = fails("arguments_schema", example(steps=[country_step(), timezone_step(latitude=148.8566)]))
    assert reason == "step 2 (timezone_at): arguments/latitude: 148.8566 is greater than the maximum of 90"


def test_tool_that_was_not_offered_fails() -> None:
    reason = fails("arguments_schema", example(tool_list=tools()[:1]))
    assert reason == "step 2 (timezone_at): tool is not among the offered tools"
    # Same name from another toolset is another tool.
    other = [t if t.name == "country_info" else t.model_copy(update={"toolset": "other"}) for t in tools()]
    assert fails("arguments_schema", example(tool_list=other)) == reason


def test_invalid_tool_schema_fails_the_check_instead_of_raising() -> None:
    broken = [t if t.name == "country_info" else t.model_copy(update={"input_schema": {
        "type": "object", "properties": {"latitude": {"type": "decimal"}}}}) for t in tools()]
    reason = fails("arguments_schema", example(tool_list=broken))
    assert reason.startswith("step 2 (timezone_at): tool schema is invalid")


# calls_succeeded


def test_a_step_that_returned_an_error_fails() -> None:
    bad = timezone_step().model_copy(update={"is_error": True, "output": "No timezone found"})
    assert fails("calls_succeeded", example(steps=[country_step(), bad])) == (
        "step 2 (timezone_at): the call returned an error")


# provenance


def test_user_value_not_in_the_request_fails() -> None:
    ex = example(request="What time zone is the capital of Spain in?")
    assert fails("provenance", ex) == "step 1 (country_info): argument country='France' is not in the user request"


def test_user_value_matches_across_case_and_unicode_width() -> None:
    assert run("provenance", example(request="What time zone is the capital of ＦＲＡＮＣＥ in?")).passed


def test_user_number_must_be_stated() -> None:
    sources = {p: ArgumentSource(origin="user", how="seed") for p in ("latitude", "longitude")}
    steps = [timezone_step(sources=sources)]
    ans = answer("Europe/Paris", (0, "/timezone"))
    assert run("provenance", example(request="Which time zone is at 48.8566, 2.3522?", steps=steps, ans=ans)).passed
    reason = fails("provenance", example(request="Which time zone is at 48.8566, 12.3522?", steps=steps, ans=ans))
    assert reason == "step 1 (timezone_at): argument longitude=2.3522 is not in the user request"


def test_schema_default_values_are_exempt() -> None:
    defaulted = country_step(detail="full")
    sources = dict(defaulted.sources)
    sources["detail"] = ArgumentSource(origin="user", how="schema-default")
    ok = defaulted.model_copy(update={"sources": sources})
    assert run("provenance", example(steps=[ok, timezone_step()])).passed
    # The same value chosen any other way must be in the text.
    assert fails("provenance", example(steps=[defaulted, timezone_step()])) == (
        "step 1 (country_info): argument detail='full' is not in the user request")


@pytest.mark.parametrize("source_step", [1, 2, -1])
def test_step_source_must_be_an_earlier_step(source_step: int) -> None:
    sources = {
        "latitude": ArgumentSource(origin="step", step=source_step, pointer="/latitude"),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/longitude"),
    }
    reason = fails("provenance", example(steps=[country_step(), timezone_step(sources=sources)]))
    assert reason == "step 2 (timezone_at): argument 'latitude' points at no earlier step"


def test_first_step_cannot_take_a_step_source() -> None:
    first = country_step().model_copy(update={"sources": {
        "country": ArgumentSource(origin="step", step=1, pointer="/name")}})
    reason = fails("provenance", example(steps=[first, timezone_step()]))
    assert reason == "step 1 (country_info): argument 'country' points at no earlier step"


def test_step_source_without_pointer_fails() -> None:
    sources = {
        "latitude": ArgumentSource(origin="step", step=0),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/longitude"),
    }
    assert fails("provenance", example(steps=[country_step(), timezone_step(sources=sources)])) == (
        "step 2 (timezone_at): argument 'latitude' points at no earlier step")


def test_pointer_that_does_not_resolve_fails() -> None:
    sources = {
        "latitude": ArgumentSource(origin="step", step=0, pointer="/lat"),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/longitude"),
    }
    assert fails("provenance", example(steps=[country_step(), timezone_step(sources=sources)])) == (
        "step 2 (timezone_at): argument 'latitude': pointer /lat does not resolve")


def test_nested_pointer_into_a_list_resolves() -> None:
    sources = {
        "latitude": ArgumentSource(origin="step", step=0, pointer="/coordinates/0"),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/coordinates/1"),
    }
    assert run("provenance", example(steps=[country_step(), timezone_step(sources=sources)])).passed
    sources["longitude"] = ArgumentSource(origin="step", step=0, pointer="/coordinates/2")
    assert fails("provenance", example(steps=[country_step(), timezone_step(sources=sources)])) == (
        "step 2 (timezone_at): argument 'longitude': pointer /coordinates/2 does not resolve")


def test_value_differing_from_the_earlier_output_fails() -> None:
    reason = fails("provenance", example(steps=[country_step(), timezone_step(latitude=48.86)]))
    assert reason == "step 2 (timezone_at): argument latitude=48.86 differs from step 1 output 48.8566"


def test_missing_source_fails() -> None:
    sources = {"latitude": ArgumentSource(origin="step", step=0, pointer="/latitude")}
    assert fails("provenance", example(steps=[country_step(), timezone_step(sources=sources)])) == (
        "step 2 (timezone_at): argument 'longitude' has no recorded source")


# leakage


@pytest.mark.parametrize("request_text", [
    "Is the capital of France in Europe/Paris?",
    "The capital of France: is it in EUROPE/PARIS time?",
])
def test_answer_in_the_request_leaks(request_text: str) -> None:
    assert fails("leakage", example(request=request_text)) == (
        "the answer 'Europe/Paris' appears in the user request")


def test_numeric_answer_leaks_only_as_a_whole_number() -> None:
    ans = answer(48.8566, (0, "/latitude"), kind="number", tolerance=1e-6)
    leaked = example(request="France's capital sits at latitude 48.8566; which zone is it in?", ans=ans)
    assert fails("leakage", leaked) == "the answer 48.8566 appears in the user request"
    # 48.8566 is a substring of 148.85661, but not the number stated there.
    assert run("leakage", example(request="France, at 148.85661 on my map: which zone?", ans=ans)).passed
    assert run("leakage", example(request="France is 48.85661 something. Which zone?", ans=ans)).passed


# no_tool_names


@pytest.mark.parametrize("request_text", [
    "Use timezone_at to find the time zone of the capital of France.",
    "Call Country_Info for France, then tell me its time zone.",
])
def test_request_naming_a_tool_fails(request_text: str) -> None:
    reason = fails("no_tool_names", example(request=request_text))
    assert reason in ("the request names the tool 'timezone_at'", "the request names the tool 'country_info'")


def test_tool_name_inside_a_longer_word_is_not_a_mention() -> None:
    assert run("no_tool_names", example(request="France: check my timezone_atlas for its capital's zone.")).passed


def test_short_plain_tool_names_are_not_flagged() -> None:
    geo = step("geo", {"country": "France"}, {"country": ArgumentSource(origin="user")}, COUNTRY_OUTPUT)
    ex = example(request="Any geo facts about France? What is its capital?", steps=[geo],
                 ans=answer("Paris", (0, "/capital")))
    assert run("no_tool_names", ex).passed


# answer_pointers


def test_answer_pointer_that_does_not_resolve_fails() -> None:
    assert fails("answer_pointers", example(ans=answer("Europe/Paris", (1, "/tz")))) == (
        "answer pointer /tz does not resolve in step 2")


def test_answer_pointer_beyond_the_trace_fails() -> None:
    assert fails("answer_pointers", example(ans=answer("Europe/Paris", (2, "/timezone")))) == (
        "answer pointer names step 3, the trace has 2")


def test_answer_value_must_match_the_recorded_value() -> None:
    assert fails("answer_pointers", example(ans=answer("Europe/Berlin"))) == (
        "answer 'Europe/Berlin' != recorded 'Europe/Paris' at /timezone")
    assert run("answer_pointers", example(ans=answer("EUROPE/PARIS"))).passed  # casefold
    assert fails("answer_pointers", example(ans=answer("EUROPE/PARIS", kind="exact"))) == (
        "answer 'EUROPE/PARIS' != recorded 'Europe/Paris' at /timezone")


# answer_stated (the answer checker: reads only the final message)


def test_a_final_message_that_does_not_state_the_answer_fails() -> None:
    assert fails("answer_stated", example(final_message="The capital of France is Paris.")) == (
        "the final message does not state the answer 'Europe/Paris'")
    assert run("answer_stated", example(final_message="It's europe/paris.")).passed  # casefold


def test_answer_stated_needs_every_value_of_a_parallel_answer() -> None:
    ans = answer(["Paris", "Europe/Paris"], (0, "/capital"), (1, "/timezone"))
    assert run("answer_stated", example(ans=ans)).passed
    assert fails("answer_stated", example(ans=ans, final_message="Paris.")) == (
        "the final message does not state the answer 'Europe/Paris'")


def test_answer_stated_for_a_no_call_task_needs_a_reply() -> None:
    def no_call(final: str) -> Example:
        ex = example(kind="no_call", steps=[])
        return ex.model_copy(update={"task": ex.task.model_copy(update={"answer": None, "final_message": final})})

    assert run("answer_stated", no_call("Hello! Nothing to look up here.")).passed
    assert fails("answer_stated", no_call(" ")) == "the final message is empty"


def test_every_answer_pointer_must_agree() -> None:
    ans = answer("Europe/Paris", (1, "/timezone"), (0, "/capital"))
    assert fails("answer_pointers", example(ans=ans)) == "answer 'Europe/Paris' != recorded 'Paris' at /capital"


@pytest.mark.parametrize(
    ("value", "tolerance", "passed"),
    [(48.8566, 0.0, True), (48.8566001, 1e-6, True), (48.8566001, 0.0, False), (48.86, 1e-6, False),
     ("48.8566", 0.0, True)],
)
def test_number_answer_within_tolerance(value: object, tolerance: float, passed: bool) -> None:
    ex = example(ans=answer(value, (0, "/latitude"), kind="number", tolerance=tolerance))
    result = run("answer_pointers", ex)
    assert result.passed is passed
    if not passed:
        assert result.reason == f"answer {value!r} != recorded 48.8566 at /latitude"


# replay


def test_no_replay_report_fails() -> None:
    assert fails("replay", example(), CheckContext()) == "no replay was run"


def test_a_step_that_was_not_replayed_fails() -> None:
    ex = example()
    ctx = context(ex)
    assert ctx.replay is not None
    del ctx.replay.results[next(reversed(ctx.replay.results))]
    assert fails("replay", ex, ctx) == "step 2 (timezone_at): was not replayed"


def test_replay_keys_include_the_toolset_version() -> None:
    ex = example()
    assert fails("replay", ex, CheckContext(replay=context(ex).replay, toolset_versions={"builtin": "1.2"})) == (
        "step 1 (country_info): was not replayed")
    versioned = context(ex, version="1.2").replay
    assert run("replay", ex, CheckContext(replay=versioned, toolset_versions={"builtin": "1.2"})).passed


def test_replay_error_fails() -> None:
    ex = example()
    assert fails("replay", ex, context(ex, errors={1: "replay timed out after 30 s"})) == (
        "step 2 (timezone_at): replay timed out after 30 s")


@pytest.mark.parametrize(
    ("k", "differing", "pointer"),
    [
        (0, ("/latitude",), "/latitude"),      # used by step 2's argument
        (0, ("/longitude", "/population"), "/longitude"),
        (1, ("/timezone",), "/timezone"),      # the answer
        (1, ("/",), "/timezone"),              # the whole output changed
    ],
)
def test_volatile_pointer_that_the_task_uses_fails(k: int, differing: tuple[str, ...], pointer: str) -> None:
    ex = example()
    name = "country_info" if k == 0 else "timezone_at"
    assert fails("replay", ex, context(ex, differing={k: differing})) == (
        f"step {k + 1} ({name}): volatile: {pointer} changed when the call was replayed")


def test_volatile_parent_or_child_of_a_used_pointer_fails() -> None:
    sources = {
        "latitude": ArgumentSource(origin="step", step=0, pointer="/coordinates/0"),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/coordinates/1"),
    }
    ex = example(steps=[country_step(), timezone_step(sources=sources)])
    assert not run("replay", ex, context(ex, differing={0: ("/coordinates",)})).passed  # list length changed
    whole = example(ans=answer(COUNTRY_OUTPUT["currencies"], (0, "/currencies"), kind="exact"))
    assert not run("replay", whole, context(whole, differing={0: ("/currencies/0",)})).passed


@pytest.mark.parametrize(
    ("k", "differing"),
    [(0, ("/population",)), (0, ("/latitude_source", "/capital")), (1, ("/fetched_at",))],
)
def test_differing_field_that_nothing_uses_passes(k: int, differing: tuple[str, ...]) -> None:
    ex = example()
    assert run("replay", ex, context(ex, differing={k: differing})).passed

