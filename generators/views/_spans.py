"""Spans: the addressable tokens of text that no structural parser accepted.

One compiled pattern finds, left to right and without overlaps, the tokens a later call or an
answer may need. Each becomes ``{"kind", "text", "value", "start", "end"}`` (offsets are Python
string indices into the view's ``text``), plus ``"unit"`` for a number with a unit or currency.

    kind      example text                         value
    url       https://example.com/a?b=1            the text
    email     ada@example.com                      the text
    uuid      0ebba8a9-94aa-474b-98fa-936ebc8cd84e the text
    datetime  2024-02-29T00:00:00Z                 the text (ISO stays a string)
    date      2024-02-29, February 29, 2024        ISO date string (2024-02-29)
    time      14:30, 09:05:00                      the text
    ip        10.0.0.64/26, 192.168.1.10           the text
    version   1.4.0-rc.1, v2.0.1                   the text
    money     $10,048.31, €5, 100 USD              number; "unit" is the symbol or ISO code
    hash      9f86d081884c7d65 (hex, 7+ chars, has a digit and a letter)   the text
    path      /tmp/out.csv, src/app.py, report.pdf the text
    id        ord_123, user-42, ERR_42             the text (letters, digits, joined by - or _)
    slug      smileys-and-emotion, max_value       the text (lower-case words joined by - or _)
    number    212.0, -3, 10,048.31, 4.7 kΩ, 12%    number; "unit" when a unit follows
    code      USD, E24, HTTP                       the text (2+ capitals, optional digits)
    quoted    'grinning-face', "Paris", `x`        the inner text, typed like a token of its own

Units are recognised from a short built-in table first and then from pint's default registry
(a project dependency), with English function words excluded ("3 in" is not three inches) and
ordinal suffixes ("3rd") never read as units. Currency codes come from pycountry's ISO 4217 list.
Both lookups are cached, so the registries load once, on the first unit that needs them.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from typing import Any

#: Text past this many characters is not scanned (a note says so); spans past MAX_SPANS are dropped.
MAX_SCAN = 65_536
MAX_SPANS = 256

_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_CURRENCY_SYMBOLS = "$€£¥₹₩₽₺₪฿₫₦"
# A number: signed only after a space, bracket or operator, so "1-5" is 1 and 5 and "abc123" nothing.
_NUM = r"(?:(?<![^\s(\[=:,;/])[-+−](?=\.?\d)|(?<![\w.,]))(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+)?(?:\.\d+|(?<=\d))(?:[eE][-+]?\d+)?"

_SPAN = re.compile(
    # Spans start at a token's first character: mid-word positions fail at the first check, and so
    # do plain words (letters only, not a month name), which are most of prose.
    r"(?<!\w)(?=[\w" + _CURRENCY_SYMBOLS + r"\"“‘'`「/~.+−-])(?!(?!" + _MONTHS + r"\b)[A-Za-z][a-z]*(?![\w@./:'’-]))(?:"
    r"(?P<url>\b(?:https?|ftp)://[^\s<>\"'`)\]]*[^\s<>\"'`)\].,;:!?])"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<datetime>\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:]))"
    r"|(?P<date>\b\d{4}-\d{2}-\d{2}\b(?!-)|\b" + _MONTHS + r"\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b|\b\d{1,2} " + _MONTHS + r",? \d{4}\b)"
    r"|(?P<time>(?<![\w:.])\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm]\b)?(?![\w:]))"
    r"|(?P<ip>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?![\w.]))"
    r"|(?P<version>(?<![\w.])v?\d+\.\d+\.\d+(?:-[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?(?:\+[0-9A-Za-z.]+)?(?![\w.]))"
    r"|(?P<money>(?:[" + _CURRENCY_SYMBOLS + r"]|\b[A-Z]{3} ?)" + _NUM.replace("(?<![\\w.,])", "") + r")"
    r"|(?P<hash>\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,128}\b|\b(?=[0-9A-F]*\d)(?=[0-9A-F]*[A-F])[0-9A-F]{16,128}\b)"
    r"|(?P<path>(?<![\w/.~-])(?:~|\.{1,2})?(?:/[\w.@%+-]+)+/?|\b[\w-]{2,}(?:[./][\w-]+)*\.[a-z][a-z0-9]{0,4}\b(?![./]?\w))"
    r"|(?P<id>\b(?=[A-Za-z0-9_-]*\d)[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)+\b)"
    r"|(?P<slug>\b[a-z][a-z0-9]*(?:[-_][a-z0-9]+)+\b)"
    r"|(?P<number>" + _NUM + r")"
    r"|(?P<code>\b[A-Z]{2,}[0-9]*\b|\b[A-Z][0-9]+[A-Z0-9]*\b)"
    r"|(?P<quoted>\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”|‘[^’\n]{1,200}’|(?<!\w)'[^'\n]{1,200}'(?!\w)|`[^`\n]{1,200}`|「[^」\n]{1,200}」))"
)
# What may follow a number as its unit: a word (letters, µ, Ω, ², °C), a per-unit, or a percent sign.
_UNIT = re.compile(r"(?:[°º][A-Za-z]?|%|‰|[^\W\d_][^\W\d_]*(?:[/·][^\W\d_]+)*\.?)(?![\w°])")
_UNIT_ATTACHED_TAIL = re.compile(r"[\w°]")

# Common units, so that most outputs never need pint. Compared case-sensitively.
_COMMON_UNITS = frozenset(
    "% ‰ ° °C °F °K ºC ºF K km m cm mm µm um nm mi ft yd kg g mg µg lb lbs oz "
    "s ms µs us ns min h hr hrs d wk mo yr y sec secs mins hour hours day days week weeks month months year years "
    "L l ml mL cl dl gal qt km/h kmh mph m/s kn knots Hz kHz MHz GHz W kW MW GW Wh kWh MWh V mV kV A mA "
    "Ω kΩ MΩ ohm ohms kohm F µF uF nF pF H mH µH J kJ cal kcal Pa kPa hPa MPa bar mbar psi atm "
    "B KB kB MB GB TB PB KiB MiB GiB TiB bit bits bps kbps Mbps Gbps px em rem dpi ppm rpm "
    "deg rad sr lux lm cd mol dB dBm acres acre ha m² km² m2 km2 ft² sq m³ m3 cc bpm steps".split()
)
# Function words and suffixes that pint would read as units ("at" is an atmosphere, "a" a year).
_NOT_UNITS = frozenset(
    "a an and are as at be by do for from he if in into is it me no of on or per so than that the "
    "then this to up us we with x times rd st nd th am pm AM PM".split()
)


@functools.cache
def _currency_codes() -> frozenset[str]:
    import pycountry  # a project dependency; loaded on the first three-capital token next to a number

    return frozenset(c.alpha_3 for c in pycountry.currencies)


@functools.cache
def _pint_knows(token: str) -> bool:
    registry = _pint_registry()
    if registry is None:
        return False
    try:
        registry.parse_units(token)
    except Exception:  # pint raises many types (UndefinedUnitError, DefinitionSyntaxError, ...)
        return False
    return True


_PINT_LOCK = threading.Lock()
_PINT: list[Any] = []  # [registry or None] once loaded


def _pint_registry() -> Any:
    """pint's default registry, loaded on the first word after a number that is not a common unit
    (0.5-2 s, once per process; `warm_up` starts it early); None if it cannot load, so only the
    built-in table is used."""
    if _PINT:
        return _PINT[0]
    with _PINT_LOCK:  # a warm-up thread and a parse may ask at once: load it once
        if not _PINT:
            try:
                import pint  # a project dependency

                _PINT.append(pint.UnitRegistry())
            except Exception:
                _PINT.append(None)
    return _PINT[0]


def warm_up() -> None:
    """Load pint's registry in a background thread, once per process, so that the first unit
    lookup of a run (a span such as "3 files" in prose) does not wait for it. Idempotent."""
    if _PINT or _PINT_LOCK.locked():
        return
    threading.Thread(target=_pint_registry, name="backchain-pint-warm-up", daemon=True).start()


def is_unit(token: str) -> bool:
    """Is this word a unit of measurement (see the module docstring for the rules)?"""
    if token in _COMMON_UNITS:
        return True
    if token in _NOT_UNITS or token.lower() in _NOT_UNITS or len(token) > 16 or len(token) < 2:
        return False
    return _pint_knows(token)


def _number(text: str) -> int | float | None:
    clean = text.replace(",", "").replace("−", "-").lstrip("+")
    try:
        if re.fullmatch(r"-?\d+", clean):
            value: float = int(clean) if len(clean.lstrip("-")) <= 15 else float(clean)
        else:
            value = float(clean)
    except ValueError:
        return None
    # A run of hundreds of digits overflows to infinity, which no JSON can hold: not a number span.
    # (Such a view could never be stored, so no recorded view changes: no new parser version.)
    return value if math.isfinite(value) else None


def _iso_date(text: str) -> str:
    try:
        from dateutil import parser as date_parser

        return date_parser.parse(text).date().isoformat()
    except (ValueError, OverflowError):
        return text


def _unit_after(text: str, end: int) -> tuple[str, int] | None:
    """The unit that follows a number ending at ``end`` (one optional space), if there is one."""
    pos = end + 1 if text.startswith(" ", end) else end
    m = _UNIT.match(text, pos)
    if m is None:
        return None
    unit = m.group().rstrip(".")
    if pos == end and unit.lower() in ("st", "nd", "rd", "th"):
        return None
    if unit and ((len(unit) == 3 and unit.isupper() and unit in _currency_codes()) or is_unit(unit)):
        return unit, pos + len(unit)
    return None


def _span(kind: str, text: str, value: Any, start: int, end: int, unit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "text": text, "value": value, "start": start, "end": end}
    if unit is not None:
        out["unit"] = unit
    return out


def _classify(m: re.Match[str], text: str) -> tuple[dict[str, Any] | None, int]:
    """The span for one match and where scanning resumes (None: the match is not a span after all)."""
    kind = m.lastgroup or ""
    token, start, end = m.group(), m.start(), m.end()
    if kind == "date":
        return _span("date", token, token if token[:1].isdigit() and token[4:5] == "-" else _iso_date(token), start, end), end
    if kind == "money":
        symbol = token[0] if token[0] in _CURRENCY_SYMBOLS else token[:3]
        if symbol not in _CURRENCY_SYMBOLS and symbol not in _currency_codes():
            return _span("code", symbol, symbol, start, start + 3), start + 3
        value = _number(token[len(symbol):].strip())
        return _span("money", token, value, start, end, unit=symbol), end
    if kind == "number":
        value = _number(token)
        if value is None:
            return None, end
        unit = _unit_after(text, end)
        if unit is not None:
            name, unit_end = unit
            kind = "money" if name in _currency_codes() and name.isupper() else "number"
            return _span(kind, text[start:unit_end], value, start, unit_end, unit=name), unit_end
        if end < len(text) and _UNIT_ATTACHED_TAIL.match(text, end):
            # Letters glued to digits that are not a unit ("2d6", "3rd", "12abc"): not a number.
            tail = re.match(r"[\w°]+", text[end:])
            return None, end + (len(tail.group()) if tail else 1)
        return _span("number", token, value, start, end), end
    if kind == "quoted":
        inner = token[1:-1]
        inner_spans = scan(inner, limit=2)
        if len(inner_spans) == 1 and inner_spans[0]["start"] == 0 and inner_spans[0]["end"] == len(inner):
            typed = inner_spans[0]
            return _span(typed["kind"], inner, typed["value"], start + 1, end - 1, unit=typed.get("unit")), end
        return _span("quoted", inner, inner, start + 1, end - 1), end
    return _span(kind, token, token, start, end), end


def scan(text: str, limit: int = MAX_SPANS) -> list[dict[str, Any]]:
    """Every span in ``text`` (the first MAX_SCAN characters), left to right, at most ``limit``."""
    spans: list[dict[str, Any]] = []
    pos, stop = 0, min(len(text), MAX_SCAN)
    while pos < stop and len(spans) < limit:
        m = _SPAN.search(text, pos, stop)
        if m is None:
            break
        span, pos = _classify(m, text)
        if span is not None:
            spans.append(span)
        pos = max(pos, m.start() + 1)
    return spans


def parse_text_spans(text: str) -> dict[str, Any]:
    """The fallback view: the text whole, and its spans. Never declines."""
    return {"text": text, "spans": scan(text)}


def token_kind(token: str) -> tuple[str, dict[str, Any] | None]:
    """What one whitespace-free token is, as the span scanner sees it: (kind, span) when a single
    span covers all of it, else ("string", None)."""
    spans = scan(token, limit=2)
    if len(spans) == 1 and spans[0]["start"] == 0 and spans[0]["end"] == len(token):
        return spans[0]["kind"], spans[0]
    return "string", None
