"""Argument values for any JSON Schema: what exploration may try before any output exists.

For one parameter, `parameter_values` returns candidates, best first, each valid for the
parameter's schema and tagged with where it came from (``ArgumentSource.how``):

1. the schema's own values: ``enum``/``const`` (``schema-enum``), ``default``, ``examples``;
2. examples in the descriptions (``description-example``): the parameter's own description
   (``e.g. 0.07 for 7%``, ``for example 'USD'``, ``Examples: '1d6', '2d6'``, a list of choices
   ``Black, Brown, Red, Orange``), then the tool description's lines about the parameter
   (a docstring's ``Args:`` entry) and its ``name=...`` literals (``rates={'USD': 1.0}``);
3. a small built-in catalogue keyed by the words of the parameter's name and its type and
   format (``catalogue``): numbers, lists of numbers, text, expressions, coordinates, dates and
   times, country, currency and language codes, units, network addresses, e-mail addresses;
4. what the type implies (``schema-type``, ``schema-bounds``, ``schema-format``): both
   booleans, numeric bounds and a value between them, a reference date.

Composite schemas are built from their parts: an array from candidates of its items (a few
items, within ``minItems``/``maxItems``, distinct for ``uniqueItems``), an object from its
required properties (and a few optional ones when it requires none), ``anyOf``/``oneOf`` from
each branch that is not null, a type list (``["string", "null"]``) from each type.

Nothing here names a server or a tool: the catalogue is keyed by generic words only, and a
candidate the schema refuses is dropped. ``sql``-like parameters get nothing from the
catalogue (a statement is the user's to give), nor do free paths to files.
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

Candidate = tuple[Any, str]

_MAX_CANDIDATES = 12
_TYPE_ORDER = ("string", "integer", "number", "array", "object", "boolean")
_MAX_ITEMS = 3
_MAX_DEPTH = 4

# A fixed reference instant for schema formats and date-like names, so runs are reproducible.
REFERENCE = _dt.datetime(2024, 6, 21, 14, 0, tzinfo=_dt.UTC)

_WORD = re.compile(r"[A-Za-z]+|\d+")


def name_words(name: str) -> list[str]:
    """'source_timezone' -> ['source', 'timezone']; 'band1' -> ['band', '1']; 'maxItems' -> ['max', 'items']."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in _WORD.findall(spaced)]


def singular(word: str) -> str:
    """A plural word's singular, roughly (cidrs -> cidr, expressions -> expression, values -> value)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# --- the catalogue -----------------------------------------------------------------------------
# Keyed by single name words (after singular()); the first matching word of a name wins, read
# from the last word back ("from_unit" -> unit, "target_timezone" -> timezone).

_TEXT: dict[str, list[Any]] = {
    "timezone": ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"],
    "tz": ["Europe/Paris", "America/New_York", "UTC"],
    "zone": ["Europe/Paris", "UTC"],
    "country": ["FR", "US", "DE", "JP"],
    "currency": ["USD", "EUR", "GBP", "INR"],
    "language": ["en", "fr", "de"],
    "lang": ["en", "fr"],
    "locale": ["en_US", "fr_FR"],
    "city": ["Paris", "Tokyo", "New York"],
    "unit": ["km", "mi", "kg", "lb", "m", "ft"],
    "expression": ["2 + 3 * 4", "sqrt(144) + 7", "100 * 9 / 5 + 32"],
    "expr": ["2 + 3 * 4", "sqrt(144) + 7"],
    "formula": ["2 + 3 * 4"],
    "equation": ["2 + 3 * 4"],
    "text": ["The quick brown fox jumps over the lazy dog.", "hello world"],
    "content": ["hello world"],
    "message": ["hello world"],
    "sentence": ["The quick brown fox jumps over the lazy dog."],
    "string": ["hello world"],
    "input": ["hello world"],
    "word": ["hello", "coffee"],
    "query": ["coffee", "heart"],
    "search": ["coffee", "heart"],
    "term": ["coffee", "heart"],
    "keyword": ["coffee"],
    "q": ["coffee"],
    "name": ["Ada Lovelace", "coffee"],
    "title": ["A short history of tea"],
    "email": ["ada@example.com"],
    "mail": ["ada@example.com"],
    "url": ["https://example.com/", "https://www.python.org/"],
    "uri": ["https://example.com/"],
    "link": ["https://example.com/"],
    "website": ["https://example.com/"],
    "domain": ["example.com"],
    "host": ["example.com"],
    "hostname": ["example.com"],
    "ip": ["192.168.1.10", "8.8.8.8", "10.0.0.1"],
    "ipv4": ["192.168.1.10", "8.8.8.8"],
    "address": ["192.168.1.10"],
    "cidr": ["10.0.0.0/24", "192.168.0.0/16", "10.0.0.64/26"],
    "subnet": ["10.0.0.0/24", "192.168.0.0/16"],
    "network": ["10.0.0.0/24"],
    "prefix": ["10.0.0.0/24"],
    "block": ["10.0.0.0/24"],
    "color": ["red", "blue", "green"],
    "colour": ["red", "blue", "green"],
    "version": ["1.4.0", "2.0.1"],
    "symbol": ["AAPL", "MSFT"],
    "ticker": ["AAPL"],
    "date": [REFERENCE.date().isoformat(), "2024-02-29"],
    "day": [REFERENCE.date().isoformat()],
    "start": [REFERENCE.date().isoformat()],
    "end": ["2024-12-31"],
    "datetime": [REFERENCE.isoformat().replace("+00:00", "Z")],
    "timestamp": [REFERENCE.isoformat().replace("+00:00", "Z")],
    "time": ["14:30", "09:00"],
    "sector": ["technology", "healthcare"],
    "industry": ["technology"],
    "category": ["food", "travel"],
    "type": ["default"],
    "format": ["json"],
    "mode": ["default"],
    "pattern": ["[a-z]+"],
    "regex": ["[a-z]+"],
    "notation": ["2d6"],
    "option": ["red, green, blue"],
    "choice": ["red, green, blue"],
    "json": ['{"a": 1, "b": [2, 3]}'],
    "data": ['{"a": 1, "b": [2, 3]}'],
    "character": ["A"],
    "char": ["A"],
    "emoji": ["🔥"],
    "slug": ["hello-world"],
    "uuid": ["0ebba8a9-94aa-474b-98fa-936ebc8cd84e"],
    "hash": ["5eb63bbbe01eeed093cb22bb8f5acdc3"],
    "status": ["active"],
}

# Words whose values a user must give: never invented (a statement, a file, a secret).
_NEVER = frozenset({"sql", "statement", "command", "cmd", "script", "password", "secret", "token",
                    "key", "apikey", "path", "file", "filename", "dir", "directory", "folder"})

_NUMBERS: dict[str, list[float]] = {
    "latitude": [48.8566, 35.6762], "lat": [48.8566, 35.6762],
    "longitude": [2.3522, 139.6503], "lon": [2.3522, 139.6503], "lng": [2.3522, 139.6503],
    "year": [2024, 2020], "month": [6, 12], "day": [15, 1], "hour": [14, 9], "minute": [30, 0],
    "second": [1], "week": [25],
    "age": [35, 60], "weight": [70, 82.5], "kg": [70], "height": [175, 1.75], "cm": [175],
    "rate": [0.07, 0.05], "interest": [0.07], "return": [0.08], "percent": [10, 5], "percentage": [10, 5],
    "pct": [10], "ratio": [0.25], "probability": [0.5],
    "amount": [1000, 250.5, 5000], "price": [19.99, 250], "cost": [1200, 8000], "principal": [5000, 12000],
    "salary": [60000], "income": [85000], "balance": [2500], "value": [100, 12.5, 4700], "total": [100],
    "count": [3, 5], "limit": [5, 3], "n": [5, 3], "times": [3, 2], "size": [5], "length": [8, 16],
    "rows": [4], "page": [1, 2], "number": [360, 97, 12], "num": [12, 97], "x": [12, 3.5], "y": [7, 2.5],
    "a": [12], "b": [30], "ohm": [4700, 1000], "resistance": [4700, 1000], "frequency": [1000], "hz": [1000],
    "capacitance": [1e-06], "farad": [1e-06], "voltage": [5, 3.3], "volt": [5], "current": [0.02],
    "temperature": [21.5, 100], "celsius": [21.5], "distance": [42.195, 10], "duration": [90],
    "id": [1, 2, 3], "index": [0, 1], "port": [8080], "level": [3], "unit": [250], "quantity": [3],
    "min": [1], "max": [10], "step": [1], "precision": [2], "decimal": [2], "digit": [4], "seed": [42],
    "score": [87], "radius": [10], "width": [40], "depth": [3], "base": [10], "exponent": [2],
}
_AMOUNTS = [1000, 250.5, 5000]
for _word in ("expense", "corpus", "saving", "savings", "cap", "revenue", "asset", "debt", "fee", "rent",
              "payment", "contribution", "budget", "deposit", "loan", "cash", "receivable", "profit",
              "premium", "wage", "spend", "spending", "sale", "sales", "investment", "fund", "capital"):
    _NUMBERS.setdefault(_word, _AMOUNTS)
# Plural time words are durations, the singular ones points in time ("years" 10, "year" 2024).
_NUMBERS.update({"years": [10, 5], "months": [12, 6], "weeks": [4], "days": [30, 7], "hours": [8, 24],
                 "minutes": [5, 30], "seconds": [1, 2]})
# A parameter that makes the tool wait gets a short wait: exploration must not stall on it.
for _word in ("delay", "timeout", "wait", "sleep", "interval", "pause", "seconds", "secs", "ms"):
    _NUMBERS[_word] = [1, 2]
_GENERIC_NUMBERS: list[float] = [12, 3, 100, 2.5]

_LISTS_OF_NUMBERS: list[list[float]] = [[2, 4, 9], [3.5, 1.25, 8, 13]]


def _catalogue_words(name: str) -> list[str]:
    """The name's words, last first (the last word names the thing: "from_unit" is a unit),
    each as written and then singular ("years" before "year")."""
    out: list[str] = []
    for w in reversed(name_words(name)):
        out += [w] if singular(w) == w else [w, singular(w)]
    return out


def _text_for(name: str) -> list[Any]:
    words = _catalogue_words(name)
    if any(w in _NEVER for w in words):
        return []
    for w in words:
        if w in _TEXT:
            return list(_TEXT[w])
    return []


def _numbers_for(name: str, integer: bool) -> list[Any]:
    words = _catalogue_words(name)
    found: list[float] = []
    for w in words:
        if w in _NUMBERS:
            found = list(_NUMBERS[w])
            break
    if not found:
        found = list(_GENERIC_NUMBERS)
    if integer:
        found = [int(v) for v in found if float(v).is_integer()] or [int(round(v)) or 1 for v in found]
    return list(dict.fromkeys(found))


# --- examples in descriptions ------------------------------------------------------------------

_EXAMPLE_LEAD = re.compile(
    r"(?:\be\.\s?g\.?|\bi\.\s?e\.?|\bfor example|\bfor instance|\bexamples?\s*:|\bsuch as)\s*,?\s*:?\s*",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"'([^'\n]{1,80})'|\"([^\"\n]{1,80})\"|`([^`\n]{1,80})`")
_BARE = re.compile(r"[^\s,;()\[\]]+(?:\s[A-Z]{3}\b)?")
_CHOICES = re.compile(r"(?::|\bone of)\s*((?:[A-Za-z][\w-]*\s*,\s*){2,}(?:or\s+)?[A-Za-z][\w-]*)")
_LITERAL_ARG = r"\b{name}\s*=\s*(?=[\[{{'\"\d-])"


def _strip_edge(token: str) -> str:
    return token.strip().strip(".,;:)(").strip()


def _examples_after_leads(text: str) -> list[str]:
    """Quoted strings, or else the first bare token, after each 'e.g.' / 'for example' / 'Examples:'."""
    found: list[str] = []
    for lead in _EXAMPLE_LEAD.finditer(text):
        window = text[lead.end(): lead.end() + 240]
        cut = re.search(r"\)|\n\s*\n|(?<=[a-z])\.\s", window)
        head = window[: cut.start()] if cut else window
        quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(head)]
        if quoted:
            found += quoted
            continue
        bare = _BARE.match(head.strip())
        if bare:
            token = _strip_edge(bare.group())
            if token and token.lower() not in ("the", "a", "an"):
                found.append(token)
    return found


def _choices(text: str) -> list[str]:
    """'Colors: Black, Brown, Red, Orange' or 'one of alpha, digits, hex' -> the listed words."""
    out: list[str] = []
    for m in _CHOICES.finditer(text):
        out += [_strip_edge(w).removeprefix("or ").strip() for w in m.group(1).split(",")]
    return [w for w in out if w]


def _param_section(description: str, name: str) -> str:
    """The lines a docstring's Args section gives to ``name`` (the line naming it and the more
    indented lines under it), else ''."""
    lines = description.splitlines()
    for i, line in enumerate(lines):
        m = re.match(rf"\s*(?:[-*]\s*)?`?{re.escape(name)}`?\s*(?:\([^)]*\))?\s*:", line)
        if m is None:
            continue
        indent = len(line) - len(line.lstrip())
        block = [line[m.end():]]
        for nxt in lines[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            block.append(nxt)
        return "\n".join(block)
    return ""


def _literal_examples(description: str, name: str) -> list[Any]:
    """Literals written as ``name=...`` in a description: ``rates={'USD': 1.0, 'INR': 83.5}``."""
    out: list[Any] = []
    for m in re.finditer(_LITERAL_ARG.format(name=re.escape(name)), description):
        rest = description[m.end(): m.end() + 400]
        for end in range(len(rest), 0, -1):
            if rest[end - 1] not in "}]'\"0123456789":
                continue
            try:
                out.append(ast.literal_eval(rest[:end]))
                break
            except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
                continue
    return out


def description_examples(name: str, schema: Mapping[str, Any], tool_description: str = "",
                         sole: bool = False) -> list[Any]:
    """Example values for ``name`` written in its description and the tool's (strings as written).

    ``sole``: the tool takes this one parameter, so an example its description gives before any
    ``Args:`` section ("Get one order by its id, e.g. ord-1001") is this parameter's.
    """
    own = str(schema.get("description") or "")
    section = _param_section(tool_description, name)
    texts = [t for t in (own, section) if t]
    found: list[Any] = []
    for text in texts:
        found += _examples_after_leads(text)
        found += [q for m in _QUOTED.finditer(text) for q in m.groups() if q is not None] if text is section else []
        found += _choices(text)
    found += _literal_examples(tool_description, name)
    if sole and not found:
        head = re.split(r"\n\s*(?:Args|Arguments|Parameters|Returns)\s*:", tool_description, maxsplit=1)[0]
        found += _examples_after_leads(head)
    return found


def _coerce(value: Any, schema: Mapping[str, Any]) -> list[Any]:
    """``value`` (from text) in the forms the schema's type may take: '0.07' -> 0.07 for a number."""
    types = _types(schema)
    out: list[Any] = []
    if isinstance(value, str):
        text = value.strip()
        if types & {"number", "integer"}:
            m = re.fullmatch(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?", text)
            if m:
                number = float(text.replace(",", ""))
                out.append(int(number) if number.is_integer() else number)
        if types & {"array", "object"}:
            for parse in (json.loads, ast.literal_eval):
                try:
                    out.append(parse(text))
                    break
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
        if not types or "string" in types:
            out.append(text)
    else:
        out.append(value)
    return out


# --- composing values for a schema -------------------------------------------------------------

def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator | None:
    try:
        return Draft202012Validator(dict(schema))
    except (SchemaError, TypeError):
        return None


def _bounds(schema: Mapping[str, Any], integer: bool) -> list[Candidate]:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    step = 1 if integer else 0.5
    low = lo if isinstance(lo, (int, float)) else (xlo + step if isinstance(xlo, (int, float)) else None)
    high = hi if isinstance(hi, (int, float)) else (xhi - step if isinstance(xhi, (int, float)) else None)
    values: list[Any] = []
    if low is not None and high is not None and high >= low:
        mid = (low + high) / 2
        values = [math.floor(mid) if integer else round(mid, 6), low, high]
    elif low is not None:
        values = [low + (10 if low >= 0 else 1) * step * 2, low]
    elif high is not None:
        values = [high]
    if integer:
        values = [int(v) for v in values if float(v).is_integer()]
    return [(v, "schema-bounds") for v in dict.fromkeys(values)]


def _by_format(schema: Mapping[str, Any]) -> list[Candidate]:
    fmt = schema.get("format")
    values: dict[str, list[str]] = {
        "date": [REFERENCE.date().isoformat()],
        "date-time": [REFERENCE.isoformat().replace("+00:00", "Z")],
        "time": [REFERENCE.time().isoformat()],
        "email": ["ada@example.com"],
        "idn-email": ["ada@example.com"],
        "uri": ["https://example.com/"],
        "url": ["https://example.com/"],
        "iri": ["https://example.com/"],
        "hostname": ["example.com"],
        "ipv4": ["192.168.1.10"],
        "ipv6": ["2001:db8::1"],
        "uuid": ["0ebba8a9-94aa-474b-98fa-936ebc8cd84e"],
        "duration": ["P1D"],
    }
    return [(v, "schema-format") for v in values.get(str(fmt), [])]


def _schema_listed(schema: Mapping[str, Any]) -> list[Candidate]:
    out: list[Candidate] = [(v, "schema-enum") for v in schema.get("enum") or []]
    if "const" in schema:
        out.append((schema["const"], "schema-enum"))
    if schema.get("default") is not None:
        out.append((schema["default"], "schema-default"))
    examples = schema.get("examples")
    out += [(v, "schema-example") for v in (examples if isinstance(examples, list) else [])]
    if "example" in schema:
        out.append((schema["example"], "schema-example"))
    return out


def _branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """anyOf/oneOf branches that are not null, each merged with the schema's own keywords."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(branches, list):
        return []
    base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
    return [{**base, **b} for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]


def _array_values(name: str, schema: Mapping[str, Any], tool_description: str, depth: int) -> list[Candidate]:
    raw_items = schema.get("items")
    items: Mapping[str, Any] = raw_items if isinstance(raw_items, Mapping) else {}
    lo = schema.get("minItems", 1) if isinstance(schema.get("minItems"), int) else 1
    hi = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
    want = max(lo, min(_MAX_ITEMS, hi if hi is not None else _MAX_ITEMS))
    if hi is not None:
        want = min(want, hi)
    item_name = " ".join(singular(w) for w in name_words(name)) or name
    if _types(items) & {"number", "integer"} and not items.get("enum"):
        words = set(_catalogue_words(name))
        if not words & set(_NUMBERS):
            lists = [[int(v) if "integer" in _types(items) else v for v in lst] for lst in _LISTS_OF_NUMBERS]
            return [(lst[:max(want, min(len(lst), hi or len(lst)))], "catalogue") for lst in lists]
    pool = [v for v, _ in schema_values(item_name.replace(" ", "_"), items, tool_description, depth + 1)]
    if not pool or want == 0:
        return [([], "schema-type")] if lo == 0 else []
    out: list[Candidate] = []
    unique = bool(schema.get("uniqueItems"))
    for start in range(min(len(pool), 3)):
        chosen: list[Any] = []
        for k in range(len(pool)):
            v = pool[(start + k) % len(pool)]
            if unique and v in chosen:
                continue
            chosen.append(v)
            if len(chosen) >= want:
                break
        while len(chosen) < lo and not unique:
            chosen.append(pool[0])
        if len(chosen) >= lo:
            out.append((chosen, "composed"))
    if lo <= 1:
        out.append(([pool[0]], "composed"))
    return out


def _object_values(name: str, schema: Mapping[str, Any], tool_description: str, depth: int) -> list[Candidate]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        return []
    required = [p for p in schema.get("required") or [] if p in props]
    chosen = required or sorted(props)[:3]
    options: dict[str, list[Any]] = {}
    for prop in chosen:
        sub = props[prop] if isinstance(props[prop], Mapping) else {}
        values = [v for v, _ in schema_values(prop, sub, tool_description, depth + 1)]
        if not values:
            if prop in required:
                return []
            continue
        options[prop] = values
    if not options:
        return []
    out: list[Candidate] = []
    for k in range(max(len(v) for v in options.values())):
        out.append(({p: vs[min(k, len(vs) - 1)] for p, vs in options.items()}, "composed"))
        if len(out) >= 3:
            break
    return out


def schema_values(
    name: str, schema: Mapping[str, Any], tool_description: str = "", depth: int = 0, sole: bool = False
) -> list[Candidate]:
    """Candidates for parameter ``name`` of ``schema``, best first, each valid for the schema.

    ``sole``: the tool takes only this parameter (see `description_examples`)."""
    if depth > _MAX_DEPTH or not isinstance(schema, Mapping):
        return []
    validator = _validator(schema)
    if validator is None:
        return []
    raw: list[Candidate] = list(_schema_listed(schema))
    if not schema.get("enum") and "const" not in schema:
        raw += [(v, "description-example") for text in description_examples(name, schema, tool_description, sole)
                for v in _coerce(text, schema)]
        for branch in _branches(schema):
            raw += schema_values(name, branch, tool_description, depth + 1)
        types = _types(schema) or ({"string"} if not _branches(schema) and "properties" not in schema else set())
        if "properties" in schema and not types:
            types = {"object"}
        for kind in sorted(types, key=lambda k: _TYPE_ORDER.index(k) if k in _TYPE_ORDER else len(_TYPE_ORDER)):
            raw += _typed_values(name, kind, schema, tool_description, depth)
    out: list[Candidate] = []
    seen: set[str] = set()
    for value, how in raw:
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen or value is None:
            continue
        seen.add(key)
        try:
            ok = validator.is_valid(value)
        except Exception:  # a schema jsonschema cannot evaluate (bad regex): the value is not usable
            ok = False
        if ok:
            out.append((value, how))
        if len(out) >= _MAX_CANDIDATES:
            break
    return out


def _typed_values(name: str, kind: str, schema: Mapping[str, Any], tool_description: str, depth: int) -> list[Candidate]:
    if kind == "boolean":
        return [(False, "schema-type"), (True, "schema-type")]
    if kind in ("integer", "number"):
        integer = kind == "integer"
        bounded = _bounds(schema, integer)
        catalogue = [(v, "catalogue") for v in _numbers_for(name, integer)]
        both = any(isinstance(schema.get(k), (int, float)) for k in ("maximum", "exclusiveMaximum")) and any(
            isinstance(schema.get(k), (int, float)) for k in ("minimum", "exclusiveMinimum"))
        # Between two bounds the middle is the likeliest value; past one bound, a catalogue value.
        return bounded[:1] + catalogue + bounded[1:] if both else catalogue + bounded
    if kind == "string":
        return _by_format(schema) + [(v, "catalogue") for v in _text_for(name)]
    if kind == "array":
        return _array_values(name, schema, tool_description, depth)
    if kind == "object":
        return _object_values(name, schema, tool_description, depth)
    return []


def fill_hint(name: str, schema: Mapping[str, Any]) -> str:
    """A ready-to-paste --value flag for a parameter nothing could fill (its type decides the example)."""
    types = _types(schema) or {t for b in _branches(schema) for t in _types(b)}
    if types & {"integer", "number"}:
        example = "100"
    elif "array" in types:
        example = "'[1, 2, 3]'"
    elif "object" in types:
        example = "'{\"key\": \"value\"}'"
    elif "boolean" in types:
        example = "true"
    else:
        example = "TEXT" if not str(schema.get("format") or "") else {"date": "2024-06-21"}.get(str(schema["format"]), "TEXT")
    return f"--value {name}={example}"


def describe_type(schema: Mapping[str, Any]) -> str:
    """'a number', 'a list of strings', 'text' for a parameter's schema (one short phrase)."""
    types = sorted(_types(schema) or {t for b in _branches(schema) for t in _types(b)})
    if not types:
        return "a value"
    kind = types[0]
    if kind == "array":
        raw_items = schema.get("items")
        inner = sorted(_types(raw_items if isinstance(raw_items, Mapping) else {}))
        return f"a list of {inner[0]}s" if inner else "a list"
    return {"string": "text", "integer": "an integer", "number": "a number", "object": "an object",
            "boolean": "true or false"}.get(kind, kind)


def iter_param_schemas(input_schema: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any], bool]]:
    """(name, schema, required) for each top-level parameter of a tool."""
    props = input_schema.get("properties") or {}
    required = set(input_schema.get("required") or [])
    for name in sorted(props):
        schema = props[name] if isinstance(props[name], Mapping) else {}
        yield name, schema, name in required
