"""How a parameter enters a sentence (its role: 'on {date}', 'from {code}'), where a value sits in a list
('the busiest destination'), and the small text helpers the writers share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import standard_name, value_hint

from ._phrasing import (
    _ABBREV,
    Meaning,
    _clean_description,
    _noun_from_key,
    _shape_noun,
    label,
    ordinal,
    schema_at,
    singular,
    words_of,
)
from ._trace_values import resolve_pointer


@dataclass(frozen=True)
class Role:
    """How a parameter enters a sentence: 'on {date}', 'from {code}', 'for the currency {code}'."""

    prep: str
    noun: str
    order: int
    hint: str | None = None
    show_noun: bool = False
    template: str | None = None


_PLACE_WORDS = {"airport", "station", "city", "port", "location", "place", "origin", "destination"}


def _entity_from_description(description: str) -> str | None:
    """'Three-character FAA airport code.' -> 'airport'; 'FAA code of the ... departure airport' -> 'departure airport'."""
    d = re.sub(r"\s*\([^)]*\)", "", description)
    m = re.search(r"\bcode of the (?:[A-Z][\w]* )*([a-z][\w ]*?)(?:[.,;(]|$)", d)
    if m:
        words = m.group(1).split()
        return " ".join(words[-2:])
    m = re.search(r"\b((?:[a-z]+ )?)([a-z]+) (?:code|symbol|abbreviation|identifier)\b", d)
    if m:
        word = m.group(2)
        if word not in ("letter", "character", "digit", "numeric", "alphabetic", "two", "three", "alpha"):
            return word
    return None


def _prep_in(tool_description: str, entity: str) -> str | None:
    """The preposition a tool's description puts before the entity: 'observed at a ... airport' -> 'at'."""
    word = entity.split()[-1]
    m = re.search(rf"\b(from|at|in|to|for|on)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){{0,3}}{re.escape(word)}s?\b",
                  tool_description, flags=re.I)
    return m.group(1).lower() if m else None


def role_of(param: str, schema: Mapping[str, Any], params: set[str], value: Any = None,
            tool_description: str = "") -> Role:
    """A parameter's role in a sentence, from its name, schema, its siblings' names and the tool's description."""
    tokens = set(words_of(param))
    description = str(schema.get("description") or "")
    desc = description.lower()
    hint = value_hint(param, schema)
    sibling_tokens = {t for p in params if p != param for t in words_of(p)}
    has_pair = bool(sibling_tokens & {"dest", "destination", "target", "to"}) and \
        bool(tokens & {"origin", "source", "from", "departure"}) or \
        bool(sibling_tokens & {"origin", "source", "from"}) and bool(tokens & {"dest", "destination", "target", "to"})
    entity = _entity_from_description(description)
    if hint == "date" or "date" in tokens:
        after = bool(tokens & {"after", "since", "start", "from"}) or bool(re.search(
            r"search(?:es)? from|excluded|after|since|starting", desc))
        return Role("after" if after else "on", "date", 4, hint="date")
    if hint == "date-time":
        return Role("at", "time", 5)
    if hint == "hour":
        return Role("at", "hour", 5, hint="hour")
    if hint == "month":
        return Role("in", "month", 6, hint="month")
    if "year" in tokens:
        return Role("in", "year", 6)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()) or tokens == {"time"}:
        return Role("at", "time", 5)
    if hint == "unit":
        if tokens & {"to", "target", "into"}:
            return Role("into", "unit", 3, hint="unit")
        return Role("in", "unit", 3, hint="unit")
    if tokens & {"timezone", "tz"} or "time zone" in desc or "timezone" in desc:
        if has_pair and tokens & {"source", "from", "origin"}:
            return Role("from", "time zone", 1, template="{v} time")
        if has_pair and tokens & {"target", "to", "dest", "destination"}:
            return Role("to", "time zone", 2, template="{v} time")
        return Role("in", "time zone", 3, template="the {v} time zone")
    noun = entity or " ".join(w for w in label(param).split())
    if has_pair and tokens & {"origin", "source", "from", "departure"}:
        return Role("from", entity or "origin", 1)
    if has_pair and tokens & {"dest", "destination", "target", "to"}:
        return Role("to", entity or "destination", 2)
    if tokens & {"origin", "dest", "destination"} or (entity and set(entity.split()) & _PLACE_WORDS):
        noun = entity or "place"
        prep = _prep_in(tool_description, noun) or ("from" if "origin" in tokens else "for")
        if prep in ("for", "in", "on"):
            return Role("for", noun, 0, show_noun=True, template=f"{noun.split()[-1]} {{v}}")
        return Role(prep, noun, 3)
    if "country" in tokens:
        return Role("for", "country", 0, hint="country")  # a standard code is said by name: "for France"
    if "currency" in tokens and isinstance(value, str) and standard_name("currency", value):
        return Role("for", "currency", 0, hint="currency")
    if tokens & {"limit", "top", "count", "max", "size", "n"} and schema.get("type") == "integer":
        return Role("", "limit", 7, template="(top {v})")
    if entity:
        return Role("for", entity, 0, show_noun=True, template=f"the {entity} {{v}}")
    expanded = " ".join(_ABBREV.get(t, t) for t in words_of(param))
    owner = re.match(rf"^(?:the |an? )?([A-Za-z]+) {re.escape(expanded)}\b", description, flags=re.I)
    if owner and owner.group(1).lower() not in ("the", "a", "an", "its", "unique", "official"):
        # "Aircraft tail number (registration)": "the aircraft with tail number N14228", not "tail number N14228"
        thing = owner.group(1).lower()
        return Role("for", thing, 0, show_noun=True, template=f"the {thing} with {expanded} {{v}}")
    return Role("for", expanded, 0, show_noun=True)


def _pair_of(param: str, params: Sequence[str]) -> str | None:
    """latitude <-> longitude with the same prefix ('to_latitude' <-> 'to_longitude')."""
    w = words_of(param)
    for a, b in (("latitude", "longitude"), ("lat", "lon"), ("lat", "lng")):
        for x, y in ((a, b), (b, a)):
            if w and w[-1] == x:
                want = w[:-1] + [y]
                match = next((p for p in params if words_of(p) == want), None)
                if match is not None:
                    return match
    return None


def _unit_partner(param: str, params: Sequence[str], arguments: Mapping[str, Any]) -> str | None:
    """'value' with its sibling 'unit' (a quantity stated as '100 miles')."""
    if words_of(param) not in (["value"], ["amount"], ["quantity"]) or not isinstance(arguments.get(param), (int, float)):
        return None
    return next((p for p in params if words_of(p) in (["unit"], ["from", "unit"], ["units"])), None)


def _merge_of(noun: str, subject: str) -> str:
    """'the IANA timezone of the airport' + 'of airport JFK' -> 'the IANA timezone of airport JFK'."""
    m = re.search(r"\bof the ([\w ]+)$", noun)
    if m and subject:
        bare = m.group(1)
        n = re.match(rf"^(?:of|for) (the )?{re.escape(bare)} (.+)$", subject)
        if n:  # "of airport JFK"; "of the airport I have in mind"
            return f"{noun[:m.start()]}of {n.group(1) or ''}{bare} {n.group(2)}"
        n = re.match(rf"^of (an? (?:[\w ]* )?{re.escape(bare.split()[-1])})\b(.*)$", subject)
        if n:
            return f"{noun[:m.start()]}of {n.group(1)}{n.group(2)}"  # "... of the airport" + "of an airport"
        if subject.startswith("of the ") and re.match(r"^of the (?:\w+-)?\w+est\b|^of the (?:first|second|third)",
                                                      subject):
            # a described entity stands for it: "the time zone of the airport" + "of the busiest destination"
            return f"{noun[:m.start()]}{subject}"
    if re.search(r"\b(?:to|of|for|from) it\b", noun) and subject:
        return f"{noun} ({subject})"
    m = re.match(r"^the ([\w-]+) name$", noun)
    n = re.match(rf"^(?:for|of) ({re.escape(m.group(1))}\b.+)$", subject) if m else None
    if n:
        return f"the name of {n.group(1)}"  # "the airport name" + "for airport JFK" -> "the name of airport JFK"
    return f"{noun} {subject}".strip()


def _names_item(meaning: Meaning, item: str) -> bool:
    """The field identifies the list item itself (its code or name), so the item stands for it."""
    keys = {w for t in words_of(meaning.key) for w in _ABBREV.get(t, t).lower().split()}
    generic = {"faa", "iata", "icao", "code", "name", "id", "iso", "symbol", "key"}
    return bool(keys & set(item.split())) or meaning.key in ("name", "code", "id") or (
        meaning.kind in ("code", "name") and keys <= generic)


def item_noun(noun: str, item_phrase: str) -> str:
    """A field of a list item: 'date of the holiday' + 'the first holiday' -> 'date of the first holiday';
    'scheduled departures to it' + 'the busiest destination' -> 'scheduled departures to the busiest destination'."""
    bare = item_phrase.removeprefix("the ")
    item_word = bare.split()[-1]
    replaced = re.sub(rf"\bthe {re.escape(item_word)}\b", f"the {bare}", noun, count=1)
    if replaced != noun:
        return replaced
    replaced = re.sub(r"\bof the [\w ]+$", f"of the {bare}", noun, count=1)  # "tail number of the aircraft"
    if replaced != noun:
        return replaced
    replaced = re.sub(r"\b(to|of|for|from|on|in) it\b", rf"\1 the {bare}", noun, count=1)
    if replaced != noun:
        return replaced
    return f"{noun} of the {bare}"


def _comma(text: str) -> str:
    return f", {text.strip()}" if text else ""


def _singular_phrase(noun: str) -> str:
    return singular(noun)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.?:])", r"\1", text)
    text = re.sub(r"\.([.?])", r"\1", text)  # "at 9:30 a.m.." -> "a.m."; "a.m.?" -> "a.m.?"
    text = text.replace("a.m?", "a.m.?").replace("p.m?", "p.m.?")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class ListItem:
    """Where a pointer enters a list: the list's noun, the item's index, an order word."""

    noun: str  # the item, singular: "destination"
    index: int
    superlative: str | None  # "busiest" when the list is "busiest first"
    sole: bool = False  # the recorded list held this one item: no order word ("the country", not "the first")

    def phrase(self) -> str:
        """'the fourth-busiest destination', 'the first departure', 'the busiest carrier'."""
        if self.sole:
            return f"the {self.noun}"
        if self.superlative:
            rank = "" if self.index == 0 else ordinal(self.index) + "-"
            return f"the {rank}{self.superlative} {self.noun}"
        return f"the {ordinal(self.index)} {self.noun}"


def list_item(output_schema: Mapping[str, Any] | None, pointer: str, output: Any = None) -> ListItem | None:
    """The innermost list a pointer goes through, described for a reader; given the recorded
    ``output``, a list that held one item is said without an order word."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    nodes = schema_at(output_schema, pointer)
    for i in range(len(tokens) - 1, 0, -1):
        if tokens[i].isdigit() and not tokens[i - 1].isdigit():
            if tokens[i - 1] == "spans" and i == 1 and isinstance(output, Mapping) and "text" in output:
                return None  # a value found in a text (generators.views): said by what it is, not its place
            desc = str((nodes[i - 1] if i - 1 < len(nodes) else {}).get("description") or "")
            noun = _shape_noun(_clean_description(desc), 4, cut=True) if desc else None
            noun = singular(noun or _noun_from_key(tokens[i - 1])[0])
            m = re.search(r"\b(\w+est)\s+first\b", desc, flags=re.I)
            try:
                items = resolve_pointer(output, pointer.rsplit("/", len(tokens) - i)[0])
            except KeyError:
                items = None
            sole = isinstance(items, list) and len(items) == 1
            return ListItem(noun, int(tokens[i]), m.group(1).lower() if m else None, sole)
    return None


# What a value found in free text is, by the kind its scanner gave it (generators/views/_spans.py).
_SPAN_NOUNS = {"hash": "hash", "id": "ID", "uuid": "ID", "date": "date", "datetime": "time", "time": "time",
               "number": "number", "money": "amount", "path": "file", "url": "link", "email": "email address",
               "ip": "IP address", "version": "version", "code": "code", "slug": "name", "quoted": "name"}
_NOT_NAMES = frozenset({"the", "a", "an", "and", "or", "of", "on", "in", "at", "to", "from", "by", "for", "with",
                        "as", "is", "was", "were", "are", "be", "been", "it", "its", "this", "that", "into",
                        "within", "without", "about", "over", "under", "after", "before", "than", "around", "nearly",
                        "only", "just", "all", "per", "each", "every", "some", "up", "down", "out", "off", "via",
                        "across", "between", "during", "since", "until", "has", "have", "had", "will", "can",
                        "not", "but", "also", "then", "there", "here", "which", "who", "when", "where"})


def span_meaning(output: Any, pointer: str) -> Meaning | None:
    """The meaning of a value found in a text output (``/spans/N/value``): its kind, named by the
    word before it ("commit 9f86d0818" is a commit hash, "Order ord-1001" an order ID) or, for a
    number, by the word after it ("touched 3 files": the number of files)."""
    m = re.fullmatch(r"/spans/(\d+)/value", pointer)
    if m is None or not isinstance(output, Mapping) or not isinstance(output.get("text"), str):
        return None
    spans = output.get("spans")
    if not isinstance(spans, list) or int(m.group(1)) >= len(spans) or not isinstance(spans[int(m.group(1))], Mapping):
        return None
    span, text = spans[int(m.group(1))], output["text"]
    kind = str(span.get("kind") or "")
    start, end = span.get("start"), span.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    before = re.findall(r"[A-Za-z][A-Za-z-]+", text[max(0, start - 40):start])
    after = re.match(r"\s+([a-z][a-z-]+)", text[end:end + 40])
    noun = _SPAN_NOUNS.get(kind, "value")
    if kind == "number" and span.get("unit") is None and after and after.group(1).endswith("s") \
            and after.group(1) not in _NOT_NAMES:
        return Meaning(noun=f"number of {after.group(1)}", kind="count", unit=None, count_of=after.group(1),
                       key="value", described=True)
    word = before[-1].lower() if before else ""
    if word and word not in _NOT_NAMES and len(word) >= 3 and not word.endswith(("ed", "ing")):
        noun = f"{word} {noun}"
    unit = str(span["unit"]) if span.get("unit") is not None else None
    # "text", not "date": "What is the date for order ID ord-1001?" reads; date frames want a named event
    return Meaning(noun=noun, kind="number" if kind in ("number", "money") else "text",
                   unit=unit, key="value", described=True)
