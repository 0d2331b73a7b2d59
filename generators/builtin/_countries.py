"""Country, currency and public-holiday tools (pycountry, countryinfo, holidays).

Why these three together: they share the country code. `country_info` turns a
name a user would type into `country_code` and `currency_code`, which feed the
holiday and currency tools, and into `latitude`/`longitude`, which feed the
geographic tools. All data ships inside the packages, so answers never depend
on the network or on the current date.
"""

from __future__ import annotations

import functools
from datetime import date as Date
from datetime import timedelta
from typing import Annotated, Any, Literal

import holidays
import pycountry
from countryinfo import CountryInfo
from countryinfo.exceptions import CountryNotFoundError
from pydantic import Field

from generators.builtin._models import (
    CountryCode,
    CountryInfoResult,
    CountryRef,
    CurrencyInfoResult,
    Holiday,
    HolidayListResult,
    NextHolidayResult,
    ToolSpec,
    fail,
)

# countryinfo geocoded some capitals to a namesake town on another continent (Dili in
# Delhi, Douglas in Illinois, Kingston of Norfolk Island in Jamaica ...) and put
# Brasilia at Brazil's centre. Found by comparing each capital with its country's
# centre (over 400 km apart) and with astral's city database; coordinates of the
# real capitals below.
_CAPITAL_FIXES: dict[str, tuple[float, float]] = {
    "AG": (17.1274, -61.8468),  # Saint John's
    "AI": (18.2170, -63.0578),  # The Valley
    "BR": (-15.7939, -47.8828),  # Brasilia
    "GD": (12.0561, -61.7488),  # St. George's
    "IM": (54.1523, -4.4861),  # Douglas
    "MS": (16.7056, -62.2126),  # Plymouth
    "NF": (-29.0564, 167.9597),  # Kingston
    "RE": (-20.8823, 55.4504),  # Saint-Denis
    "SH": (-15.9244, -5.7181),  # Jamestown
    "PM": (46.7811, -56.1764),  # Saint-Pierre
    "TL": (-8.5569, 125.5603),  # Dili
    "TN": (36.8065, 10.1815),  # Tunis
}

_HOLIDAY_YEARS = (1950, 2100)


def _first(value: Any) -> Any:
    """countryinfo stores some single values as lists (capitals shared by several towns)."""
    return value[0] if isinstance(value, list) and value else value


def _record(query: str) -> dict[str, Any]:
    """countryinfo's record for ``query`` as a plain dict (its TypedDict lacks keys it has)."""
    return dict(CountryInfo(query).info())


def _lookup(country: str) -> dict[str, Any]:
    """countryinfo record for a name, native name, alternative spelling or ISO code."""
    query = country.strip()
    try:
        info = _record(query)
    except (CountryNotFoundError, ValueError, KeyError):
        info = {}
    if not _current(info):
        try:  # pycountry knows official and common names countryinfo lacks
            record = pycountry.countries.lookup(query)
            info = _record(record.alpha_2)
        except (LookupError, CountryNotFoundError, ValueError, KeyError):
            info = {}
    if not _current(info):
        raise fail(
            f"Unknown country {country!r}{_suggest(query)}. Pass an English name or an ISO alpha-2/alpha-3 code."
        )
    return info


def _current(info: dict[str, Any]) -> bool:
    """A record with an alpha-2 code ISO 3166-1 still assigns (not 'CS', Serbia and Montenegro)."""
    alpha2 = (info.get("ISO") or {}).get("alpha2")
    return bool(alpha2) and pycountry.countries.get(alpha_2=alpha2) is not None


def _suggest(query: str) -> str:
    try:
        hits = pycountry.countries.search_fuzzy(query)[:3]
    except LookupError:
        return ""
    return "; did you mean " + ", ".join(f"{c.name} ({c.alpha_2})" for c in hits)


def _alpha2(alpha3: str) -> str | None:
    record = pycountry.countries.get(alpha_3=alpha3)
    return record.alpha_2 if record else None


def _coordinates(info: dict[str, Any]) -> tuple[float, float, Literal["capital", "country"]]:
    fix = _CAPITAL_FIXES.get(info["ISO"]["alpha2"])
    if fix:
        return fix[0], fix[1], "capital"
    pairs: tuple[tuple[str, Literal["capital", "country"]], ...] = (("capital_latlng", "capital"), ("latlng", "country"))
    for key, what in pairs:
        point = info.get(key)
        if isinstance(point, list) and point and isinstance(point[0], list):
            point = point[0]
        if isinstance(point, list) and len(point) == 2 and all(isinstance(x, int | float) for x in point):
            return float(point[0]), float(point[1]), what
    raise fail(f"No coordinates recorded for {info.get('name')!r}.")


def country_info(
    country: Annotated[
        str,
        Field(
            description="Country name in English or its ISO 3166-1 alpha-2 or alpha-3 code.",
            min_length=2,
            max_length=80,
            examples=["France", "JP", "Brazil", "DEU"],
        ),
    ],
) -> CountryInfoResult:
    """Resolve with countryinfo (names, codes, native names), fall back to pycountry."""
    info = _lookup(country)
    alpha2 = info["ISO"]["alpha2"]
    record = pycountry.countries.get(alpha_2=alpha2)
    latitude, longitude, coordinates_of = _coordinates(info)
    currencies = [c for c in info.get("currencies") or [] if isinstance(c, str)]
    calling = _first(info.get("callingCodes"))
    return CountryInfoResult(
        country_code=alpha2,
        alpha3=info["ISO"].get("alpha3") or (record.alpha_3 if record else ""),
        name=info.get("name") or (record.name if record else alpha2),
        official_name=getattr(record, "official_name", None) if record else None,
        capital=_first(info.get("capital")) or None,
        latitude=latitude,
        longitude=longitude,
        coordinates_of=coordinates_of,
        currency_code=currencies[0] if currencies else None,
        currency_codes=currencies,
        calling_code=f"+{calling}" if calling else None,
        population=info.get("population") or None,
        area_km2=info.get("area") or None,
        region=info.get("region") or None,
        subregion=info.get("subregion") or None,
        languages=[x for x in info.get("languages") or [] if isinstance(x, str)],
        borders=[a2 for a3 in info.get("borders") or [] if (a2 := _alpha2(a3))],
    )


@functools.cache
def _currency_users() -> dict[str, list[CountryRef]]:
    """Currency code -> countries using it, from countryinfo's per-country lists."""
    users: dict[str, dict[str, CountryRef]] = {}
    for record in CountryInfo.all().values():
        info: dict[str, Any] = dict(record)
        if not _current(info):
            continue
        alpha2 = info["ISO"]["alpha2"]
        for code in info.get("currencies") or []:  # setdefault: the Holy See has two files
            users.setdefault(code, {}).setdefault(alpha2, CountryRef(country_code=alpha2, name=info["name"]))
    return {code: [refs[k] for k in sorted(refs)] for code, refs in users.items()}


def currency_info(
    currency_code: Annotated[
        str,
        Field(
            description="ISO 4217 three-letter currency code.",
            pattern=r"^[A-Za-z]{3}$",
            examples=["EUR", "JPY", "USD", "BRL"],
        ),
    ],
) -> CurrencyInfoResult:
    """ISO 4217 name and number from pycountry; users from countryinfo."""
    code = currency_code.upper()
    record = pycountry.currencies.get(alpha_3=code)
    if record is None:
        raise fail(f"Unknown currency code {currency_code!r}; expected an ISO 4217 code such as 'EUR'.")
    return CurrencyInfoResult(
        currency_code=code,
        name=record.name,
        numeric=getattr(record, "numeric", None),
        countries=_currency_users().get(code, []),
    )


def _calendar(country_code: str, years: list[int]) -> holidays.HolidayBase:
    """The country's public holidays, in English where the library has a translation."""
    code = country_code.upper()
    if code not in holidays.list_supported_countries():
        raise fail(f"No public-holiday calendar for country code {country_code!r}.")
    languages = holidays.country_holidays(code).supported_languages
    language = "en_US" if "en_US" in languages else next((x for x in languages if x.startswith("en")), None)
    return holidays.country_holidays(code, years=years, language=language)


def list_public_holidays(
    country_code: CountryCode,
    year: Annotated[
        int,
        Field(description="Calendar year.", ge=_HOLIDAY_YEARS[0], le=_HOLIDAY_YEARS[1], examples=[2024, 2025, 2013]),
    ],
) -> HolidayListResult:
    """Every public holiday of one year; several on one day are joined with '; '."""
    calendar = _calendar(country_code, [year])
    items = sorted((d, name) for d, name in calendar.items() if d.year == year)
    return HolidayListResult(
        country_code=country_code.upper(),
        year=year,
        count=len(items),
        holidays=[Holiday(date=d.isoformat(), name=name) for d, name in items],
    )


def next_public_holiday(
    country_code: CountryCode,
    date: Annotated[
        Date,
        Field(
            description="Date to search from (YYYY-MM-DD); the date itself is excluded.",
            examples=["2024-06-01", "2025-12-01", "2013-06-15"],
        ),
    ],
) -> NextHolidayResult:
    """Searches the given year and the two after it."""
    if not _HOLIDAY_YEARS[0] <= date.year <= _HOLIDAY_YEARS[1] - 2:
        raise fail(f"date must fall between {_HOLIDAY_YEARS[0]} and {_HOLIDAY_YEARS[1] - 2}.")
    calendar = _calendar(country_code, [date.year, date.year + 1, date.year + 2])
    upcoming = sorted((d, name) for d, name in calendar.items() if d > date)
    if not upcoming:
        raise fail(f"No public holiday in {country_code.upper()} within two years after {date.isoformat()}.")
    day, name = upcoming[0]
    return NextHolidayResult(
        country_code=country_code.upper(),
        after=date.isoformat(),
        date=day.isoformat(),
        name=name,
        days_until=(day - date) // timedelta(days=1),
    )


TOOLS = [
    ToolSpec(
        country_info,
        "Country facts",
        "Look up a country's ISO code, capital and its coordinates, currency, calling code, "
        "population and neighbours by name or ISO code.",
    ),
    ToolSpec(
        currency_info,
        "Currency facts",
        "Look up an ISO 4217 currency's name and numeric code and the countries that use it.",
    ),
    ToolSpec(
        list_public_holidays,
        "Public holidays of a year",
        "List a country's public holidays for one calendar year, with dates and English names.",
    ),
    ToolSpec(
        next_public_holiday,
        "Next public holiday",
        "Find the first public holiday in a country after a given date.",
    ),
]
