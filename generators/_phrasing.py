"""Phrasing: what a field or a parameter means, and its value as people write it.

The template writer builds sentences from these parts, never from raw field
names (issue 18). Everything comes from what any toolset declares or returns:

- a field's *meaning* (`Meaning`): a noun from its JSON Schema description when
  that reads as one ("Wind speed, miles per hour." -> "wind speed", unit "miles
  per hour"; "Number of seats." -> a count of "seats"), else from its name with
  common abbreviations expanded and a unit suffix read as a unit
  (``dep_delay_min`` -> "departure delay", "minutes");
- a value's *rendering*: 2013-07-04 -> "July 4, 2013", 14 (an hour) -> "2 p.m.",
  12 (a month) -> "December", 68042591 -> "68,042,591", "degC" -> "°C";
- a parameter's *role* in a sentence (`ArgPhrase`): "on July 4, 2013", "from
  EWR", "at 48.8567, 2.3515", "100 miles", "for the currency EUR";
- English helpers: articles, plurals, ordinals, list joins.

Nothing here names a particular server or tool.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from schemas import canonical_unit as _canonical_unit
from schemas import standard_name, unit_dimension


def canonical_unit(text: str) -> str | None:
    """The normaliser's reading of a unit (schemas/_text.py)."""
    return _canonical_unit(text)

# Abbreviations in field and parameter names, expanded for a reader.
_ABBREV: dict[str, str] = {
    "dep": "departure", "arr": "arrival", "temp": "temperature", "dest": "destination", "num": "number",
    "dir": "direction", "lat": "latitude", "lon": "longitude", "lng": "longitude", "qty": "quantity",
    "amt": "amount", "avg": "average", "max": "maximum", "min": "minimum", "tz": "time zone",
    "faa": "FAA code", "iata": "IATA code", "icao": "ICAO code", "iso": "ISO", "id": "ID", "utc": "UTC",
    "dst": "daylight saving time", "tailnum": "tail number", "desc": "description", "info": "information",
    "cnt": "count", "pop": "population", "precip": "precipitation", "dewpoint": "dew point",
    "datetime": "date and time", "timezone": "time zone", "url": "URL", "pct": "percentage",
    "src": "source", "dst_tz": "target time zone", "addr": "address", "elev": "elevation", "alt": "altitude",
}

# A unit written as the last word of a name: wind_speed_mph, temp_f, dep_delay_min, area_km2.
_UNIT_SUFFIX: dict[str, str] = {
    "mph": "mph", "kph": "km/h", "kmh": "km/h", "f": "°F", "c": "°C", "deg": "degrees", "degrees": "degrees",
    "min": "minutes", "mins": "minutes", "minutes": "minutes", "sec": "seconds", "secs": "seconds",
    "seconds": "seconds", "ms": "milliseconds", "h": "hours", "hrs": "hours", "hours": "hours",
    "pct": "percent", "percent": "percent", "in": "inches", "mb": "millibars", "mi": "miles",
    "miles": "miles", "ft": "feet", "feet": "feet", "km": "km", "km2": "square kilometres",
    "m": "metres", "kg": "kg", "lb": "pounds", "lbs": "pounds", "usd": "US dollars", "eur": "euros",
}

# Words that keep their capital when they start a noun.
_PROPER = {"english", "french", "german", "spanish", "european", "american", "iana", "iso", "faa", "utc"}
_PREPOSITIONS = {"in", "at", "for", "on", "from", "to", "that", "which", "when", "where", "with", "by",
                 "per", "since", "after", "before", "during", "as"}
_ID_TOKENS = {"id", "uuid", "guid", "hash", "etag", "cursor", "token", "checksum", "sha", "md5", "key"}
_FLAG_TOKENS = {"is", "has", "flag", "enabled", "disabled", "observed", "valid", "ok", "success"}
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth", "twentieth"]
_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December"]
_UNIT_DISPLAY: dict[str, tuple[str, str]] = {  # canonical unit -> (singular, plural) for values of unit params
    "kilometre": ("kilometer", "kilometers"), "metre": ("meter", "meters"), "mile": ("mile", "miles"),
    "foot": ("foot", "feet"), "inch": ("inch", "inches"), "yard": ("yard", "yards"),
    "centimetre": ("centimeter", "centimeters"), "millimetre": ("millimeter", "millimeters"),
    "nautical mile": ("nautical mile", "nautical miles"), "kilogram": ("kilogram", "kilograms"),
    "gram": ("gram", "grams"), "pound": ("pound", "pounds"), "ounce": ("ounce", "ounces"),
    "degC": ("°C", "°C"), "degF": ("°F", "°F"), "kelvin": ("kelvin", "kelvins"), "mph": ("mph", "mph"),
    "km/h": ("km/h", "km/h"), "m/s": ("m/s", "m/s"), "knot": ("knot", "knots"), "second": ("second", "seconds"),
    "minute": ("minute", "minutes"), "hour": ("hour", "hours"), "day": ("day", "days"),
    "percent": ("percent", "percent"), "degree": ("degree", "degrees"), "litre": ("liter", "liters"),
    "gallon": ("gallon", "gallons"), "millibar": ("millibar", "millibars"),
}


def words_of(name: str) -> list[str]:
    """'source_timezone' -> ['source', 'timezone']; 'dayLength' -> ['day', 'length']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def label(name: str) -> str:
    """'source_timezone' -> 'source timezone'; 'dayLength' -> 'day length' (no expansion)."""
    return " ".join(words_of(name))


# --- English ------------------------------------------------------------------------------------

def article(noun: str) -> str:
    """'an hour', 'an FAA code', 'a unit', 'a year'."""
    first = noun.split()[0] if noun.split() else noun
    if first.isupper() and len(first) > 1:
        vowel = first[0] in "AEFHILMNORSX"
    elif first.lower().startswith(("hour", "honest", "heir")):
        vowel = True
    elif first.lower().startswith(("uni", "use", "usu", "eu", "one", "once")):
        vowel = False
    else:
        vowel = first[:1].lower() in "aeiou"
    return f"{'an' if vowel else 'a'} {noun}"


def plural(noun: str) -> str:
    """'destination' -> 'destinations', 'country' -> 'countries', 'bus' -> 'buses'."""
    head, _, tail = noun.rpartition(" ")
    word = tail or noun
    irregular = {"person": "people", "child": "children", "foot": "feet", "man": "men", "woman": "women"}
    if word in irregular:
        out = irregular[word]
    elif re.search(r"[^aeiou]y$", word):
        out = word[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", word):
        out = word + "es"
    else:
        out = word + "s"
    return f"{head} {out}" if head else out


def singular(noun: str) -> str:
    """'destinations' -> 'destination', 'countries' -> 'country', 'public holidays' -> 'public holiday'."""
    head, _, tail = noun.rpartition(" ")
    word = tail or noun
    if word.endswith("ies") and len(word) > 4:
        out = word[:-3] + "y"
    elif re.search(r"(ss|us|is)$", word):
        out = word
    elif re.search(r"(xes|ches|shes|sses)$", word):
        out = word[:-2]
    elif word.endswith("s"):
        out = word[:-1]
    else:
        out = word
    return f"{head} {out}" if head else out


def is_plural(noun: str) -> bool:
    word = noun.split()[-1] if noun.split() else noun
    return word.endswith("s") and not re.search(r"(ss|us|is)$", word) and singular(noun) != noun


def ordinal(index: int) -> str:
    """0 -> 'first'; 21 -> '22nd'."""
    if index < len(_ORDINALS):
        return _ORDINALS[index]
    n = index + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def join(items: Sequence[str], word: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {word} {items[1]}"
    return ", ".join(items[:-1]) + f", {word} " + items[-1]


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# --- meanings ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Meaning:
    """What a value means: a noun for it, its unit, and what kind of value it is.

    ``kind``: number, count, date, datetime, time, duration, code, name, unit,
    flag, id or text. ``count_of`` is the counted noun of a count ("seats").
    ``entity``: for a parameter, the thing it names ("airport" for an FAA code).
    """

    noun: str
    kind: str = "text"
    unit: str | None = None
    count_of: str | None = None
    entity: str | None = None
    key: str = ""
    described: bool = False  # the noun came from a description, not a field name


def resolve_schema(schema: Any, root: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Follow a local $ref and pick the non-null branch of anyOf/oneOf, keeping the description."""
    if not isinstance(schema, Mapping):
        return {}
    root = root if root is not None else schema
    node = dict(schema)
    for _ in range(8):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            node = dict(merged)
            continue
        branches = node.get("anyOf") or node.get("oneOf")
        if isinstance(branches, list):
            real = [b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]
            if len(real) == 1:
                merged = {**real[0], **{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}}
                node = dict(merged)
                continue
        break
    return node


def schema_at(schema: Mapping[str, Any] | None, pointer: str) -> list[dict[str, Any]]:
    """The schema nodes along a JSON pointer (one per token; {} where the schema says nothing)."""
    if not schema:
        return []
    root = schema
    node = resolve_schema(schema, root)
    out: list[dict[str, Any]] = []
    for token in [t for t in pointer.split("/")[1:]]:
        token = token.replace("~1", "/").replace("~0", "~")
        if token.isdigit() and "items" in node:
            node = resolve_schema(node.get("items"), root)
        else:
            node = resolve_schema((node.get("properties") or {}).get(token), root)
        out.append(node)
    return out


def _clean_description(description: str) -> str:
    d = description.strip()
    d = re.sub(r"\s*\([^)]*\)", "", d)
    d = re.sub(r",?\s*e\.g\.?,?\s.*$", "", d)
    d = re.split(r"(?<=[a-z0-9)])[.;:](?:\s|$)", d)[0]
    d = re.sub(r",?\s*(?:ISO 8601|YYYY-MM-DD|HH:MM)\b[^,]*", "", d)
    d = re.sub(r",?\s*-?\d+(?:\.\d+)?\s*(?:-|to|–)\s*-?\d+(?:\.\d+)?$", "", d)
    # "Number of departures that day": the request's own date says which day
    d = re.sub(r"\s+(?:on |in |for |during )?(?:that|the same) (?:day|date|month|year|week)$", "", d)
    return d.strip(" ,.")


def _strip_unit(text: str) -> tuple[str, str | None]:
    """'Wind speed, miles per hour' -> ('Wind speed', 'miles per hour'); 'Elevation in feet' likewise."""
    m = re.search(r",\s*(?:in\s+)?([A-Za-z° /]+)$", text)
    if m and canonical_unit(m.group(1)):
        return text[:m.start()].strip(), m.group(1).strip()
    head, sep, tail = text.rpartition(" in ")
    if sep and head and canonical_unit(tail):
        return head.strip(), tail.strip()
    return text, None


def _shape_noun(text: str, max_words: int = 6, *, cut: bool = False) -> str | None:
    if any(c in text for c in "`'\"=<>[]{}|"):
        return None
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I).strip()
    text = text.split(",")[0].strip()  # "Official name, when ISO gives one" -> "Official name"
    if text.lower().startswith(("same ", "always ", "never ")):
        return None
    # standards bodies say where a code comes from, not what it is: "IANA timezone name" -> "timezone name"
    text = re.sub(r"\b(?:IANA|ISO \d+(?:-\d)?)\s+", "", text).strip()
    text = re.sub(r"\btimezone\b", "time zone", text)
    text = re.sub(r"\btime zone name\b", "time zone", text)
    # how a code is spelled is not what it is: "Two-letter carrier code" -> "carrier code"
    text = re.sub(r"^(?:\w+-(?:letter|character|digit)|alphabetic)\s+", "", text, flags=re.I).strip() or text
    words = text.split()
    if not words or any(c in text for c in "`'\"=<>[]{}|") or re.search(r"[a-z]_[a-z]", text):
        return None
    for i, w in enumerate(words[1:], start=1):
        if (w.lower() in ("that", "which", "who", "when", "where") and (len(words) > 5 or cut)) or (
                (len(words) > 5 or cut) and i >= (1 if cut else 2) and w.lower() in _PREPOSITIONS):
            words = words[:i]
            break
    if len(words) > 2 and re.search(r"(?:ed|seen|given|shown|done)$", words[-1]) and words[-2] not in ("that", "which"):
        words = words[:-1]  # "distinct tail numbers seen" -> "distinct tail numbers"
    if len(words) > max_words:
        return None
    first = words[0]
    if not (first.isupper() and len(first) > 1) and first.lower() not in _PROPER:
        words[0] = first.lower()
    elif first.lower() in _PROPER and not first.isupper():
        words[0] = first.capitalize()
    return " ".join(words)


def _noun_from_key(key: str) -> tuple[str, str | None]:
    tokens = words_of(key)
    unit = None
    if len(tokens) >= 2 and tokens[-1] in _UNIT_SUFFIX:
        unit = _UNIT_SUFFIX[tokens[-1]]
        tokens = tokens[:-1]
    expanded = [_ABBREV.get(t, t) for t in tokens]
    return " ".join(expanded) or "result", unit


def head_phrase(noun: str) -> str:
    """The noun before its first preposition or clause: 'scheduled departures to it' -> 'scheduled departures'."""
    words = noun.split()
    for i, w in enumerate(words[1:], start=1):
        if w in _PREPOSITIONS or w in ("that", "which", "of"):
            return " ".join(words[:i])
    return noun


def _count_noun(noun: str) -> str | None:
    m = re.match(r"^(?:the\s+)?(?:total\s+)?number of\s+(.+)$", noun, flags=re.I)
    if m:
        counted = m.group(1)
    elif is_plural(head_phrase(noun)):
        counted = noun
    else:
        return None
    if re.search(r"\b(?:that|which|who)\b", counted):
        return None  # "departures that never left": asked as "the number of ..."
    words = counted.split()
    for i, w in enumerate(words[1:], start=1):
        if w == "from" and len(words) <= 6:
            continue  # "departures from New York City airports": where they are counted is what they are
        if w in _PREPOSITIONS or (w.endswith("ed") and i == len(words) - 1):
            words = words[:i]
            break
    return " ".join(words) or None


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DURATION = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*h$")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,7}$")
_SNAKE = re.compile(r"^[a-z]+(?:_[a-z]+)+$")


def _kind_of(key: str, value: Any, noun: str, count_of: str | None, schema: Mapping[str, Any]) -> str:
    tokens = set(words_of(key))
    if isinstance(value, bool) or schema.get("type") == "boolean":
        return "flag"
    if tokens & _ID_TOKENS or key.endswith(("Id", "_id")):
        return "id"
    if isinstance(value, str):
        v = value.strip()
        if _ISO_DATE.match(v):
            return "date"
        if _ISO_DATETIME.match(v):
            return "datetime"
        if _CLOCK.match(v):
            return "time"
        if _DURATION.match(v):
            return "duration"
        if "unit" in tokens and canonical_unit(v):
            return "unit"
        if tokens & _FLAG_TOKENS or _SNAKE.match(v) or (v.islower() and " " not in v and len(v) <= 12
                                                        and schema.get("enum")):
            return "flag"
        if _CODE.match(v) and re.search(r"[A-Z]", v):
            return "code"
        if re.fullmatch(r"[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v):
            return "id"
        return "name" if "name" in tokens or "name" in noun.split() else "text"
    if isinstance(value, (int, float)):
        if tokens & _FLAG_TOKENS:
            return "flag"
        if isinstance(value, int) and count_of:
            return "count"
        return "number"
    return "text"


def meaning_of(key: str, description: str = "", value: Any = None, schema: Mapping[str, Any] | None = None,
               parent_description: str = "") -> Meaning:
    """A field's or parameter's meaning from its name, description, schema and a sample value."""
    schema = schema or {}
    key_noun, key_unit = _noun_from_key(key)
    noun, unit = None, None
    if key in ("value", "amount", "magnitude", "result") and parent_description:
        description = parent_description  # a Quantity's value means what its parent says
    clean = _clean_description(description) if description else ""
    if clean:
        head, unit = _strip_unit(clean)
        first = head.split()[0] if head.split() else ""
        if canonical_unit(first) and not canonical_unit(head):
            noun = None  # "Minutes from sunrise to sunset": the unit, not a noun
            unit = unit or first.lower()
        else:
            noun = _shape_noun(head)
    described = noun is not None
    if noun is None:
        noun = re.sub(r"\btimezone\b", "time zone", key_noun)
    unit = unit or key_unit
    count_of = None
    if isinstance(value, int) and not isinstance(value, bool) and not (set(words_of(key)) & {
            "year", "hour", "month", "day", "minute", "second", "flight", "number", "code", "rank", "id"}):
        count_of = _count_noun(noun)
        if count_of is None and words_of(key) in (["count"], ["total"], ["n"]):
            count_of = _count_noun(noun)
    kind = _kind_of(key, value, noun, count_of, schema)
    if kind == "number" and isinstance(value, int) and noun.startswith("number of "):
        kind = "count"
    if kind == "number" and isinstance(value, int) and is_plural(head_phrase(noun)) and \
            not noun.startswith("number of"):
        kind, noun = "count", f"number of {noun}"  # "departures that never left" counts departures
    return Meaning(noun=noun, kind=kind, unit=unit, count_of=count_of if kind == "count" else None, key=key,
                   described=described)


def output_meaning(output_schema: Mapping[str, Any] | None, pointer: str, value: Any) -> Meaning:
    """The meaning of the value at ``pointer`` in a tool's output, from its output schema if any."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    key = next((t for t in reversed(tokens) if not t.isdigit()), "result")
    nodes = schema_at(output_schema, pointer)
    node = nodes[-1] if nodes else {}
    parent = nodes[-2] if len(nodes) >= 2 and not tokens[-2].isdigit() else {}
    meaning = meaning_of(key, str(node.get("description") or ""), value, node,
                         parent_description=str(parent.get("description") or ""))
    span = words_of(key)
    thing = re.search(r"\bof the ([\w-]+)$", meaning.noun)
    if not output_schema or not ((len(span) == 2 and span[1] in _UNTIL and canonical_unit(span[0])) or thing):
        return meaning
    up = pointer.rsplit("/", 1)[0]
    holder = (schema_at(output_schema, up) or [{}])[-1] if up else output_schema
    siblings = holder.get("properties") if isinstance(holder, Mapping) else None
    for sibling in (siblings or {}).values():
        described = str(sibling.get("description") or "") if isinstance(sibling, Mapping) else ""
        m = re.match(r"(?i)^date of (the .+?)[,.(]", described + ".")
        if m is None:
            continue
        if not thing:  # "days_until" beside "Date of the next public holiday": the days until that holiday
            return Meaning(noun=f"number of {span[0]} {span[1]} {m.group(1)}", kind="number", unit=None,
                           key=key, described=True)
        if m.group(1).endswith(f" {thing.group(1)}") and m.group(1) != f"the {thing.group(1)}":
            # "English name of the holiday" beside "Date of the next public holiday": the next public holiday's
            return replace(meaning, noun=meaning.noun[:thing.start()] + f"of {m.group(1)}")
    return meaning


_UNTIL = frozenset({"until", "till", "left", "remaining", "to"})


# --- values ------------------------------------------------------------------------------------

def number_text(value: float | int, *, group: bool = True) -> str:
    """68042591 -> '68,042,591'; 100.0 -> '100'; 11.51 -> '11.51' (never rounded)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if group and abs(value) >= 10000 else str(value)
    text = repr(value)
    if "e" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text


def readable_number(value: float | int) -> str:
    """A measured value as an answer states it: at most 2 decimals past 100, 4 significant digits below,
    never fewer than the answer checker accepts as stated rounding (4 significant digits)."""
    if isinstance(value, int) or float(value).is_integer():
        return number_text(value)
    text = number_text(value)
    decimals = len(text.split(".")[1]) if "." in text else 0
    magnitude = int(math.floor(math.log10(abs(value)))) + 1 if value else 1
    keep = max(2, 5 - magnitude)
    if decimals <= max(keep, 6):
        return text
    return number_text(round(float(value), keep))


def date_text(value: str | _dt.date) -> str:
    day = value if isinstance(value, _dt.date) else _dt.date.fromisoformat(value)
    return f"{_MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def clock_text(hour: int, minute: int = 0) -> str:
    """(14, 0) -> '2 p.m.'; (4, 47) -> '4:47 a.m.'; (12, 0) -> 'noon'."""
    if minute == 0 and hour == 12:
        return "noon"
    if minute == 0 and hour == 0:
        return "midnight"
    suffix = "a.m." if hour < 12 else "p.m."
    h = hour % 12 or 12
    return f"{h} {suffix}" if minute == 0 else f"{h}:{minute:02d} {suffix}"


def unit_text(unit: str, count: float | None = None) -> str:
    """A unit value as people write it: 'degC' -> '°C'; 'kilometer' -> 'kilometers' after 100."""
    canon = canonical_unit(unit)
    if canon is None or canon not in _UNIT_DISPLAY:
        return unit
    one, many = _UNIT_DISPLAY[canon]
    return one if count is not None and abs(count) == 1 else many


def with_unit(number: str, unit: str | None) -> str:
    if not unit:
        return number
    if unit in ("%", "percent"):
        return f"{number}%"
    if unit.startswith("°"):
        return f"{number}{unit}" if len(unit) <= 2 else f"{number} {unit}"
    try:
        amount = float(number.replace(",", ""))
    except ValueError:
        amount = None
    shown = unit
    if amount is not None and abs(amount) == 1 and is_plural(unit) and " per " not in unit:
        shown = singular(unit)
    return f"{number} {shown}"


def is_clock_hour(meaning: Meaning | None) -> bool:
    """A field that holds an hour of the day ('hour', 'dep_hour': 14 is "2 p.m."), not a number of hours."""
    return meaning is not None and meaning.kind == "number" and meaning.unit is None \
        and words_of(meaning.key)[-1:] == ["hour"]


def value_text(value: Any, meaning: Meaning | None = None, *, hint: str | None = None) -> str:
    """A value as a person writes it (the answer checker reads every form this writes)."""
    kind = meaning.kind if meaning else None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if (hint == "hour" or is_clock_hour(meaning)) and isinstance(value, int) and 0 <= value <= 23:
            return clock_text(value)
        if hint == "month" and isinstance(value, int) and 1 <= value <= 12:
            return _MONTH_NAMES[value - 1]
        year_like = meaning is not None and "year" in words_of(meaning.key)
        text = readable_number(value) if meaning is not None and meaning.kind in ("number", "count") \
            else number_text(value, group=not year_like)
        if year_like:
            text = number_text(value, group=False)
        return with_unit(text, meaning.unit if meaning else None)
    if isinstance(value, str):
        v = value.strip()
        if hint in ("country", "currency") and (name := standard_name(hint, v)) is not None:
            return name
        if kind == "date" or (kind is None and _ISO_DATE.match(v)):
            try:
                return date_text(v)
            except ValueError:
                return v
        if kind == "datetime" or (kind is None and _ISO_DATETIME.match(v)):
            try:
                when = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                return v
            return f"{clock_text(when.hour, when.minute)} on {date_text(when.date())}"
        clock = _CLOCK.match(v)
        if clock and (kind in (None, "time")):
            return clock_text(int(clock.group(1)), int(clock.group(2)))
        duration = _DURATION.match(v)
        if duration:
            hours = float(duration.group(1))
            sign = "+" if v.startswith("+") else ""
            return f"{sign}{number_text(hours)} {'hour' if abs(hours) == 1 else 'hours'}"
        if kind == "unit" or hint == "unit":
            return unit_text(v)
        return v
    if isinstance(value, list):
        return join([value_text(v, meaning) for v in value])
    return str(value)


def time_of_day_text(value: str) -> str | None:
    """An ISO date-time's local time of day ('4:47 a.m.'), or None."""
    try:
        when = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return clock_text(when.hour, when.minute)


def unit_dimension_of(unit: str) -> str | None:
    """'miles per hour' -> 'speed' (the normaliser's unit table), None when unknown."""
    return unit_dimension(unit)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
