"""Deterministic checks: every check passes the good example and fails, with a reason
naming the step and argument, on variants that differ from it in one place.

Replay reports here are records built by hand (the shape `replay_steps` returns),
so each volatile pointer can be placed exactly; tests/validators/test_replay.py
produces them from real re-executed calls.
"""

from __future__ import annotations

import json

import pytest

from generators import FieldStats, choose_answer, template_task
from schemas import ArgumentSource, DialogueTurn, Example, Tool, Trace
from validators import CHECKS, CheckContext, CheckResult

from ._examples import (
    COUNTRY_OUTPUT,
    TIMEZONE_OUTPUT,
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
        # issue 18: gates on what is asked and what is said
        "constant_field", "echo_field", "worth_asking", "same_field_twice", "intermediate_hidden", "every_call_needed", "direction_kept",
        "link_named", "unit_kept", "no_call_arithmetic", "plain_words", "grounded", "not_copied", "withheld_hidden",
        "question_fits", "answer_named",
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


def test_a_standard_code_may_be_said_by_name_and_a_withheld_one_stays_hidden() -> None:
    # No recorded output pairs "FR" with "France" here: the standard code table does.
    holidays = step("list_public_holidays", {"country_code": "FR", "year": 2024},
                    {"country_code": ArgumentSource(origin="user", how="seed"),
                     "year": ArgumentSource(origin="user", how="seed")}, {"count": 11, "country_code": "FR"})
    ex = example(steps=[holidays], kind="single", ans=answer(11, (0, "/count"), kind="number"),
                 request="How many public holidays does France have in 2024?", final_message="France has 11.",
                 user_values={"country_code": "FR", "year": 2024})
    assert run("provenance", ex).passed
    assert fails("provenance", ex.model_copy(update={"task": ex.task.model_copy(update={
        "user_request": "How many public holidays does Spain have in 2024?"})})).endswith("is not in the user request")


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


def test_an_hour_of_the_day_is_stated_as_a_time() -> None:
    """An output's hour field 14 is "2 p.m." in a reply; 14 of anything else is not."""
    flights = step("route_flights", {"dest": "LAX"}, {"dest": ArgumentSource(origin="user", how="seed")},
                   {"departures": [{"hour": 14, "seats": 14}]})
    for pointer, passes in (("/departures/0/hour", True), ("/departures/0/seats", False)):
        ex = example(steps=[flights], ans=answer(14, (0, pointer), kind="number"),
                     request="When does the first departure to LAX leave?", final_message="It leaves at 2 p.m.",
                     user_values={"dest": "LAX"})
        assert run("answer_stated", ex).passed is passes, pointer


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



# --- issue 18: planted defects of each kind are rejected, each with its named reason --------------

def _weather_tool_stats(values: list[object]) -> FieldStats:
    rows = [("builtin", "timezone_at", {"latitude": i, "longitude": i}, {"timezone": v}, False)
            for i, v in enumerate(values)]
    return FieldStats.from_outputs(rows)


def test_constant_field_is_rejected_with_the_runs_observations() -> None:
    ex = example()
    constant = CheckContext(replay=context(ex).replay, fields=_weather_tool_stats(["Europe/Paris"] * 3))
    assert fails("constant_field", ex, constant).startswith("constant field: timezone_at gives 'Europe/Paris'")
    varied = CheckContext(replay=context(ex).replay, fields=_weather_tool_stats(["Europe/Paris", "Asia/Tokyo",
                                                                                  "Europe/Paris"]))
    assert run("constant_field", ex, varied).passed
    # Two observations are too few to call a field constant.
    assert run("constant_field", ex, CheckContext(fields=_weather_tool_stats(["Europe/Paris"] * 2))).passed


def test_echo_field_is_rejected() -> None:
    ex = example(ans=answer(48.8566, (1, "/latitude"), kind="number"), final_message="The latitude is 48.8566.",
                 request="What is the latitude of the capital of France?")
    assert fails("echo_field", ex).startswith("echo field: the answer 48.8566")


@pytest.mark.parametrize(("pointer", "value", "kind"), [
    ("/is_dst", False, "flag"), ("/request_id", "a1b2c3", "id"), ("/status_code", "midnight_sun", "flag"),
])
def test_ids_and_flags_are_not_worth_asking(pointer: str, value: object, kind: str) -> None:
    output = {**TIMEZONE_OUTPUT_BASE, pointer.strip("/"): value}
    ex = example(steps=[country_step(), timezone_step(output=output)], ans=answer(value, (1, pointer)),
                 final_message=f"It is {value}.")
    assert fails("worth_asking", ex) == f"not worth asking: the answer {value!r} at {pointer} is an {kind}"


def test_the_same_field_asked_twice_is_rejected() -> None:
    steps = [timezone_step(sources=_user_sources(), output={"timezone": "Europe/Paris"}).model_copy(
        update={"group": 0}) for _ in range(2)]
    steps[1] = timezone_step(latitude=48.86, sources=_user_sources(), output={"timezone": "Europe/Paris"})
    ex = example(steps=steps, kind="parallel", request="Which time zone is 48.8566, 2.3522 in, and 48.86, 2.3522?",
                 ans=answer(["Europe/Paris", "Europe/Paris"], (0, "/timezone"), (1, "/timezone")),
                 user_values={"latitude": 48.8566, "longitude": 2.3522, "latitude@1": 48.86},
                 final_message="Both are in Europe/Paris, and Europe/Paris.")
    assert fails("same_field_twice", ex) == "same field twice: timezone_at /timezone is asked twice"


def test_a_chain_whose_request_gives_the_intermediate_value_is_rejected() -> None:
    ex = example(request="What time zone is France in, at 48.8566, 2.3522?")
    assert fails("intermediate_hidden", ex).startswith("intermediate value given: the request already states 48.8566")


def test_a_call_whose_answer_an_earlier_output_holds_is_rejected() -> None:
    # airport_info already gives the time zone; asking timezone_at for it again is a call not needed.
    airport = {"faa": "EWR", "latitude": 40.6925, "longitude": -74.168667, "timezone": "America/New_York"}
    steps = [step("airport_info", {"faa": "EWR"}, {"faa": ArgumentSource(origin="user", how="seed")}, airport),
             timezone_step(latitude=40.6925, longitude=-74.168667, output={"timezone": "America/New_York"})]
    ex = example(steps=steps, ans=answer("America/New_York", (1, "/timezone")), request="What time zone is EWR in?",
                 final_message="EWR is in America/New_York.")
    assert fails("every_call_needed", ex) == ("call not needed: step 2 (timezone_at) answers 'America/New_York', "
                                              "which step 1 (airport_info) already gave at /timezone")
    # A distinctive string under another name counts too; a small number under another name does not.
    renamed = steps[0].model_copy(update={"output": {**airport, "timezone": None, "tz": "America/New_York"}})
    assert not run("every_call_needed", example(steps=[renamed, steps[1]],
                                                ans=answer("America/New_York", (1, "/timezone")))).passed
    hour = step("airport_info", {"faa": "EWR"}, {"faa": ArgumentSource(origin="user", how="seed")},
                {**airport, "timezone": None, "gates": 10})
    counted = timezone_step(latitude=40.6925, longitude=-74.168667, output={"timezone": "America/New_York", "offset": 10})
    assert run("every_call_needed", example(steps=[hour, counted], ans=answer(10, (1, "/offset"), kind="number")),
               ).passed
    # Two independent calls (parallel) that happen to give the same zone are both asked for.
    apart = steps[1].model_copy(update={"sources": {p: ArgumentSource(origin="user", how="seed") for p in steps[1].arguments}})
    assert run("every_call_needed", example(steps=[steps[0], apart], ans=answer("America/New_York", (1, "/timezone")))
               ).passed


@pytest.mark.parametrize(("request_text", "passes"), [
    ("How many flights leave EWR for LAX?", True),
    ("How many flights go from EWR to LAX?", True),
    ("How many flights go to the airport LAX from EWR?", True),
    ("How many flights go to EWR from LAX?", False),
    ("How many flights from LAX go to EWR?", False),
])
def test_a_flipped_direction_is_rejected(request_text: str, passes: bool) -> None:
    stats = step("route_stats", {"origin": "EWR", "dest": "LAX"},
                 {"origin": ArgumentSource(origin="user", how="seed"), "dest": ArgumentSource(origin="user", how="seed")},
                 {"flights": 4912})
    ex = example(steps=[stats], kind="single", ans=answer(4912, (0, "/flights"), kind="number"),
                 request=request_text, final_message="There are 4912 flights.",
                 user_values={"origin": "EWR", "dest": "LAX"})
    result = run("direction_kept", ex)
    assert result.passed is passes, result.reason
    if not passes:
        assert result.reason.startswith("direction flipped: step 1 (route_stats) takes 'EWR' as its origin (origin)")


@pytest.mark.parametrize(("request_text", "passes"), [
    ("What year was the aircraft of the first departure from EWR to LAX on July 4, 2013 built?", True),
    ("What year was the plane with the first tail number leaving EWR for LAX on July 4, 2013 made?", True),
    # the hop to the aircraft dropped: the year asked for is not the first departure's
    ("What year was the first departure from EWR to LAX on July 4, 2013?", False),
])
def test_a_request_that_drops_a_link_of_its_chain_is_rejected(request_text: str, passes: bool) -> None:
    flights = step("route_flights", {"origin": "EWR", "dest": "LAX", "date": "2013-07-04"},
                   {p: ArgumentSource(origin="user", how="seed") for p in ("origin", "dest", "date")},
                   {"departures": [{"tailnum": "N515UA", "hour": 6}, {"tailnum": "N595UA", "hour": 7}]})
    aircraft = step("aircraft_info", {"tailnum": "N515UA"},
                    {"tailnum": ArgumentSource(origin="step", how="pool", step=0, pointer="/departures/0/tailnum")},
                    {"tailnum": "N515UA", "year": 1990})
    ex = example(steps=[flights, aircraft], ans=answer(1990, (1, "/year"), kind="number"), request=request_text,
                 final_message="It was built in 1990.", user_values={"origin": "EWR", "dest": "LAX", "date": "2013-07-04"})
    result = run("link_named", ex)
    assert result.passed is passes, result.reason
    if not passes:
        assert result.reason.startswith("link not named: step 2 (aircraft_info) takes tailnum from step 1's "
                                        "/departures/0/tailnum")
    # A place's coordinates and time zone are the place the request names: not a link to name.
    airport = step("airport_info", {"faa": "EWR"}, {"faa": ArgumentSource(origin="user", how="seed")},
                   {"latitude": 40.6925, "longitude": -74.168667, "timezone": "America/New_York"})
    sun = step("sun_times", {"latitude": 40.6925, "longitude": -74.168667, "timezone": "America/New_York",
                             "date": "2024-06-21"},
               {**{p: ArgumentSource(origin="step", how="pool", step=0, pointer=f"/{p}")
                   for p in ("latitude", "longitude", "timezone")}, "date": ArgumentSource(origin="user", how="seed")},
               {"sunrise": "2024-06-21T05:26:06-04:00"})
    placed = example(steps=[airport, sun], ans=answer("2024-06-21T05:26:06-04:00", (1, "/sunrise")),
                     request="What time is sunrise at EWR on June 21, 2024?", final_message="Sunrise is at 5:26 a.m.",
                     user_values={"faa": "EWR", "date": "2024-06-21"})
    assert run("link_named", placed).passed


@pytest.mark.parametrize(("request_text", "pointer", "value", "passes"), [
    ("Where is the area of France located?", "/area_km2", 551695, False),  # a garbled rewrite seen in a run
    ("How big is France, in square kilometres?", "/area_km2", 551695, True),
    ("How many square kilometres is France? Where is its capital?", "/capital", "Paris", True),
    ("How many people live in the capital of France?", "/capital", "Paris", False),
    ("When is the capital of France?", "/capital", "Paris", False),
    ("Where is the seat of government of France?", "/capital", "Paris", True),
    ("What time zone is the capital of France in?", "/capital", "Paris", True),
    ("What countries are in Europe? I'd like to know the area of France.", "/area_km2", 551695, True),
    ("What cities are in France? I'm asking for a trip.", "/area_km2", 551695, False),  # the last ask
    ("What cities are in France?", "/area_km2", 551695, False),
    ("What was the area of France?", "/area_km2", 551695, True),
])
def test_the_question_fits_what_the_answer_is(request_text: str, pointer: str, value: object, passes: bool) -> None:
    country = country_step().model_copy(update={"output": {**COUNTRY_OUTPUT, "area_km2": 551695}})
    ex = example(steps=[country], ans=answer(value, (0, pointer)), request=request_text,
                 final_message=f"It is {value}.", user_values={"country": "France"})
    result = run("question_fits", ex)
    assert result.passed is passes, result.reason
    if not passes:
        assert result.reason.startswith("question does not fit the answer: the request asks ")


def test_the_request_names_the_answer_with_its_qualifiers() -> None:
    """The head noun may be said in other words; what qualifies it may not be dropped."""
    route = step("route_flights", {"dest": "LAX"}, {"dest": ArgumentSource(origin="user", how="seed")},
                 {"count": 14})
    carrier = step("carrier_info", {"carrier": "DL"}, {"carrier": ArgumentSource(origin="user", how="seed")},
                   {"flights": 48110})
    cases = [
        (route, "/count", 14, "How many flights leave for LAX?", True),  # flights for departures: the head noun
        (carrier, "/flights", 48110, "How many flights does DL operate from New York City airports?", True),
        (carrier, "/flights", 48110, "How many flights from JFK to LAX does DL operate?", False),
    ]
    descriptions = {"count": "Number of departures that day.", "flights": "Departures from New York City airports."}
    for s, pointer, value, text, passes in cases:
        tool = Tool(toolset=s.toolset, name=s.tool, description="", input_schema={"type": "object"},
                    side_effect="read", side_effect_source="annotations",
                    output_schema={"type": "object", "properties": {
                        pointer[1:]: {"type": "integer", "description": descriptions[pointer[1:]]}}})
        ex = example(steps=[s], ans=answer(value, (0, pointer)), request=text, final_message=f"It is {value}.",
                     user_values=dict(s.arguments)).model_copy(update={"tools": [tool]})
        result = run("answer_named", ex)
        assert result.passed is passes, (text, result.reason)
    assert not passes and result.reason == ("answer not named: the request asks for no 'departures from New York "
                                            "City airports' (airpo/city/york...)")


def test_a_value_passed_on_in_another_unit_is_rejected() -> None:
    route = step("route_stats", {"dest": "LAX"}, {"dest": ArgumentSource(origin="user", how="seed")},
                 {"distance": {"value": 762.0, "unit": "mile"}})
    convert = step("convert_units", {"value": 762.0, "unit": "kilometer", "to_unit": "mile"},
                   {"value": ArgumentSource(origin="step", how="pool", step=0, pointer="/distance/value"),
                    "unit": ArgumentSource(origin="user", how="seed"),
                    "to_unit": ArgumentSource(origin="user", how="seed")}, {"value": 473.5, "unit": "mile"})
    ex = example(steps=[route, convert], ans=answer(473.5, (1, "/value"), kind="number"))
    assert fails("unit_kept", ex) == ("unit changed: step 2 (convert_units) reads a value recorded in 'mile' "
                                      "as 'kilometer'")
    kept = example(steps=[route, convert.model_copy(update={"arguments": {**convert.arguments, "unit": "mile"}})],
                   ans=answer(473.5, (1, "/value"), kind="number"))
    assert run("unit_kept", kept).passed


def _no_call(request: str, final: str, values: dict[str, object]) -> Example:
    return example(steps=[], kind="no_call", ans=None, request=request, final_message=final, user_values=values)


def test_no_call_arithmetic_is_recomputed() -> None:
    good = _no_call("One flight was 12 minutes late and another 5. What is the difference?",
                    "The difference is 7 minutes.", {"dep_delay_min": 12, "dep_delay_min@2": 5})
    assert run("no_call_arithmetic", good).passed
    wrong = _no_call("One flight was 12 minutes late and another 5. What is the difference?",
                     "The difference is 8 minutes.", {"dep_delay_min": 12, "dep_delay_min@2": 5})
    assert fails("no_call_arithmetic", wrong).startswith("no_call arithmetic: the final message does not state "
                                                         "the difference of 12 and 5 (7)")
    mixed = _no_call("A latitude of 48.85 and a temperature of 20.5: what do they add up to?",
                     "Together 69.35.", {"latitude": 48.85, "temp_f": 20.5})
    assert fails("no_call_arithmetic", mixed) == ("no_call arithmetic: latitude and temp_f are quantities of "
                                                  "different kinds")
    made_up_unit = _no_call("MQ flies to 20 destinations and OO to 5. What's the difference?",
                            "MQ is 15 metres farther.", {"destinations": 20, "destinations@2": 5})
    assert fails("no_call_arithmetic", made_up_unit) == ("no_call arithmetic: the final message gives 'metre' "
                                                         "to values without a unit")
    same_unit = _no_call("A departure delay of 12 minutes and an arrival delay of 5 minutes: the total?",
                         "That is 17 minutes in all.", {"dep_delay_min": 12, "arr_delay_min": 5})
    assert run("no_call_arithmetic", same_unit).passed


@pytest.mark.parametrize(("request_text", "token"), [
    ("For tailnum N14228, what is the seats?", "tailnum"),  # a tool's parameter name is no word
    ("What is the wind_speed_mph at JFK?", "wind_speed_mph"),
    ("What is the windSpeed at JFK?", "windSpeed"),
    ("Look up /destinations/3/dest for EWR.", "/destinations/3/dest"),
    ("Look up the dest of destinations item 3 for EWR.", "item 3"),
])
def test_identifiers_in_the_request_are_rejected(request_text: str, token: str) -> None:
    ex = example(request=request_text + " France")
    reason = run("plain_words", ex).reason
    if token == "tailnum":  # a bare field name is caught as the tool's own word only when it has one
        assert run("plain_words", ex).passed or token in reason
        return
    assert fails("plain_words", ex) == f"identifier in the request: {token!r}"


def test_a_first_message_cannot_refer_to_an_earlier_turn() -> None:
    """A rewrite's 'at the time you mentioned' in the opening request points at a turn that never happened."""
    ex = example(request="What time zone is the capital of France in, the one you mentioned?")
    assert fails("plain_words", ex) == "the request refers to an earlier turn there was none of: 'you mentioned'"


def test_identifier_like_user_values_are_allowed() -> None:
    ex = example(steps=[country_step(), timezone_step(output={"timezone": "America/New_York"})],
                 ans=answer("America/New_York"), final_message="It is in America/New_York.")
    assert run("plain_words", ex).passed
    named = example(final_message="timezone_at says Europe/Paris.")
    assert fails("plain_words", named) == "identifier in the answer: 'timezone_at'"


def test_an_answer_stating_a_number_no_output_holds_is_rejected() -> None:
    ex = example(ans=answer(68042591, (0, "/population"), kind="number"),
                 request="How many people live in France?",
                 final_message="France has 68,042,591 people, up 2.5% since 2010.")
    assert fails("grounded", ex).startswith("ungrounded answer: 2.5")
    assert run("grounded", ex.model_copy(update={"task": ex.task.model_copy(update={
        "final_message": "About 68,042,591 people live in France."})})).passed


def test_a_rewrite_copying_the_writer_example_is_rejected() -> None:
    from generators._writer import EXAMPLES

    copied = json.loads(EXAMPLES["single"][4])["request"]
    ex = example(request=copied, writer="llm")
    assert fails("not_copied", ex).startswith("copies the writer's example:")
    assert run("not_copied", example(writer="llm")).passed


def test_an_error_recovery_failed_call_must_be_an_honest_slip() -> None:
    fixed = country_step()
    slip = step("country_info", {"country": "Farnce"}, {"country": ArgumentSource(origin="user", how="probe-typo")},
                {"error": "unknown country"}, is_error=True)
    ans_ = answer("FR", (1, "/country_code"))
    honest = example(steps=[slip, fixed], kind="error_recovery", ans=ans_, request="What is France's ISO code?",
                     final_message="It is FR.")
    assert run("provenance", honest).passed
    other = step("country_info", {"country": "Brazil"}, {"country": ArgumentSource(origin="user", how="seed")},
                 {"error": "x"}, is_error=True)
    hallucinated = example(steps=[other, fixed], kind="error_recovery", ans=ans_,
                           request="What is France's ISO code?", final_message="It is FR.")
    assert fails("provenance", hallucinated).startswith("step 1 (country_info): the failed call is not an honest slip")
    missing = step("country_info", {}, {}, {"error": "country is required"}, is_error=True)
    assert run("provenance", honest.model_copy(update={"trace": Trace(steps=[missing, fixed])})).passed


TIMEZONE_OUTPUT_BASE = dict(TIMEZONE_OUTPUT)


def _user_sources() -> dict[str, ArgumentSource]:
    return {p: ArgumentSource(origin="user", how="seed") for p in ("latitude", "longitude")}


def test_a_multi_turn_request_that_already_says_the_withheld_value_is_rejected() -> None:
    dialogue = [DialogueTurn(role="assistant", content="Which country do you mean?"),
                DialogueTurn(role="user", content="France.")]
    good = example(kind="multi_turn", request="What time zone is the capital of a country in?", dialogue=dialogue)
    assert run("withheld_hidden", good).passed
    said = example(kind="multi_turn", request="What time zone is the capital of France in?", dialogue=dialogue)
    assert fails("withheld_hidden", said) == ("withheld value given: the request already states 'France', which "
                                              "the user supplies only later")
