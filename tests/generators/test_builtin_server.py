"""The built-in toolset as a client sees it: a real `python -m generators.builtin` process over stdio.

One server process serves the whole module (starting one costs about a second).
The client session lives in one long-lived task on a background event loop,
because the SDK's anyio task groups must be entered and left by the same task;
each test submits its calls to that loop. Facts asserted are facts of the
shipped data (France's capital, JFK's timezone, 2013 JetBlue flights ...).
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, InitializeResult, Tool

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CALL_TIMEOUT_S = 30.0

# (producer, consumer, shared field names): output fields that feed parameters by name.
CHAIN_EDGES: list[tuple[str, str, set[str]]] = [
    ("country_info", "timezone_at", {"latitude", "longitude"}),
    ("country_info", "list_public_holidays", {"country_code"}),
    ("country_info", "next_public_holiday", {"country_code"}),
    ("country_info", "currency_info", {"currency_code"}),
    ("country_info", "distance_between", {"latitude", "longitude"}),
    ("timezone_at", "sun_times", {"latitude", "longitude", "timezone"}),
    ("airport_info", "sun_times", {"latitude", "longitude", "timezone"}),
    ("next_public_holiday", "sun_times", {"date"}),
    ("next_public_holiday", "route_flights", {"date"}),
    ("route_stats", "list_public_holidays", {"year"}),
    ("convert_units", "convert_units", {"value", "unit"}),
]
# Chains whose shared fields sit inside a list or a nested object of the output.
NESTED_EDGES: list[tuple[str, str, str, set[str]]] = [
    ("top_destinations", "destinations", "route_stats", {"dest"}),
    ("top_destinations", "destinations", "airport_info", {"faa"}),
    ("route_stats", "carriers", "carrier_info", {"carrier"}),
    ("route_stats", "distance", "convert_units", {"value", "unit"}),
    ("distance_between", "distance", "convert_units", {"value", "unit"}),
    ("route_flights", "departures", "aircraft_info", {"tailnum"}),
    ("route_flights", "departures", "airport_weather", {"hour"}),
    ("currency_info", "countries", "list_public_holidays", {"country_code"}),
]


class BuiltinServer:
    """A server process plus client session, owned by one task on a background loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mcp-client-loop", daemon=True)
        self.thread.start()
        self._ready = threading.Event()
        self._closing: asyncio.Event | None = None
        self.session: ClientSession | None = None
        self.init: InitializeResult | None = None
        self.tools: dict[str, Tool] = {}
        self.start_seconds = math.nan
        self._owner = asyncio.run_coroutine_threadsafe(self._own(), self.loop)
        if not self._ready.wait(CALL_TIMEOUT_S) or self.session is None:
            try:  # surface the startup exception, if there is one
                self._owner.result(CALL_TIMEOUT_S)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
            raise RuntimeError("the built-in server did not start")

    async def _own(self) -> None:
        self._closing = asyncio.Event()
        params = StdioServerParameters(command=sys.executable, args=["-m", "generators.builtin"], cwd=ROOT)
        started = time.perf_counter()
        try:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                self.init = await session.initialize()
                self.tools = {t.name: t for t in (await session.list_tools()).tools}
                self.start_seconds = time.perf_counter() - started
                self.session = session
                self._ready.set()
                await self._closing.wait()
        finally:
            self._ready.set()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT_S)

    def call(self, name: str, **arguments: Any) -> CallToolResult:
        assert self.session is not None
        return self.run(self.session.call_tool(name, arguments))

    def ok(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Structured content of a call that must succeed."""
        result = self.call(name, **arguments)
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        assert not result.is_error, f"{name}({arguments}) failed: {text}"
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    def close(self) -> None:
        if self._closing is not None:
            self.loop.call_soon_threadsafe(self._closing.set)
        self._owner.result(CALL_TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(CALL_TIMEOUT_S)
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[BuiltinServer]:
    srv = BuiltinServer()
    try:
        yield srv
    finally:
        srv.close()


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


# --- the listing -------------------------------------------------------------------


def test_identity_and_start_time(server: BuiltinServer) -> None:
    assert server.init is not None
    assert server.init.server_info.name == "backchain-builtin"
    assert server.init.server_info.version
    # initialize + tools/list must not wait for the flight data (about a second to load).
    assert server.start_seconds < 5.0, f"start took {server.start_seconds:.2f} s"


def test_tools_are_read_only_and_fully_described(server: BuiltinServer) -> None:
    assert 12 <= len(server.tools) <= 15
    for tool in server.tools.values():
        a = tool.annotations
        assert a is not None, tool.name
        assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (
            True,
            False,
            True,
            False,
        ), tool.name
        assert tool.description and tool.description[0].isupper() and tool.description.endswith("."), tool.name
        assert tool.output_schema and tool.output_schema.get("properties"), tool.name
        props = tool.input_schema["properties"]
        assert props, tool.name
        for pname, prop in props.items():
            assert prop.get("description"), f"{tool.name}.{pname} has no description"
            # A starting value for the explorer: an enum, examples or a default.
            assert prop.get("enum") or prop.get("examples") or "default" in prop, f"{tool.name}.{pname}"


def test_bounds_and_enums_in_schemas(server: BuiltinServer) -> None:
    lat = server.tools["timezone_at"].input_schema["properties"]["latitude"]
    assert (lat["minimum"], lat["maximum"]) == (-90, 90)
    month = server.tools["top_destinations"].input_schema["properties"]["month"]
    assert (month["minimum"], month["maximum"]) == (1, 12)
    origin = server.tools["route_stats"].input_schema["properties"]["origin"]
    assert sorted(origin["enum"]) == ["EWR", "JFK", "LGA"]
    assert "B6" in server.tools["carrier_info"].input_schema["properties"]["carrier"]["enum"]
    assert server.tools["sun_times"].input_schema["properties"]["date"]["format"] == "date"


def _output_fields(schema: dict[str, Any], field: str | None = None) -> set[str]:
    """Property names of the output, or of the object (or list items) under `field`."""
    if field is None:
        return set(schema["properties"])
    node = schema["properties"][field]
    node = node.get("items", node)
    if "anyOf" in node:
        node = next(n for n in node["anyOf"] if n.get("type") != "null")
    ref = node["$ref"].rsplit("/", 1)[-1]
    return set(schema["$defs"][ref]["properties"])


def test_output_fields_are_named_after_the_parameters_they_feed(server: BuiltinServer) -> None:
    for producer, consumer, names in CHAIN_EDGES:
        assert names <= _output_fields(server.tools[producer].output_schema or {}), (producer, names)
        assert names <= set(server.tools[consumer].input_schema["properties"]), (consumer, names)
    for producer, field, consumer, names in NESTED_EDGES:
        assert names <= _output_fields(server.tools[producer].output_schema or {}, field), (producer, field)
        assert names <= set(server.tools[consumer].input_schema["properties"]), (consumer, names)


# --- each tool on real values ---------------------------------------------------------


def test_country_info(server: BuiltinServer) -> None:
    france = server.ok("country_info", country="France")
    assert (france["country_code"], france["capital"], france["currency_code"]) == ("FR", "Paris", "EUR")
    assert france["calling_code"] == "+33" and france["coordinates_of"] == "capital"
    assert abs(france["latitude"] - 48.86) < 0.1 and abs(france["longitude"] - 2.35) < 0.1
    assert "DE" in france["borders"]
    assert server.ok("country_info", country="JP")["capital"] == "Tokyo"
    assert server.ok("country_info", country="DEU")["name"] == "Germany"
    brazil = server.ok("country_info", country="Brazil")  # the corrected capital, not the country's centre
    assert abs(brazil["latitude"] + 15.79) < 0.1 and abs(brazil["longitude"] + 47.88) < 0.1


def test_currency_info(server: BuiltinServer) -> None:
    euro = server.ok("currency_info", currency_code="EUR")
    assert euro["name"] == "Euro" and euro["numeric"] == "978"
    codes = [c["country_code"] for c in euro["countries"]]
    assert {"FR", "DE", "IT"} <= set(codes) and len(codes) == len(set(codes))


def test_public_holidays(server: BuiltinServer) -> None:
    fr = server.ok("list_public_holidays", country_code="FR", year=2024)
    dates = {h["date"] for h in fr["holidays"]}
    assert {"2024-07-14", "2024-12-25", "2024-01-01"} <= dates and fr["count"] == len(fr["holidays"])
    nxt = server.ok("next_public_holiday", country_code="US", date="2013-06-15")
    assert (nxt["date"], nxt["name"], nxt["days_until"]) == ("2013-07-04", "Independence Day", 19)
    # The date itself is excluded.
    assert server.ok("next_public_holiday", country_code="US", date="2013-07-04")["date"] > "2013-07-04"


def test_timezone_and_sun_times(server: BuiltinServer) -> None:
    assert server.ok("timezone_at", latitude=48.8567, longitude=2.3515)["timezone"] == "Europe/Paris"
    assert server.ok("timezone_at", latitude=35.68, longitude=139.76)["timezone"] == "Asia/Tokyo"
    sun = server.ok("sun_times", latitude=48.8567, longitude=2.3515, date="2024-06-21", timezone="Europe/Paris")
    assert sun["daylight"] == "normal"
    assert sun["sunrise"].startswith("2024-06-21T05:4") and sun["sunrise"].endswith("+02:00")
    assert sun["sunset"].startswith("2024-06-21T21:5")
    assert 960 < sun["day_length_minutes"] < 980
    polar = server.ok("sun_times", latitude=78.22, longitude=15.65, date="2024-12-21", timezone="Arctic/Longyearbyen")
    assert polar["daylight"] == "polar_night" and polar["sunrise"] is None and polar["day_length_minutes"] == 0


def test_distance_and_units(server: BuiltinServer) -> None:
    jfk_lax = server.ok(
        "distance_between", latitude=40.639751, longitude=-73.778925, to_latitude=33.942536, to_longitude=-118.408075
    )
    assert jfk_lax["distance"]["unit"] == "kilometer" and abs(jfk_lax["distance"]["value"] - 3974) < 10
    mile = server.ok("convert_units", value=1, unit="mile", to_unit="kilometer")
    assert mile["unit"] == "kilometer" and abs(mile["value"] - 1.609344) < 1e-9
    assert server.ok("convert_units", value=100, unit="degC", to_unit="degF")["value"] == 212.0


def test_flight_tools(server: BuiltinServer) -> None:
    jfk = server.ok("airport_info", faa="JFK")
    assert jfk["name"] == "John F Kennedy Intl" and jfk["timezone"] == "America/New_York"
    top = server.ok("top_destinations", origin="JFK", month=7, limit=3)
    assert [d["dest"] for d in top["destinations"]] == ["LAX", "SFO", "BOS"]
    assert top["destinations"][0]["flights"] == 985
    route = server.ok("route_stats", origin="JFK", dest="LAX")
    assert route["flights"] == 11262 and route["distance"] == {"value": 2475.0, "unit": "mile"}
    assert {c["carrier"] for c in route["carriers"]} == {"AA", "B6", "DL", "UA", "VX"}
    day = server.ok("route_flights", origin="JFK", dest="LAX", date="2013-07-04")
    assert day["count"] == len(day["departures"]) > 0
    first = day["departures"][0]
    assert (first["carrier"], first["flight"], first["tailnum"], first["scheduled_departure"]) == (
        "UA",
        771,
        "N554UA",
        "06:30",
    )
    jetblue = server.ok("carrier_info", carrier="B6")
    assert jetblue["name"] == "JetBlue Airways" and jetblue["flights"] == 54635
    plane = server.ok("aircraft_info", tailnum="N14228")
    assert (plane["manufacturer"], plane["model"], plane["year"], plane["carrier"]) == ("BOEING", "737-824", 1999, "UA")
    weather = server.ok("airport_weather", origin="JFK", date="2013-07-04", hour=8)
    assert weather["observed"] and weather["temp_f"] == pytest.approx(78.98)


def test_empty_route_is_a_result_not_an_error(server: BuiltinServer) -> None:
    empty = server.ok("route_stats", origin="JFK", dest="EEN")  # a real airport nobody flew to from JFK
    assert (empty["flights"], empty["carriers"], empty["distance"]) == (0, [], None)


# --- chains: one call's output is the next call's input -------------------------------


def test_chain_country_to_timezone_to_sun_times(server: BuiltinServer) -> None:
    japan = server.ok("country_info", country="Japan")
    tz = server.ok("timezone_at", latitude=japan["latitude"], longitude=japan["longitude"])
    assert tz["timezone"] == "Asia/Tokyo"
    holiday = server.ok("next_public_holiday", country_code=japan["country_code"], date="2025-04-30")
    assert holiday["date"] == "2025-05-03"
    sun = server.ok(
        "sun_times", latitude=tz["latitude"], longitude=tz["longitude"], date=holiday["date"], timezone=tz["timezone"]
    )
    assert sun["sunrise"].startswith("2025-05-03T04:") and sun["sunrise"].endswith("+09:00")


def test_chain_airport_to_route_to_aircraft_to_carrier(server: BuiltinServer) -> None:
    top = server.ok("top_destinations", origin="LGA", month=12, limit=1)["destinations"][0]
    dest = server.ok("airport_info", faa=top["faa"])
    assert server.ok("timezone_at", latitude=dest["latitude"], longitude=dest["longitude"])["timezone"] == dest[
        "timezone"
    ]
    route = server.ok("route_stats", origin="LGA", dest=top["dest"])
    assert route["flights"] >= top["flights"]
    km = server.ok("convert_units", value=route["distance"]["value"], unit=route["distance"]["unit"], to_unit="km")
    assert km["value"] == pytest.approx(route["distance"]["value"] * 1.609344)
    departure = server.ok("route_flights", origin="LGA", dest=top["dest"], date="2013-12-24")["departures"][0]
    plane = server.ok("aircraft_info", tailnum=departure["tailnum"])
    airline = server.ok("carrier_info", carrier=plane["carrier"])
    assert airline["carrier"] == plane["carrier"] and airline["name"]
    assert server.ok("airport_weather", origin="LGA", date="2013-12-24", hour=departure["hour"])["hour"] == departure[
        "hour"
    ]


# --- errors -------------------------------------------------------------------------


def test_unknown_inputs_are_tool_errors_and_the_server_keeps_answering(server: BuiltinServer) -> None:
    assert "Atlantis" in error_text(server.call("country_info", country="Atlantis"))
    assert server.ok("country_info", country="FR")["capital"] == "Paris"
    assert "ZZZ" in error_text(server.call("airport_info", faa="ZZZ"))
    assert "2013 only" in error_text(server.call("route_flights", origin="JFK", dest="LAX", date="2014-07-04"))
    assert error_text(server.call("top_destinations", origin="JFK", month=13))
    assert "dimension" in error_text(server.call("convert_units", value=1, unit="mile", to_unit="kilogram"))
    assert "timezone" in error_text(
        server.call("sun_times", latitude=0, longitude=0, date="2024-01-01", timezone="Mars/Olympus")
    )
    assert server.ok("airport_info", faa="LGA")["faa"] == "LGA"


def test_calls_are_deterministic(server: BuiltinServer) -> None:
    args = {"origin": "EWR", "dest": "ORD"}
    assert server.ok("route_stats", **args) == server.ok("route_stats", **args)
