"""One normaliser for every comparison of a value with text or with another value.

Provenance ("the user said it"), leakage ("the request gives the answer away"),
the answer checker ("the reply states the answer") and answer matching all ask
this module, so they cannot drift apart (issue 18). What counts as the same:

- numbers: 3125 = 3,125 = 3125.0 = 3.125e3; "45%" states 45 (and 0.45); small
  number words ("five"); a rounded number only where rounding is stated
  ("about 11.5") or kept to 4 significant digits, and, for leakage, any rounding;
- dates: 2026-03-01 = March 1, 2026 = 1 March 2026 = 1st of March 2026 = 03/01/2026;
  a date-time is stated by its local time of day to the minute ("4:47 a.m.");
- times: 14:00 = 2 pm = 2:00 p.m.; an hour 14 = "14:00" = "2 pm"; a month 12 = "December";
- case, Unicode width and whitespace; a unit and its spellings (degC = °C =
  degrees Celsius; mile = miles = mi); a number followed by a unit of the same
  dimension but another unit is *not* the value (762 miles is not 762 km);
- a code and its name where a recorded output gives both (``code_name_aliases``).

Generators, validators and the exported reward share it, so it lives in schemas/. It must stay
self-contained (standard library and python-dateutil): a trl-grpo export inlines it, verbatim, as
its reward's answer checker, without the one import of record classes (used in annotations only).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from schemas._records import Answer, Normaliser

_DASHES = str.maketrans({"\u2212": "-", "\u2012": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " "})


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed, a typographic minus read as '-'."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).translate(_DASHES)).casefold().strip()


# --- units ----------------------------------------------------------------------------------

# canonical unit -> (dimension, spellings). Spellings are matched after normalise_text.
_UNITS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kilometre": ("length", ("km", "kms", "kilometer", "kilometers", "kilometre", "kilometres")),
    "metre": ("length", ("m", "meter", "meters", "metre", "metres")),
    "centimetre": ("length", ("cm", "centimeter", "centimeters", "centimetre", "centimetres")),
    "millimetre": ("length", ("mm", "millimeter", "millimeters", "millimetre", "millimetres")),
    "mile": ("length", ("mi", "mile", "miles", "statute mile", "statute miles")),
    "nautical mile": ("length", ("nmi", "nautical mile", "nautical miles")),
    "foot": ("length", ("ft", "foot", "feet")),
    "inch": ("length", ("inch", "inches")),
    "yard": ("length", ("yd", "yds", "yard", "yards")),
    "kilogram": ("mass", ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme")),
    "gram": ("mass", ("g", "gram", "grams", "gramme", "grammes")),
    "pound": ("mass", ("lb", "lbs", "pound", "pounds")),
    "ounce": ("mass", ("oz", "ounce", "ounces")),
    "degC": ("temperature", ("degc", "°c", "ºc", "deg c", "celsius", "degree celsius", "degrees celsius",
                             "centigrade", "degrees centigrade")),
    "degF": ("temperature", ("degf", "°f", "ºf", "deg f", "fahrenheit", "degree fahrenheit",
                             "degrees fahrenheit")),
    "kelvin": ("temperature", ("kelvin", "kelvins")),
    "mph": ("speed", ("mph", "mi/h", "miles per hour", "mile per hour", "miles an hour")),
    "km/h": ("speed", ("km/h", "kph", "kmh", "km/hr", "kilometers per hour", "kilometres per hour",
                       "kilometer per hour", "kilometre per hour")),
    "m/s": ("speed", ("m/s", "meters per second", "metres per second", "meter per second")),
    "knot": ("speed", ("kn", "kt", "kts", "knot", "knots")),
    "second": ("time", ("s", "sec", "secs", "second", "seconds")),
    "minute": ("time", ("min", "mins", "minute", "minutes")),
    "hour": ("time", ("h", "hr", "hrs", "hour", "hours")),
    "day": ("time", ("day", "days")),
    "percent": ("ratio", ("%", "percent", "per cent", "pct", "percentage points")),
    "degree": ("angle", ("°", "º", "deg", "degree", "degrees")),
    "millibar": ("pressure", ("mb", "mbar", "millibar", "millibars", "hpa", "hectopascal", "hectopascals")),
    "inHg": ("pressure", ("inhg", "inches of mercury")),
    "square kilometre": ("area", ("km2", "sq km", "square kilometer", "square kilometers",
                                  "square kilometre", "square kilometres")),
    "square mile": ("area", ("mi2", "sq mi", "square mile", "square miles")),
    "litre": ("volume", ("l", "liter", "liters", "litre", "litres")),
    "gallon": ("volume", ("gal", "gallon", "gallons")),
}
_SPELLING: dict[str, str] = {s: canon for canon, (_, spellings) in _UNITS.items() for s in spellings}
_SPELLING.update({canon.casefold(): canon for canon in _UNITS})
# longest first, so "miles per hour" wins over "miles"
_UNIT_AFTER = re.compile(
    r"\s?(" + "|".join(re.escape(s) for s in sorted(_SPELLING, key=len, reverse=True)) + r")(?![\w/])"
)


def canonical_unit(text: str) -> str | None:
    """'km' -> 'kilometre', 'degrees Fahrenheit' -> 'degF'; None for what is not a unit."""
    return _SPELLING.get(normalise_text(text).removesuffix(".").replace("_", " "))


def unit_dimension(unit: str | None) -> str | None:
    canon = canonical_unit(unit) if unit else None
    return _UNITS[canon][0] if canon else None


def _units_clash(expected: str | None, stated: str | None) -> bool:
    """A stated unit that is another unit of the expected one's dimension."""
    if not expected or not stated:
        return False
    a, b = canonical_unit(expected), canonical_unit(stated)
    return a is not None and b is not None and a != b and _UNITS[a][0] == _UNITS[b][0]


# --- numbers --------------------------------------------------------------------------------

_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
               "ninety": 90, "hundred": 100, "a dozen": 12})

# A number standing on its own: "7th" states 7 and "-73.77" states -73.77, but the parts of
# "2013-07-04", "14:00", "5.5" or "5-10" state no 7, 0, 5 or 10. "3,125" is 3125.
_NUMBER = re.compile(
    r"(?<![\w.:/-])(?P<n>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?)(?!\d|\.\d|[-/:]\d|,\d{3})"
    r"|(?<=\s)(?P<m>-\d+(?:\.\d+)?)(?!\d|\.\d|[-/:]\d)"
)
_WORD_NUMBER = re.compile(r"(?<![\w-])(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")(?![\w-])")
_APPROX = re.compile(
    r"(?:about|around|approximately|approx\.?|roughly|nearly|almost|some|close to|just over|just under|"
    r"~|≈|rounded to|circa|ca\.)\s*$"
)
_ROUNDED_AFTER = re.compile(r"^\s*(?:\S+\s+){0,3}?\(?(?:rounded|approximately|approx\.?|or so)\b")


class NumberMention(NamedTuple):
    """A number found in text, with how precisely and in what unit it is stated.

    A NamedTuple, not a dataclass: this module is inlined into the reward file a trl-grpo
    export writes, which a trainer may load without registering it in sys.modules (a
    dataclass needs its module there)."""

    value: float
    decimals: int
    digits: int  # significant digits as written
    percent: bool = False
    unit: str | None = None  # canonical unit written right after it
    approx: bool = False
    word: bool = False
    start: int = 0
    end: int = 0


def _parse_number(text: str) -> float | None:
    """'3,125' -> 3125.0; '45%' -> 45.0; '+9.0' -> 9.0; None when it is not one number."""
    t = normalise_text(text).removesuffix("%").strip().replace(",", "")
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numbers_in(text: str) -> list[NumberMention]:
    """Every number stated in ``text`` (after normalise_text), in order."""
    norm = normalise_text(text)
    out: list[NumberMention] = []
    for m in _NUMBER.finditer(norm):
        raw = m.group("n") or m.group("m")
        value = _parse_number(raw)
        if value is None:
            continue
        mantissa = raw.lstrip("+-").split("e")[0].replace(",", "")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        digits = len(mantissa.replace(".", "").lstrip("0")) or 1
        after = norm[m.end():m.end() + 40]
        u = _UNIT_AFTER.match(after)
        unit = _SPELLING[u.group(1)] if u else None
        out.append(NumberMention(
            value, decimals, digits, percent=unit == "percent", unit=unit,
            approx=bool(_APPROX.search(norm[max(0, m.start() - 20):m.start()]) or _ROUNDED_AFTER.match(after)),
            start=m.start(), end=m.end(),
        ))
    for m in _WORD_NUMBER.finditer(norm):
        after = norm[m.end():m.end() + 40]
        u = _UNIT_AFTER.match(after)
        out.append(NumberMention(float(_WORDS[m.group(1)]), 0, 1, unit=_SPELLING[u.group(1)] if u else None,
                                 word=True, start=m.start(), end=m.end()))
    return sorted(out, key=lambda n: n.start)


def _number_matches(target: float, n: NumberMention, *, unit: str | None, rounding: str,
                    tolerance: float = 0.0) -> bool:
    """Does the mention state ``target``? rounding: 'exact', 'stated' (answers) or 'any' (leakage)."""
    if _units_clash(unit, n.unit):
        return False
    candidates = [n.value] + ([n.value / 100] if n.percent and unit != "percent" else [])
    for c in candidates:
        if c == target or (tolerance and math.isclose(c, target, rel_tol=tolerance, abs_tol=tolerance)):
            return True
        if n.word or rounding == "exact" or c != n.value:
            continue
        rounded = round(target, n.decimals)
        if not math.isclose(rounded, c, abs_tol=10 ** -(n.decimals + 6)) or n.digits < 2:
            continue
        if rounding == "any" and (n.decimals > 0 or abs(target) >= 100):
            return True
        if rounding == "stated" and (n.approx or n.digits >= 4) and (n.decimals > 0 or abs(target) >= 100):
            return True
    return False


# --- dates and times ------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY_RE = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR_RE = r"(?P<year>\d{4})"
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<year>\d{4})/(?P<mnum>\d{1,2})/(?P<day>\d{1,2})(?!\d)"),
    re.compile(rf"(?<![\w]){_MONTH_RE}\s+{_DAY_RE},?\s+{_YEAR_RE}(?!\d)"),
    re.compile(rf"(?<![\w\d]){_DAY_RE}\s+(?:of\s+)?{_MONTH_RE},?\s+{_YEAR_RE}(?!\d)"),
    re.compile(r"(?<![\d/])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})(?!\d)"),
]
_TIME_RE = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*(?P<ap>a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z])"
    r"|(?<![\d:.])(?P<h24>\d{1,2}):(?P<m24>\d{2})(?::(?P<s24>\d{2})(?:\.\d+)?)?(?![\d])"
    r"|(?<=\bat )(?P<word>noon|midday|midnight)"
)


def dates_in(text: str) -> list[_dt.date]:
    """Every calendar date written in ``text`` (ISO, 'March 1, 2026', '1 March 2026', '03/01/2026')."""
    norm = normalise_text(text)
    out: list[_dt.date] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(norm):
            g = m.groupdict()
            year = int(g["year"])
            if g.get("mon"):
                pairs = [(_MONTHS[g["mon"]], int(g["day"]))]
            elif g.get("mnum"):
                pairs = [(int(g["mnum"]), int(g["day"]))]
            else:  # a/b/yyyy: month first (US), or day first when that is the only reading
                a, b = int(g["a"]), int(g["b"])
                pairs = [(a, b), (b, a)]
            for month, day in pairs:
                try:
                    out.append(_dt.date(year, month, day))
                except ValueError:
                    continue
    return out


def times_in(text: str) -> list[int]:
    """Times of day written in ``text``, as seconds after midnight ('2 pm', '14:00', '4:47:14 a.m.')."""
    norm = normalise_text(text)
    out: list[int] = []
    for m in _TIME_RE.finditer(norm):
        if m.group("word"):
            out.append(0 if m.group("word") == "midnight" else 12 * 3600)
            continue
        if m.group("h") is not None:
            h, mi, s = int(m.group("h")), int(m.group("m") or 0), int(m.group("s") or 0)
            if not 1 <= h <= 12:
                continue
            h = h % 12 + (12 if m.group("ap").startswith("p") else 0)
        else:
            h, mi, s = int(m.group("h24")), int(m.group("m24")), int(m.group("s24") or 0)
        if h < 24 and mi < 60 and s < 60:
            out.append(h * 3600 + mi * 60 + s)
    return out


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DURATION = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|m|min|mins|minutes?)$")


def parse_when(value: Any) -> _dt.date | _dt.datetime | None:
    """A date or date-time from ISO 8601 or a common written form ("21 June 2024"), else None."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value
    if not isinstance(value, str) or not re.search(r"\d", value):
        return None
    text = value.strip()
    try:
        return _dt.date.fromisoformat(text) if len(text) == 10 else _dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        from dateutil import parser as _dateparser

        parsed = _dateparser.parse(text, fuzzy=False)
    except (ValueError, OverflowError):
        return None
    has_time = bool(re.search(r"\d:\d", text))
    return parsed if has_time else parsed.date()


def _seconds(t: _dt.datetime | _dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _time_stated(seconds: int, text: str) -> bool:
    """A time of day stated to the minute (truncated or rounded) or exactly."""
    return any(abs(t - seconds) < 60 for t in times_in(text))


def _duration_hours(value: str) -> float | None:
    m = _DURATION.match(normalise_text(value))
    if not m:
        return None
    amount = float(m.group(1))
    return amount if m.group(2).startswith("h") else amount / 60


# --- hints from a parameter's name and schema -------------------------------------------------

def _name_tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if t}


def value_hint(param: str, schema: Mapping[str, Any] | None = None) -> str | None:
    """What kind of value a parameter holds, from its name and schema: month, hour, unit, date ..."""
    schema = schema or {}
    tokens = _name_tokens(param)
    kind = schema.get("type")
    if "month" in tokens and kind in ("integer", "number", None):
        return "month"
    if tokens & {"hour", "hours"} and kind in ("integer", "number", None):
        return "hour"
    if "unit" in tokens or "units" in tokens:
        return "unit"
    fmt = schema.get("format")
    if fmt in ("date", "date-time", "time"):
        return str(fmt)
    return None


# --- codes and names ------------------------------------------------------------------------

_CODE = re.compile(r"^[A-Z0-9]{2,4}$")
_NAME_KEYS = ("name", "english_name", "common_name", "short_name", "title", "label")


def code_name_aliases(outputs: Iterable[Any]) -> dict[str, set[str]]:
    """Code <-> name pairs that recorded outputs give side by side ({'FR': {'France'}, ...}).

    Any object with a name field and short upper-case code fields (with a letter):
    a country's 'FR' and 'FRA' and 'France', an airline's 'UA' and its name. Keys are
    normalised; values are the spellings as recorded.
    """
    aliases: dict[str, set[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            name = next((node[k] for k in _NAME_KEYS if isinstance(node.get(k), str) and node[k].strip()), None)
            # An entity's record (a country, an airline), not an event's: an event's name (a holiday on a
            # date) is not the name of the country code beside it.
            dated = any(isinstance(v, str) and (_ISO_DATE.match(v) or _ISO_DATETIME.match(v)) for v in node.values())
            if name is not None and not dated:
                # The object's own code is its first code field (a country's "country_code", an
                # airline's "carrier"), or one named as another spelling of it ("alpha3"); a later
                # code field names something else (a country's "currency_code").
                found = [(k, v) for k, v in node.items() if k not in _NAME_KEYS and isinstance(v, str)
                         and _CODE.match(v) and re.search(r"[A-Z]", v)]
                codes = [v for i, (k, v) in enumerate(found)
                         if i == 0 or re.search(r"alpha|iso|abbrev|symbol", k, flags=re.I)]
                for code in codes:
                    aliases.setdefault(normalise_text(code), set()).add(name)
                    aliases.setdefault(normalise_text(name), set()).add(code)
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    for output in outputs:
        visit(output)
    return aliases


# --- matching -------------------------------------------------------------------------------

def _word_in(needle: str, norm: str) -> bool:
    """``needle`` as a whole word or phrase ("US" is not in "tell us more")."""
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", norm) is not None


def _string_in(value: str, text: str, norm: str) -> bool:
    if value.isupper() and len(value.strip()) <= 2:
        # Two-letter codes keep their case: "US" is not stated by "tell us", "IT" by "it".
        return _word_in(unicodedata.normalize("NFKC", value.strip()), unicodedata.normalize("NFKC", text))
    return _word_in(normalise_text(value), norm)


def value_in_text(
    value: Any, text: str, *, hint: str | None = None, aliases: Mapping[str, set[str]] | None = None,
    unit: str | None = None, lenient: bool = False,
) -> bool:
    """Whether ``value`` is stated in ``text`` (every scalar of a list or object).

    Numbers are compared as numbers (48.8566 matches "48.85660", not "48.85661", nor a
    rounded "48.86" unless ``lenient``: leakage catches any rounding); strings as whole
    words after NFKC and case folding; dates, times, units, durations and code/name
    pairs in any of their common spellings (see the module docstring). ``hint`` says what
    a parameter holds ('month', 'hour', 'unit', 'date', see ``value_hint``); ``unit`` is the
    value's unit, so "762 km" does not state 762 miles.
    """
    norm = normalise_text(text)
    if isinstance(value, bool):
        words = ("true", "yes") if value else ("false", "no")
        return any(_word_in(w, norm) for w in words)
    if isinstance(value, (int, float)):
        return _number_in(float(value), text, norm, hint=hint, unit=unit, lenient=lenient)
    if isinstance(value, str):
        if not value.strip():
            return False
        if _string_in(value, text, norm):
            return True
        if _special_string_in(value, text, norm, hint=hint, lenient=lenient):
            return True
        return any(_string_in(alias, text, norm) for alias in (aliases or {}).get(normalise_text(value), ()))
    if isinstance(value, list):
        return all(value_in_text(v, text, hint=hint, aliases=aliases, unit=unit, lenient=lenient) for v in value)
    if isinstance(value, dict):
        return all(value_in_text(v, text, hint=hint, aliases=aliases, lenient=lenient) for v in value.values())
    if value is None:
        return True
    return normalise_text(json.dumps(value)) in norm


def _number_in(target: float, text: str, norm: str, *, hint: str | None, unit: str | None, lenient: bool) -> bool:
    if not math.isfinite(target):
        return False
    mentions = numbers_in(text)
    rounding = "any" if lenient else "exact"
    if hint == "hour":  # "8 pm" is the hour 20, not 8
        mentions = [n for n in mentions if not re.match(r"\s*[ap]\.?\s?m\b", norm[n.end:n.end + 6])]
    if lenient:  # leakage: the 4 of "July 4, 2013" states a date, not the answer 4 (a year is checked below)
        spans = [m.span() for p in _DATE_PATTERNS for m in p.finditer(norm)]
        mentions = [n for n in mentions if not any(a <= n.start < b for a, b in spans)]
    if any(_number_matches(target, n, unit=unit, rounding=rounding) for n in mentions
           if not (n.word and lenient and n.value == 1)):
        return True
    if target.is_integer():
        whole = int(target)
        if hint == "month" and 1 <= whole <= 12:
            return any(_word_in(name, norm) for name, i in _MONTHS.items() if i == whole and len(name) > 3)
        if hint == "hour" and 0 <= whole <= 23:
            return any(t == whole * 3600 for t in times_in(text))
        if 1000 <= whole <= 2999 and any(d.year == whole for d in dates_in(text)):
            return True
    return False


def _special_string_in(value: str, text: str, norm: str, *, hint: str | None, lenient: bool) -> bool:
    """A string that is a date, a date-time, a time, a duration, a unit or a number."""
    v = value.strip()
    if _ISO_DATE.match(v):
        try:
            day = _dt.date.fromisoformat(v)
        except ValueError:
            return False
        return day in dates_in(text)
    if _ISO_DATETIME.match(v):
        try:
            when = _dt.datetime.fromisoformat(v.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return False
        return _time_stated(_seconds(when), text)
    clock = _CLOCK.match(v)
    if clock:
        h, m, s = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        return h < 24 and m < 60 and _time_stated(h * 3600 + m * 60 + s, text)
    hours = _duration_hours(v)
    if hours is not None:
        return any(n.unit == "hour" and math.isclose(abs(n.value), abs(hours)) for n in numbers_in(text))
    canon = canonical_unit(v)
    if canon is not None and (hint == "unit" or len(v) > 2):
        return any(_word_in(s, norm) for s in _UNITS[canon][1] if len(s) > 1) or _word_in(canon.casefold(), norm)
    number = _parse_number(v) if re.fullmatch(r"[-+]?[\d,]*\.?\d+%?", v) else None
    if number is not None:
        return _number_in(number, text, norm, hint=hint, unit=None, lenient=lenient)
    if lenient and len(v) >= 8 and " " in v.strip():
        bare = re.sub(r"[^\w ]+", "", normalise_text(v)).strip()
        return bool(bare) and _word_in(bare, re.sub(r"[^\w ]+", "", norm))
    return False


def _same_when(expected: Any, got: Any) -> bool:
    a, b = parse_when(expected), parse_when(got)
    if a is None or b is None:
        return False
    if isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return a.replace(tzinfo=None) == b.replace(tzinfo=None)
        return a == b
    day_a = a.date() if isinstance(a, _dt.datetime) else a
    day_b = b.date() if isinstance(b, _dt.datetime) else b
    return day_a == day_b


def values_equal(expected: Any, got: Any, normaliser: Normaliser) -> bool:
    """Compare one value under a normaliser (number tolerance, case, dates)."""
    if normaliser.kind == "date":
        return _same_when(expected, got) or (
            isinstance(expected, str) and isinstance(got, str) and normalise_text(expected) == normalise_text(got))
    if normaliser.kind == "number":
        a = expected if isinstance(expected, (int, float)) and not isinstance(expected, bool) else (
            _parse_number(expected) if isinstance(expected, str) else None)
        b = got if isinstance(got, (int, float)) and not isinstance(got, bool) else (
            _parse_number(got) if isinstance(got, str) else None)
        if a is None or b is None:
            return False
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return False
        return math.isclose(a, b, rel_tol=normaliser.tolerance, abs_tol=normaliser.tolerance)
    if normaliser.kind == "casefold":
        if isinstance(expected, str) and isinstance(got, str):
            return normalise_text(expected) == normalise_text(got)
    return bool(expected == got)


def answer_in_text(
    answer: Answer, text: str, *, aliases: Mapping[str, set[str]] | None = None, unit: str | None = None,
    hint: str | None = None,
) -> bool:
    """The answer checker for free text: does a model's reply state the recorded answer?

    A number may be rounded where the reply says so ("about 11.5 mph") or kept to four
    significant digits ("48.86"); a date in any common spelling; a date-time by its
    local time of day to the minute; a code by its name where ``aliases`` pair them.
    """
    value = answer.value
    kind = answer.normaliser.kind
    if kind == "date" and parse_when(value) is not None:
        if value_in_text(value, text, aliases=aliases):
            return True
        candidates = re.findall(
            r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.+\-Z]+)?|\d{1,2} \w+ \d{4}|\w+ \d{1,2},? \d{4}|\d{1,2}/\d{1,2}/\d{4}", text)
        return any(_same_when(value, c) for c in candidates)
    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        target = float(value)
        if hint == "hour" and value_in_text(value, text, hint=hint):
            return True  # an hour of the day 14 said as "2 p.m."
        return any(_number_matches(target, n, unit=unit, rounding="stated", tolerance=answer.normaliser.tolerance)
                   for n in numbers_in(text))
    if kind == "exact" and isinstance(value, str):
        return value in text
    return value_in_text(value, text, aliases=aliases, unit=unit)
