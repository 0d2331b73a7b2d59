"""Geographic and unit tools: timezone lookup, sun times, distances, unit conversion.

Why here: they take the coordinates and quantities other tools put out
(`latitude`/`longitude` from countries and airports, `distance` from routes) and
give back `timezone`, which feeds `sun_times` and the third-party time server.
timezonefinder and pint are slow to load (a few hundred ms each), so they load
on first use and the server answers `tools/list` without waiting for them.
"""

from __future__ import annotations

import functools
import math
import threading
import zoneinfo
from collections.abc import Callable
from datetime import date as Date
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from astral import Observer
from astral import sun as astral_sun
from pydantic import Field

from generators.builtin._models import (
    ConversionResult,
    DistanceResult,
    Latitude,
    Longitude,
    Quantity,
    SunTimesResult,
    TimezoneResult,
    ToolSpec,
    fail,
)

if TYPE_CHECKING:
    import pint
    from timezonefinder import TimezoneFinder

_EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
_lock = threading.Lock()  # timezonefinder and pint registries are not documented as thread-safe


@functools.cache
def _finder() -> TimezoneFinder:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


@functools.cache
def _units() -> pint.UnitRegistry[Any]:
    import pint

    return pint.UnitRegistry()


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(timezone: str) -> zoneinfo.ZoneInfo:
    """An exact IANA key, or a tool error (zoneinfo alone accepts odd spellings on some filesystems)."""
    if timezone not in _known_timezones():
        raise fail(f"Unknown timezone {timezone!r}; pass an IANA name such as 'Europe/Paris'.")
    return zoneinfo.ZoneInfo(timezone)


def timezone_at(latitude: Latitude, longitude: Longitude) -> TimezoneResult:
    """timezonefinder's polygons; open sea gets the nautical Etc/GMT zone."""
    with _lock:
        name = _finder().timezone_at(lat=latitude, lng=longitude)
    if name is None:
        raise fail(f"No timezone found at ({latitude}, {longitude}).")
    return TimezoneResult(latitude=latitude, longitude=longitude, timezone=name)


def _event(fn: Callable[..., datetime], observer: Observer, day: Date, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """One sun event, or None where it does not happen that day (polar day or night)."""
    try:
        return fn(observer, date=day, tzinfo=tz)
    except ValueError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def sun_times(
    latitude: Latitude,
    longitude: Longitude,
    date: Annotated[
        Date,
        Field(description="Local calendar date (YYYY-MM-DD).", examples=["2024-06-21", "2024-12-21", "2013-07-04"]),
    ],
    timezone: Annotated[
        str | None,
        Field(description="IANA timezone name for the times returned (e.g. 'Europe/Paris'); "
              "default: the local time zone at the coordinates.", examples=["Europe/Paris", "Asia/Tokyo"]),
    ] = None,
) -> SunTimesResult:
    """astral at sea level; each event separately so a missing dusk does not hide a sunrise.

    Times are local to the place unless a time zone is asked for, as a person expects of "sunrise in Paris"."""
    if timezone is None:
        timezone = timezone_at(latitude, longitude).timezone
    tz = zone(timezone)
    observer = Observer(latitude=latitude, longitude=longitude, elevation=0.0)
    dawn = _event(astral_sun.dawn, observer, date, tz)
    sunrise = _event(astral_sun.sunrise, observer, date, tz)
    sunset = _event(astral_sun.sunset, observer, date, tz)
    dusk = _event(astral_sun.dusk, observer, date, tz)
    noon = astral_sun.noon(observer, date=date, tzinfo=tz)
    daylight: Literal["normal", "midnight_sun", "polar_night"]
    if sunrise and sunset:
        daylight = "normal"
        minutes = (sunset - sunrise).total_seconds() / 60 % 1440
    elif astral_sun.elevation(observer, noon) > 0:
        daylight, minutes = "midnight_sun", 1440.0
    else:
        daylight, minutes = "polar_night", 0.0
    return SunTimesResult(
        latitude=latitude,
        longitude=longitude,
        date=date.isoformat(),
        timezone=timezone,
        daylight=daylight,
        dawn=_iso(dawn),
        sunrise=_iso(sunrise),
        solar_noon=noon.isoformat(timespec="seconds"),
        sunset=_iso(sunset),
        dusk=_iso(dusk),
        day_length_minutes=round(minutes, 1),
    )


def distance_between(
    latitude: Latitude,
    longitude: Longitude,
    to_latitude: Annotated[
        float,
        Field(
            description="Latitude of the second point, decimal degrees (-90 to 90).",
            ge=-90,
            le=90,
            examples=[51.5074, 33.942536],
        ),
    ],
    to_longitude: Annotated[
        float,
        Field(
            description="Longitude of the second point, decimal degrees (-180 to 180).",
            ge=-180,
            le=180,
            examples=[-0.1278, -118.408075],
        ),
    ],
) -> DistanceResult:
    """Haversine on a sphere of the mean Earth radius: within 0.5% of the ellipsoid."""
    phi1, phi2 = math.radians(latitude), math.radians(to_latitude)
    dphi = phi2 - phi1
    dlam = math.radians(to_longitude - longitude)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    km = 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    y = math.sin(dlam) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlam)
    bearing = (math.degrees(math.atan2(y, x)) + 360) % 360
    return DistanceResult(
        distance=Quantity(value=round(km, 3), unit="kilometer"),
        initial_bearing_deg=round(bearing, 2),
    )


def _tidy(x: float) -> float:
    """Drop float noise (211.99999999999991 -> 212.0) without losing real precision."""
    return float(f"{x:.12g}")


def convert_units(
    value: Annotated[
        float, Field(description="The number to convert (finite).", allow_inf_nan=False, examples=[1, 26.2, 100])
    ],
    unit: Annotated[
        str,
        Field(
            description="Unit of `value`: a pint unit name or symbol (e.g. 'mile', 'km', 'degC', 'foot').",
            min_length=1,
            max_length=64,
            examples=["mile", "kilometer", "degC", "foot"],
        ),
    ],
    to_unit: Annotated[
        str,
        Field(
            description="Unit to convert to, of the same dimension as `unit`.",
            min_length=1,
            max_length=64,
            examples=["kilometer", "mile", "degF", "meter"],
        ),
    ],
) -> ConversionResult:
    """pint's default registry; offset units (degC) convert as absolute temperatures."""
    import pint

    with _lock:
        registry = _units()
        try:
            source, target = registry.parse_units(unit), registry.parse_units(to_unit)
            converted = registry.Quantity(value, source).to(target)
        except pint.errors.DimensionalityError:
            raise fail(f"Cannot convert {unit!r} to {to_unit!r}: different dimensions.") from None
        except (pint.errors.PintError, ValueError, ArithmeticError, TypeError, AttributeError) as exc:
            raise fail(f"Cannot convert {unit!r} to {to_unit!r}: {exc}") from None
        magnitude: Any = converted.magnitude
    return ConversionResult(
        value=_tidy(float(magnitude)),
        unit=str(target),
        input_value=value,
        input_unit=str(source),
    )


TOOLS = [
    ToolSpec(
        timezone_at,
        "Timezone at a point",
        "Find the IANA timezone in force at a latitude and longitude.",
    ),
    ToolSpec(
        sun_times,
        "Sunrise and sunset",
        "Compute dawn, sunrise, solar noon, sunset, dusk and day length at a place on a date, "
        "in local time (or a given timezone).",
    ),
    ToolSpec(
        distance_between,
        "Great-circle distance",
        "Compute the great-circle distance in kilometres and the initial bearing between two points.",
    ),
    ToolSpec(
        convert_units,
        "Unit conversion",
        "Convert a value from one unit to another of the same dimension (length, mass, temperature, speed ...).",
    ),
]
