"""Shared parameter types and output models of the built-in tools.

Why one module: a value chains from one tool into the next only when the output
field and the input parameter share a name (``latitude``, ``timezone``,
``country_code``, ``dest`` ...). Keeping the parameter aliases and the output
models side by side makes that naming contract visible in one place. Every
parameter carries a description, tight bounds and JSON Schema ``examples``,
because the explorer draws its starting arguments from enums, examples and
defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

# --- parameter types shared by several tools -----------------------------------------

Latitude = Annotated[
    float,
    Field(
        description="Latitude in decimal degrees, north positive (-90 to 90).",
        ge=-90,
        le=90,
        examples=[48.8567, 40.6398, 35.6828],
    ),
]
Longitude = Annotated[
    float,
    Field(
        description="Longitude in decimal degrees, east positive (-180 to 180).",
        ge=-180,
        le=180,
        examples=[2.3515, -73.7789, 139.7595],
    ),
]
CountryCode = Annotated[
    str,
    Field(
        description="ISO 3166-1 alpha-2 country code (two letters, e.g. 'FR').",
        pattern=r"^[A-Za-z]{2}$",
        examples=["FR", "US", "JP", "BR"],
    ),
]
Origin = Annotated[
    Literal["EWR", "JFK", "LGA"],
    Field(description="FAA code of the New York City departure airport (the dataset covers these three)."),
]
Dest = Annotated[
    str,
    Field(
        description="FAA code of the destination airport (three letters, e.g. 'LAX').",
        pattern=r"^[A-Za-z0-9]{3}$",
        examples=["LAX", "SFO", "ATL", "ORD"],
    ),
]
FlightDate = Annotated[
    date,
    Field(
        description="Calendar date in 2013 (YYYY-MM-DD); the flight data covers 2013 only.",
        examples=["2013-07-04", "2013-12-24", "2013-01-15"],
    ),
]


# --- outputs -----------------------------------------------------------------------


class Quantity(BaseModel):
    """A number with its unit; the field names match `convert_units`' parameters."""

    value: float = Field(description="The magnitude.")
    unit: str = Field(description="The unit, a name `convert_units` accepts (e.g. 'kilometer', 'mile').")


class CountryRef(BaseModel):
    country_code: str = Field(description="ISO 3166-1 alpha-2 code.")
    name: str = Field(description="English short name.")


class CountryInfoResult(BaseModel):
    country_code: str = Field(description="ISO 3166-1 alpha-2 code.")
    alpha3: str = Field(description="ISO 3166-1 alpha-3 code.")
    name: str = Field(description="English short name.")
    official_name: str | None = Field(description="Official name, when ISO 3166 gives one.")
    capital: str | None = Field(description="Capital city.")
    latitude: float = Field(description="Latitude of the capital (or of the country's centre, see coordinates_of).")
    longitude: float = Field(description="Longitude of the capital (or of the country's centre, see coordinates_of).")
    coordinates_of: Literal["capital", "country"] = Field(description="What latitude/longitude locate.")
    currency_code: str | None = Field(description="ISO 4217 code of the main currency.")
    currency_codes: list[str] = Field(description="All ISO 4217 currency codes in use.")
    calling_code: str | None = Field(description="International dialling prefix, e.g. '+33'.")
    population: int | None = Field(description="Population (countryinfo dataset, mid-2010s figures).")
    area_km2: float | None = Field(description="Area in square kilometres.")
    region: str | None = Field(description="World region, e.g. 'Europe'.")
    subregion: str | None = Field(description="Subregion, e.g. 'Western Europe'.")
    languages: list[str] = Field(description="ISO 639-1 codes of official languages.")
    borders: list[str] = Field(description="Alpha-2 codes of neighbouring countries.")


class CurrencyInfoResult(BaseModel):
    currency_code: str = Field(description="ISO 4217 alphabetic code.")
    name: str = Field(description="English name of the currency.")
    numeric: str | None = Field(description="ISO 4217 numeric code.")
    countries: list[CountryRef] = Field(description="Countries that use this currency.")


class Holiday(BaseModel):
    date: str = Field(description="Date of the holiday, YYYY-MM-DD.")
    name: str = Field(description="English name (local name where no translation exists).")


class HolidayListResult(BaseModel):
    country_code: str = Field(description="ISO 3166-1 alpha-2 code.")
    year: int = Field(description="The calendar year listed.")
    count: int = Field(description="Number of holidays listed.")
    holidays: list[Holiday] = Field(description="Public holidays in date order.")


class NextHolidayResult(BaseModel):
    country_code: str = Field(description="ISO 3166-1 alpha-2 code.")
    after: str = Field(description="The date searched from (excluded), YYYY-MM-DD.")
    date: str = Field(description="Date of the next public holiday, YYYY-MM-DD.")
    name: str = Field(description="English name of the holiday.")
    days_until: int = Field(description="Days from `after` to `date`.")


class TimezoneResult(BaseModel):
    latitude: float = Field(description="The latitude asked about.")
    longitude: float = Field(description="The longitude asked about.")
    timezone: str = Field(description="IANA timezone name in force at that point.")


class SunTimesResult(BaseModel):
    latitude: float = Field(description="The latitude asked about.")
    longitude: float = Field(description="The longitude asked about.")
    date: str = Field(description="The local date, YYYY-MM-DD.")
    timezone: str = Field(description="IANA timezone the times are expressed in.")
    daylight: Literal["normal", "midnight_sun", "polar_night"] = Field(
        description="'normal', or why sunrise/sunset do not happen that day."
    )
    dawn: str | None = Field(description="Civil dawn, ISO 8601 with offset.")
    sunrise: str | None = Field(description="Sunrise, ISO 8601 with offset.")
    solar_noon: str = Field(description="Solar noon, ISO 8601 with offset.")
    sunset: str | None = Field(description="Sunset, ISO 8601 with offset.")
    dusk: str | None = Field(description="Civil dusk, ISO 8601 with offset.")
    day_length_minutes: float = Field(description="Minutes from sunrise to sunset (0 or 1440 in polar cases).")


class DistanceResult(BaseModel):
    distance: Quantity = Field(description="Great-circle distance, in kilometres.")
    initial_bearing_deg: float = Field(description="Initial compass bearing from the first point, 0-360.")


class ConversionResult(BaseModel):
    value: float = Field(description="The converted value.")
    unit: str = Field(description="The unit converted to (canonical name).")
    input_value: float = Field(description="The value given.")
    input_unit: str = Field(description="The unit given (canonical name).")


class AirportInfoResult(BaseModel):
    faa: str = Field(description="FAA airport code.")
    name: str = Field(description="Airport name.")
    latitude: float = Field(description="Latitude of the airport.")
    longitude: float = Field(description="Longitude of the airport.")
    altitude_ft: int | None = Field(description="Elevation in feet.")
    timezone: str | None = Field(description="IANA timezone of the airport.")


class Destination(BaseModel):
    dest: str = Field(description="FAA code of the destination.")
    faa: str = Field(description="The same code, named as `airport_info` takes it.")
    name: str | None = Field(description="Airport name, when the airports table has it.")
    flights: int = Field(description="Scheduled departures to it.")


class TopDestinationsResult(BaseModel):
    origin: str = Field(description="FAA code of the departure airport.")
    year: int = Field(description="Always 2013, the dataset's year.")
    month: int = Field(description="Month counted, 1-12.")
    destinations: list[Destination] = Field(description="Destinations, busiest first.")


class CarrierCount(BaseModel):
    carrier: str = Field(description="Two-letter carrier code.")
    name: str | None = Field(description="Airline name.")
    flights: int = Field(description="Departures operated on the route.")


class RouteStatsResult(BaseModel):
    origin: str = Field(description="FAA code of the departure airport.")
    dest: str = Field(description="FAA code of the destination.")
    year: int = Field(description="Always 2013, the dataset's year.")
    flights: int = Field(description="Scheduled departures on the route in 2013 (0 when none).")
    cancelled: int = Field(description="Departures that never left (no departure time).")
    carriers: list[CarrierCount] = Field(description="Carriers on the route, busiest first.")
    mean_dep_delay_min: float | None = Field(description="Mean departure delay in minutes.")
    mean_arr_delay_min: float | None = Field(description="Mean arrival delay in minutes.")
    mean_air_time_min: float | None = Field(description="Mean time in the air in minutes.")
    distance: Quantity | None = Field(description="Route distance, in miles.")


class Departure(BaseModel):
    carrier: str = Field(description="Two-letter carrier code.")
    flight: int = Field(description="Flight number.")
    tailnum: str | None = Field(description="Tail number of the aircraft.")
    hour: int = Field(description="Scheduled departure hour, local time (0-23).")
    scheduled_departure: str = Field(description="Scheduled departure, local time HH:MM.")
    dep_delay_min: int | None = Field(description="Departure delay in minutes (null when cancelled).")
    arr_delay_min: int | None = Field(description="Arrival delay in minutes (null when unknown).")
    cancelled: bool = Field(description="True when the flight never departed.")


class RouteFlightsResult(BaseModel):
    origin: str = Field(description="FAA code of the departure airport.")
    dest: str = Field(description="FAA code of the destination.")
    date: str = Field(description="The date, YYYY-MM-DD.")
    count: int = Field(description="Number of departures that day.")
    departures: list[Departure] = Field(description="Departures in scheduled order.")


class CarrierInfoResult(BaseModel):
    carrier: str = Field(description="Two-letter carrier code.")
    name: str = Field(description="Airline name.")
    flights: int = Field(description="Departures from New York City airports in 2013.")
    destinations: int = Field(description="Distinct destinations served from New York City.")
    fleet_size: int = Field(description="Distinct tail numbers seen in its 2013 flights.")


class AircraftInfoResult(BaseModel):
    tailnum: str = Field(description="Tail number.")
    manufacturer: str | None = Field(description="Manufacturer.")
    model: str | None = Field(description="Model.")
    year: int | None = Field(description="Year built.")
    type: str | None = Field(description="Aircraft type.")
    engines: int | None = Field(description="Number of engines.")
    engine: str | None = Field(description="Engine type.")
    seats: int | None = Field(description="Number of seats.")
    carrier: str | None = Field(description="Carrier that flew it most from New York City in 2013.")


class WeatherResult(BaseModel):
    origin: str = Field(description="FAA code of the airport.")
    date: str = Field(description="The date, YYYY-MM-DD.")
    hour: int = Field(description="Local hour of the observation (0-23).")
    observed: bool = Field(description="False when no observation was recorded for that hour.")
    temp_f: float | None = Field(description="Temperature, degrees Fahrenheit.")
    dewpoint_f: float | None = Field(description="Dew point, degrees Fahrenheit.")
    humidity_pct: float | None = Field(description="Relative humidity, percent.")
    wind_dir_deg: int | None = Field(description="Wind direction, degrees.")
    wind_speed_mph: float | None = Field(description="Wind speed, miles per hour.")
    wind_gust_mph: float | None = Field(description="Wind gust, miles per hour.")
    precip_in: float | None = Field(description="Precipitation, inches.")
    pressure_mb: float | None = Field(description="Sea-level pressure, millibars.")
    visibility_mi: float | None = Field(description="Visibility, miles.")


@dataclass(frozen=True)
class ToolSpec:
    """One tool: the function, a short title and the description a template writer reuses."""

    fn: Callable[..., BaseModel]
    title: str
    description: str


def fail(message: str) -> ToolError:
    """A tool error the caller reads as an `is_error` result (raise the return value)."""
    return ToolError(message)
