"""Sentences about a trace's calls (`Phraser`), from what the tools declare: the template writer's words."""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import ArgumentSource, Step, Tool, Trace

from ._meaning import is_zone_param
from ._phrasing import (
    Meaning,
    capitalise,
    head_phrase,
    join,
    meaning_of,
    output_meaning,
    time_of_day_text,
    unit_text,
    value_text,
    words_of,
)
from ._pool import iter_scalars
from ._roles import (
    ListItem,
    Role,
    _comma,
    _merge_of,
    _names_item,
    _pair_of,
    _singular_phrase,
    _tidy,
    _unit_partner,
    item_noun,
    list_item,
    role_of,
    span_meaning,
)
from ._trace_values import resolve_pointer


class Phraser:
    """Sentences about a trace's calls, from what the tools declare (descriptions, schemas)."""

    def __init__(self, tools: Sequence[Tool] | None = None, *, withheld: str | None = None) -> None:
        self.tools: dict[tuple[str, str], Tool] = {(t.toolset, t.name): t for t in tools or ()}
        self.withheld = withheld  # a user value left out of the request (multi_turn), wherever it is used

    # -- meanings ----------------------------------------------------------------------------------
    def tool(self, step: Step) -> Tool | None:
        return self.tools.get((step.toolset, step.tool))

    def field(self, step: Step, pointer: str, value: Any = None) -> Meaning:
        """What the value at ``pointer`` of a step's output means."""
        tool = self.tool(step)
        if value is None:
            try:
                value = resolve_pointer(step.output, pointer)
            except KeyError:
                value = None
        spanned = span_meaning(step.output, pointer)
        if spanned is not None:
            return spanned
        meaning = output_meaning(tool.output_schema if tool else None, pointer, value)
        if meaning.unit is None and pointer.endswith("/value"):
            # a value recorded beside its unit ({"value": 762, "unit": "mile"}) keeps it
            try:
                unit = resolve_pointer(step.output, pointer[: -len("value")] + "unit")
            except KeyError:
                unit = None
            if isinstance(unit, str):
                meaning = Meaning(meaning.noun, meaning.kind, value_text(unit, hint="unit"), meaning.count_of,
                                  meaning.entity, meaning.key)
        return meaning

    def param(self, step: Step, param: str) -> tuple[Meaning, Role]:
        tool = self.tool(step)
        props = (tool.input_schema.get("properties") or {}) if tool else {}
        raw = props.get(param)
        schema: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        value = step.arguments.get(param)
        meaning = meaning_of(param, str(schema.get("description") or ""), value, schema)
        return meaning, role_of(param, schema, set(props) or set(step.arguments), value,
                                tool_description=tool.description if tool else "")

    # -- phrases -----------------------------------------------------------------------------------
    def arg_phrases(self, trace: Trace, k: int, *, nested: bool = False, withheld: str | None = None,
                    deixis: Mapping[tuple[int, str], str] | None = None) -> list[tuple[int, str]]:
        """(order, phrase) for every argument of step k a reader needs, in sentence order."""
        step = trace.steps[k]
        withheld = withheld or self.withheld
        out: list[tuple[int, str]] = []
        done: set[str] = set()
        params = list(step.arguments)
        partners = {u: v for v in params if (u := _unit_partner(v, params, step.arguments)) is not None}
        for param in sorted(params, key=lambda p: p in partners):
            if param in done or param in partners:
                continue
            value = step.arguments[param]
            source = step.sources.get(param) or ArgumentSource(origin="user")
            meaning, role = self.param(step, param)
            if source.origin == "user" and source.how == "schema-default" and param != withheld:
                continue
            if param != withheld and _zone_of_the_place(trace, k, param):
                continue  # "sunrise at EWR", not "at EWR in the time zone of EWR": local time is implied
            pair = _pair_of(param, params)
            if pair is not None:
                done |= {param, pair}
                lat, lon = (param, pair) if "latitude" in words_of(param) or "lat" in words_of(param) else (pair, param)
                out.append((role.order, self._place(trace, k, lat, lon, role, deixis, withheld)))
                continue
            unit_param = _unit_partner(param, params, step.arguments)
            if unit_param is not None:
                done |= {param, unit_param}
                unit_value = step.arguments[unit_param]
                unit_src = step.sources.get(unit_param)
                prep = "of"
                if source.origin == "step" and unit_src is not None and unit_src.origin == "step" \
                        and unit_src.step == source.step:
                    # the value and its unit came together from one output: one quantity
                    out.append((0, f"{prep} {self._ref_or_deixis(trace, source, deixis)}"))
                    continue
                amount = self._object(trace, k, param, value, meaning, Role("", "value", 0), deixis, withheld)
                if source.origin == "step" and (unit_src is None or unit_src.origin != "step"):
                    out.append((0, f"{prep} {amount} in {unit_text(str(unit_value))}"))
                elif unit_src is not None and unit_src.origin == "step":
                    out.append((0, f"{prep} {amount} (in {self._ref_or_deixis(trace, unit_src, deixis)})"))
                else:
                    num = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
                    out.append((0, f"{prep} {amount} {unit_text(str(unit_value), num)}"))
                continue
            done.add(param)
            obj = self._object(trace, k, param, value, meaning, role, deixis, withheld)
            prep = role.prep
            if nested and prep in ("for", "in") and role.order == 0:
                prep = "of"
            out.append((role.order, f"{prep} {obj}".strip()))
        return sorted(out, key=lambda p: p[0])

    def subject(self, trace: Trace, k: int, **kwargs: Any) -> str:
        return " ".join(p for _, p in self.arg_phrases(trace, k, **kwargs))

    def _object(self, trace: Trace, k: int, param: str, value: Any, meaning: Meaning, role: Role,
                deixis: Mapping[tuple[int, str], str] | None, withheld: str | None) -> str:
        step = trace.steps[k]
        source = step.sources.get(param) or ArgumentSource(origin="user")
        if param == withheld:
            # the user has one in mind and says which when asked ("Which country do you mean?")
            return _IN_MIND[zlib.crc32(f"{step.tool}/{param}".encode()) % len(_IN_MIND)].format(n=role.noun)
        if source.origin == "step" and source.step is not None and source.pointer is not None:
            ref = self._ref_or_deixis(trace, source, deixis)
            if role.template and "time zone" in role.template and ref.startswith("that "):
                return ref
            return ref
        text = value_text(value, None, hint=role.hint) if role.hint else value_text(value)
        if role.template:
            return role.template.format(v=text)
        if role.show_noun:
            return f"{role.noun} {text}"
        return text

    def _ref_or_deixis(self, trace: Trace, source: ArgumentSource,
                       deixis: Mapping[tuple[int, str], str] | None) -> str:
        assert source.step is not None and source.pointer is not None
        if deixis is not None and (source.step, source.pointer) in deixis:
            return deixis[(source.step, source.pointer)]
        return self.reference(trace, source.step, source.pointer)

    def _place(self, trace: Trace, k: int, lat: str, lon: str, role: Role,
               deixis: Mapping[tuple[int, str], str] | None, withheld: str | None) -> str:
        step = trace.steps[k]
        other = [p for p in step.arguments if p not in (lat, lon) and _pair_of(p, list(step.arguments))]
        prep = "to" if words_of(lat)[0] in ("to", "target", "dest", "end") else ("from" if other else "at")
        src_lat, src_lon = step.sources.get(lat), step.sources.get(lon)
        if lat == withheld or lon == withheld:
            return f"{prep} a certain place"
        if (src_lat is not None and src_lat.origin == "step" and src_lon is not None and src_lon.origin == "step"
                and src_lat.step == src_lon.step and src_lat.step is not None and src_lat.pointer is not None):
            if deixis is not None and (src_lat.step, src_lat.pointer) in deixis:
                return f"{prep} {deixis[(src_lat.step, src_lat.pointer)]}"
            return f"{prep} {self.place_reference(trace, src_lat.step, src_lat.pointer)}"
        parts = []
        for p in (lat, lon):
            src = step.sources.get(p)
            if src is not None and src.origin == "step" and src.pointer is not None:
                parts.append(self._ref_or_deixis(trace, src, deixis))
            else:
                parts.append(value_text(step.arguments[p]))
        return f"{prep} {parts[0]}, {parts[1]}"

    def place_reference(self, trace: Trace, k: int, pointer: str) -> str:
        """Where a latitude/longitude pair of step k's output is: 'the capital of France', 'airport JFK'."""
        meaning = self.field(trace.steps[k], pointer)
        where = re.search(r"\bof (the [\w ]+)$", meaning.noun)
        subject = self.subject(trace, k, nested=True)
        item = self.item(trace.steps[k], pointer)
        if item is not None:
            return f"{item.phrase()} {subject}".strip()
        if where is None:
            return f"the location {subject}".strip()
        place = where.group(1)  # "the airport"
        bare = place.removeprefix("the ")
        m = re.match(rf"^of (the )?{re.escape(bare)} (.+)$", subject)
        if m:  # "the airport of airport JFK" -> "airport JFK"; "... of the airport I have in mind" keeps its article
            return f"{m.group(1) or ''}{bare} {m.group(2)}"
        m = re.match(rf"^of (an? [\w ]*{re.escape(bare.split()[-1])})\b(.*)$", subject)
        if m:
            return f"{m.group(1)}{m.group(2)}"  # "the airport of an airport" -> "an airport"
        return f"{place} {subject}".strip()

    def intro(self, trace: Trace, k: int, pointers: Sequence[str]) -> str:
        """What to find first, for every value a later call takes from step k:
        'the location and time zone of airport LAX', 'the busiest destination from JFK in January'."""
        if len(pointers) == 1 or any(self.item(trace.steps[k], p) is not None for p in pointers):
            refs = []
            for p in pointers:
                words = self.field(trace.steps[k], p).noun.split()
                ref = f"the location of {self.place_reference(trace, k, p)}" if (
                    "latitude" in words or "longitude" in words) else self.reference(trace, k, p)
                if ref not in refs:
                    refs.append(ref)
            return join(refs)
        nouns: list[str] = []
        for p in pointers:
            words = self.field(trace.steps[k], p).noun.split()
            noun = "location" if "latitude" in words or "longitude" in words else \
                head_phrase(self.field(trace.steps[k], p).noun)
            if noun not in nouns:
                nouns.append(noun)
        place = self.place_reference(trace, k, pointers[0]) if any(
            "latitude" in self.field(trace.steps[k], p).noun.split() for p in pointers) else None
        subject = self.subject(trace, k, nested=True)
        if place and not place.startswith("the location"):
            return f"the {join(nouns)} of {place}"
        return _merge_of(f"the {join(nouns)}", subject)

    def _schema(self, step: Step) -> Mapping[str, Any] | None:
        tool = self.tool(step)
        return tool.output_schema if tool else None

    def item(self, step: Step, pointer: str) -> ListItem | None:
        """Where ``pointer`` enters a list of the step's output, read from its schema and recorded output."""
        return list_item(self._schema(step), pointer, step.output)

    def reference(self, trace: Trace, k: int, pointer: str) -> str:
        """Step k's output value at ``pointer``, described instead of stated."""
        meaning = self.field(trace.steps[k], pointer)
        subject = self.subject(trace, k, nested=True)
        item = self.item(trace.steps[k], pointer)
        # a code passed on stands for what it names: "the carrier of the first departure", not its code
        noun = (entity_of_code(meaning.noun, meaning.key) if meaning.kind in ("code", "id") else None) or meaning.noun
        if item is not None:
            if _names_item(meaning, item.noun):
                return f"{item.phrase()} {subject}".strip()
            return f"the {item_noun(noun, item.phrase())} {subject}".strip()
        return _merge_of(f"the {noun}", subject)

    def deictic(self, trace: Trace, k: int, pointer: str) -> str:
        """How a later sentence points back at that value: 'that destination', 'that time zone'."""
        item = self.item(trace.steps[k], pointer)
        meaning = self.field(trace.steps[k], pointer)
        if item is not None and _names_item(meaning, item.noun):
            return f"that {item.noun}"
        words = meaning.noun.split()
        if "latitude" in words or "longitude" in words:
            return "that place"
        m = re.match(r"^(?:[\w-]+ )?name of (?:the |a |an )?(?:[\w-]+ )*?([\w-]+)$", meaning.noun)
        if m:
            return f"that {m.group(1)}"
        entity = entity_of_code(meaning.noun, meaning.key) if meaning.kind in ("code", "id") else None
        if entity:
            return f"that {entity.split()[-1]}"  # "the code of the main currency" is then "that currency"
        return f"that {head_phrase(meaning.noun)}"

    # -- sentences ---------------------------------------------------------------------------------
    def question(self, meaning: Meaning, subject: str, rng: random.Random) -> str:
        """One request for ``meaning`` about ``subject``, in one of several phrasings."""
        s = f" {subject}" if subject else ""
        noun = meaning.noun
        unit = meaning.unit
        in_unit = f" in {unit}" if unit and unit not in ("%", "percent") and unit not in subject else ""
        if meaning.kind == "count" and meaning.count_of:
            frames = [f"How many {meaning.count_of} are there{s}?", f"I'd like to know how many {meaning.count_of} "
                      f"there are{s}.", f"Could you tell me how many {meaning.count_of} there are{s}?",
                      f"What's the number of {meaning.count_of}{s}?"]
        elif meaning.kind in ("datetime", "time") and not re.search(r"\b(?:time|date)\b", noun):
            frames = [f"What time is {noun}{s}?", f"When is {noun}{s}?",
                      f"At what time is {noun}{s}?", f"Could you tell me when {noun} is{s}?"]
        elif (done := year_event(noun)) and (thing := thing_of(subject)):
            frames = [f"What year was {thing} {done}?", f"In what year was {thing} {done}?", f"When was {thing} {done}?"]
        elif meaning.kind == "date":
            target = re.sub(r"^date of ", "", noun)
            frames = [f"When is {target}{s}?", f"What's the date of {target}{s}?",
                      f"On what date is {target}{s}?", f"Could you find the date of {target}{s}?"]
        else:
            np = _merge_of(f"the {noun}", _of_the_thing(subject))  # "the name of the currency" + "for the currency INR"
            frames = [f"What is {np}{_comma(in_unit)}?", f"What's {np}?",
                      f"Can you tell me {np}?", f"Could you look up {np}{_comma(in_unit)}?",
                      f"I'd like to know {np}.", f"Please find {np}{_comma(in_unit)}."]
        return _tidy(rng.choice(frames))

    def statement(self, meaning: Meaning, subject: str, value: Any, rng: random.Random, *,
                  date_known: bool = False) -> str:
        """The final answer's sentence: the meaning, its subject and the value with its unit."""
        s = f" {subject}" if subject else ""
        noun = meaning.noun
        if meaning.kind == "datetime" and isinstance(value, str) and not re.search(r"\b(?:time|date)\b", noun):
            shown = (time_of_day_text(value) if date_known else None) or value_text(value, meaning)
            frames = [f"{capitalise(noun)}{s} is at {shown}.", f"I found that {noun}{s} is at {shown}."]
        elif meaning.kind == "count" and meaning.count_of and isinstance(value, int):
            shown = value_text(value, meaning)
            many = meaning.count_of if value != 1 else _singular_phrase(meaning.count_of)
            verb = "are" if value != 1 else "is"
            frames = [f"There {verb} {shown} {many}{s}.", f"{capitalise(subject) + ', there' if subject else 'There'}"
                      f" {verb} {shown} {many}."]
        elif done := year_event(noun):
            shown, thing = value_text(value, meaning), thing_of(subject)
            frames = [f"It was {done} in {shown}."] + ([f"{capitalise(thing)} was {done} in {shown}."] if thing else [])
        elif meaning.kind == "date":
            target = re.sub(r"^date of ", "", noun)
            shown = value_text(value, meaning)
            frames = [f"{capitalise(target)}{s} is on {shown}.", f"It's on {shown}."
                      if not subject else f"{capitalise(target)}{s} falls on {shown}."]
        else:
            shown = value_text(value, meaning)
            np = _merge_of(f"the {noun}", _of_the_thing(subject))
            frames = [f"{capitalise(np)} is {shown}.", f"I found that {np} is {shown}."
                      if subject else f"The {noun} is {shown}.", f"The {noun} is {shown}."]
        return _tidy(rng.choice(frames))


_YEAR_DONE = re.compile(r"^year (built|made|founded|opened|established|completed|launched|released|created)$")


def _of_the_thing(subject: str) -> str:
    """'for Japan' -> 'of Japan' when the subject is the one thing asked about ('the population of Japan');
    'for France in 2024' keeps 'for'."""
    if subject.startswith("for ") and not re.search(r"\b(?:for|in|on|at|from|to|after|before|between)\b",
                                                     subject[4:]):
        return "of " + subject[4:]
    return subject


def year_event(noun: str) -> str | None:
    """'year built' -> 'built': a year field asked as 'What year was ... built?'."""
    m = _YEAR_DONE.match(noun)
    return m.group(1) if m else None


def thing_of(subject: str) -> str | None:
    """'for tail number N14228' -> 'tail number N14228': what a 'year built' question is about."""
    m = re.match(r"^(?:for|of) (.+)$", subject)
    return m.group(1) if m else None


_QUALIFIERS = frozenset({"numeric", "calling", "dialling", "dialing", "postal", "zip", "area", "short", "official",
                         "standard", "unique", "two-letter", "three-letter", "alphabetic", "internal"})


def entity_of_code(noun: str, key: str = "") -> str | None:
    """What a code names: 'carrier code' -> 'carrier', 'FAA airport code' -> 'airport', 'tail number of the
    aircraft' -> 'aircraft', 'code of the main currency' -> 'main currency', 'alpha-2 code' of a field
    ``country_code`` -> 'country'; None for 'numeric code'."""
    m = re.match(r"^(?:[\w-]+ )*?(?:code|number|id|identifier|symbol) of (?:the |a |an )?(.+)$", noun)
    if m:
        return m.group(1)
    words = noun.split()
    if len(words) >= 2 and words[-1] == "code":
        named = [w for w in words[:-1] if w.islower() and w not in _QUALIFIERS and not re.search(r"\d|^alpha", w)]
        if named:
            return " ".join(named)
    named = words_of(key)
    if len(named) >= 2 and named[-1] == "code" and not set(named[:-1]) & _QUALIFIERS:
        return " ".join(named[:-1])
    return None


_IN_MIND = ("the {n} I have in mind", "the {n} I'm interested in")


def _zone_of_the_place(trace: Trace, k: int, param: str) -> bool:
    """Step k's time zone argument came from an output about the very place step k's coordinates
    name (the airport the coordinates are of, or a time zone lookup at those coordinates)."""
    if not is_zone_param(param):
        return False
    step = trace.steps[k]
    source = step.sources.get(param)
    if source is None or source.origin != "step" or source.step is None or source.step >= len(trace.steps):
        return False
    coords = [p for p in step.arguments if _pair_of(p, list(step.arguments)) is not None]
    if len(coords) != 2:
        return False
    origin = trace.steps[source.step]
    if all((s := step.sources.get(p)) is not None and s.origin == "step" and s.step == source.step for p in coords):
        return True  # the coordinates and the zone came from one output
    given = {v for v in (*origin.arguments.values(), *(v for _, _, v in iter_scalars(origin.output)))
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return all(step.arguments[p] in given for p in coords)
