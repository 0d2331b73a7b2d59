"""Meaningful chains (issue 18): what a value means travels with it.

The rules of generators/_meaning.py on records as exploration has them (tools with their
schemas, observations of what came back), then over a real run of the embedded default: no
accepted row puts one place's latitude with another's longitude. (The built-in toolset has no
chain into a unit conversion, so the unit rule is shown on records only.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from generators._meaning import (
    ECHO_SOURCE,
    UNIT_SOURCE,
    arbitrary_item,
    clock_fields,
    complete_from_anchor,
    entity_group,
    is_modifier,
    means_it,
    recorded_unit,
    unit_of,
    unit_pair,
)
from generators._pool import PoolValue, _Option, _user_source
from schemas import Example, Observation, Tool


def tool(name: str, description: str, params: dict[str, Any], required: list[str] | None = None,
         output: dict[str, Any] | None = None) -> Tool:
    return Tool(toolset="t", name=name, description=description,
                input_schema={"type": "object", "properties": params, "required": required or list(params)},
                output_schema=output, side_effect="read", side_effect_source="annotations")


NUMBER = {"type": "number"}
STRING = {"type": "string"}
PLACE = tool("place_info", "Facts about a place: its coordinates and time zone.", {"name": STRING})
SUNSET = tool("sunset", "Sunset at a place on a date.", {
    "latitude": NUMBER, "longitude": NUMBER, "timezone": STRING, "date": {"type": "string", "format": "date"}})
DISTANCE = tool("distance_between", "Distance between two points.", {
    "latitude": NUMBER, "longitude": NUMBER, "to_latitude": NUMBER, "to_longitude": NUMBER})
CONVERT = tool("convert_units", "Convert a value from one unit to another.", {
    "value": NUMBER, "unit": STRING, "to_unit": STRING})
ROUTE = tool("route_stats", "Summarise the flights on a route.", {"origin": STRING, "dest": STRING},
             output={"type": "object", "properties": {"distance": {"type": "number",
                                                                   "description": "Route distance, in miles."}}})
AIRCRAFT = tool("aircraft_info", "Look up an aircraft's manufacturer, model and year built by tail number.",
                {"tailnum": STRING})
HOLIDAYS = tool("list_public_holidays", "List a country's public holidays for one calendar year.",
                {"country_code": STRING, "year": {"type": "integer", "description": "Calendar year."}})
NEXT_HOLIDAY = tool("next_public_holiday", "Find the next public holiday in a country after a date.",
                    {"country_code": STRING, "date": STRING},
                    output={"type": "object", "properties": {"year": {"type": "integer"}}})
CURRENCY = tool("currency_info", "Look up a currency and the countries that use it.", {"code": STRING},
                output={"type": "object", "properties": {
                    "countries": {"type": "array", "items": {"type": "string"},
                                  "description": "Countries that use this currency."},
                    "destinations": {"type": "array", "description": "Destinations, busiest first."}}})
TOOLS = {t.name: t for t in (PLACE, SUNSET, DISTANCE, CONVERT, ROUTE, AIRCRAFT, HOLIDAYS, NEXT_HOLIDAY, CURRENCY)}


def observation(t: Tool, arguments: dict[str, Any], output: Any) -> Observation:
    return Observation(toolset="t", tool=t.name, arguments=arguments, output=output,
                       started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def pooled(obs: Observation, pointer: str) -> _Option:
    parent, _, key = pointer.rpartition("/")
    container: Any = obs.output
    for token in [t for t in parent.split("/") if t]:
        container = container[int(token)] if isinstance(container, list) else container[token]
    context = {k: v for k, v in container.items() if k != key} if isinstance(container, dict) else {}
    value = container[int(key)] if isinstance(container, list) else container[key]
    return value, _user_source("pool"), PoolValue(value, key, obs.observation_id, pointer, "", None, "t", obs.tool,
                                                  context)


def user(value: Any) -> _Option:
    return value, _user_source("schema-example"), None


def complete(t: Tool, anchored: dict[str, _Option], anchor: Observation,
             options: dict[str, list[_Option]] | None = None) -> dict[str, _Option] | None:
    props = t.input_schema["properties"]
    validators = {p: Draft202012Validator(s) for p, s in props.items()}
    return complete_from_anchor(t, list(t.input_schema["required"]), anchored, options or {}, anchor,
                                lambda pv: TOOLS.get(pv.tool), validators)


PARIS = observation(PLACE, {"name": "Paris"},
                    {"name": "Paris", "latitude": 48.8567, "longitude": 2.3515, "timezone": "Europe/Paris"})
CAPITAL = observation(PLACE, {"name": "France"}, {"name": "France", "latitude": 48.8567, "longitude": 2.3515})


def test_a_place_brings_its_coordinates_and_timezone_and_no_other_place_does() -> None:
    dates = {"date": [user("2024-06-21")], "timezone": [user("Asia/Tokyo")]}
    combo = complete(SUNSET, {"latitude": pooled(PARIS, "/latitude")}, PARIS, dates)
    assert combo is not None
    assert {p: o[0] for p, o in combo.items()} == {"latitude": 48.8567, "longitude": 2.3515,
                                                   "timezone": "Europe/Paris", "date": "2024-06-21"}
    # An output with the coordinates but no timezone cannot anchor a sunset: no schema example fills in.
    assert complete(SUNSET, {"latitude": pooled(CAPITAL, "/latitude"),
                             "longitude": pooled(CAPITAL, "/longitude")}, CAPITAL, dates) is None


def test_latitude_and_longitude_of_two_objects_never_pair() -> None:
    two = observation(PLACE, {"name": "*"}, {"places": [{"latitude": 48.8567, "longitude": 2.3515},
                                                        {"latitude": 35.6828, "longitude": 139.7595}]})
    mixed = {"latitude": pooled(two, "/places/0/latitude"), "longitude": pooled(two, "/places/1/longitude")}
    assert complete(DISTANCE, mixed, two, {"to_latitude": [user(51.5)], "to_longitude": [user(-0.12)]}) is None


def test_a_second_point_is_another_entity_and_may_come_from_the_user() -> None:
    combo = complete(DISTANCE, {"latitude": pooled(PARIS, "/latitude")}, PARIS,
                     {"to_latitude": [user(51.5074)], "to_longitude": [user(-0.1278)]})
    assert combo is not None and combo["longitude"][0] == 2.3515 and combo["to_latitude"][0] == 51.5074
    assert entity_group("to_latitude") == "to" and entity_group("latitude") == ""


def test_a_number_is_converted_from_the_unit_it_was_recorded_in() -> None:
    route = observation(ROUTE, {"origin": "JFK", "dest": "LAX"}, {"dest": "LAX", "distance": 2475})
    combo = complete(CONVERT, {"value": pooled(route, "/distance")}, route, {"to_unit": [user("kilometre")]})
    assert combo is not None and combo["unit"][0] == "mile" and combo["unit"][1] is UNIT_SOURCE
    assert unit_pair(CONVERT) == ("value", "unit")
    assert recorded_unit(route.output, "/distance", ROUTE) == "mile"
    # A unit field beside the value, or the value's name, says it too; nothing says: not converted.
    assert unit_of(10.36, "/wind_speed", None, {"units": "mph"}, None) == "mph"
    assert unit_of(25, "/altitude_ft", None, {}, None) == "foot"
    bare = observation(AIRCRAFT, {"tailnum": "N1"}, {"seats": 149})
    assert complete(CONVERT, {"value": pooled(bare, "/seats")}, bare, {"to_unit": [user("kilometre")]}) is None


def test_a_generic_name_needs_a_shared_topic() -> None:
    plane = observation(AIRCRAFT, {"tailnum": "N14228"}, {"tailnum": "N14228", "year": 1999, "model": "737"})
    holiday = observation(NEXT_HOLIDAY, {"country_code": "FR", "date": "2024-06-01"},
                          {"country_code": "FR", "date": "2024-07-14", "year": 2024})
    assert not means_it(pooled(plane, "/year")[2], AIRCRAFT, HOLIDAYS, "year")  # type: ignore[arg-type]
    assert means_it(pooled(holiday, "/year")[2], NEXT_HOLIDAY, HOLIDAYS, "year")  # type: ignore[arg-type]


def test_items_of_an_unordered_list_are_not_chained_unless_alone() -> None:
    many = observation(CURRENCY, {"code": "EUR"}, {"countries": ["AD", "AT", "BE"], "destinations": ["ATL", "ORD"]})
    alone = observation(CURRENCY, {"code": "JPY"}, {"countries": ["JP"], "destinations": []})
    for pointer in ("/countries/0", "/countries/2"):
        assert arbitrary_item(pooled(many, pointer)[2], CURRENCY, many)  # type: ignore[arg-type]
    assert not arbitrary_item(pooled(alone, "/countries/0")[2], CURRENCY, alone)  # type: ignore[arg-type]
    assert not arbitrary_item(pooled(many, "/destinations/1")[2], CURRENCY, many)  # type: ignore[arg-type]


def test_an_echo_of_the_anchors_arguments_is_the_users_value() -> None:
    holidays = observation(HOLIDAYS, {"country_code": "FR", "year": 2024},
                           {"country_code": "FR", "year": 2024, "holidays": [{"date": "2024-01-01"}]})
    combo = complete(NEXT_HOLIDAY, {"date": pooled(holidays, "/holidays/0/date")}, holidays)
    assert combo is not None and combo["country_code"][:2] == ("FR", ECHO_SOURCE)


def test_modifiers_come_from_the_user_entities_do_not() -> None:
    assert is_modifier("date", {"type": "string", "format": "date"}) and is_modifier("limit", {"type": "integer"})
    assert is_modifier("detail", {"enum": ["basic", "full"]}) and is_modifier("to_unit", STRING)
    assert not is_modifier("timezone", STRING) and not is_modifier("latitude", NUMBER)


def test_a_moving_clock_makes_every_clock_field_volatile() -> None:
    output = {"timezone": "Europe/Paris", "datetime": "2026-12-07T06:00:00+01:00", "day_of_week": "Monday",
              "is_dst": False}
    assert clock_fields(output, frozenset({"/datetime"})) >= {"/datetime", "/day_of_week"}  # (flags are no values)
    assert "/timezone" not in clock_fields(output, frozenset({"/datetime"}))
    assert clock_fields(output, frozenset({"/timezone"})) == frozenset()


# -- over a real run of the embedded default -------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Example], list[Any]]]:
    from flows import Reporter, RunConfig, run_pipeline
    from store import Store

    db = tmp_path_factory.mktemp("meaning") / "bc.duckdb"
    asyncio.run(run_pipeline(RunConfig(examples=20, no_model=True, seed=5), db, Reporter(quiet=True)))
    with Store(db, read_only=True) as store:
        info = store.resolve("default", "latest")
        examples = [e for e, _, _ in store.iter_examples(info.version_id)]
        outputs = [json.loads(o) for (o,) in store.con.execute(
            "SELECT output FROM observations WHERE NOT is_error AND output IS NOT NULL").fetchall()]
    yield examples, outputs


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def test_no_accepted_row_pairs_one_places_latitude_with_anothers_longitude(
        run: tuple[list[Example], list[Any]]) -> None:
    examples, outputs = run
    pairs = {(o.get("latitude"), o.get("longitude")) for out in outputs for o in _objects(out)}
    for example in examples:
        tools = {t.name: t for t in example.tools}
        for step in example.trace.steps:
            for lat, lon in (("latitude", "longitude"), ("to_latitude", "to_longitude")):
                if lat not in step.arguments:
                    continue
                given = (step.arguments[lat], step.arguments[lon])
                examples_of = [tools[step.tool].input_schema["properties"][p].get("examples", []) for p in (lat, lon)]
                listed = set(zip(*examples_of, strict=False))
                assert given in pairs or given in listed, f"{step.tool}{given}: {example.task.user_request}"
