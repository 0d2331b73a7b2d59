"""Back-chaining: write the user's task from a trace that already ran.

The answer is chosen first, as a JSON pointer into the last step's recorded
output, so it is right by construction. Then the request is written so that
everything the calls need and no earlier output provides is in the user's
words: those are the user-supplied values.

Two writers:
- `template_task`: deterministic sentences built by `Phraser` from the tools'
  descriptions, types and units (see `_phrasing`): several phrasings per kind,
  chosen by a seed; values as people write them; no field name, JSON pointer,
  list index or tool name. Always available.
- `LLMWriter` (`_writer.py`): a model rewrites the request and the final answer,
  grounded on the recorded values; the checks prove it kept them.

Which field is asked for matters as much as how: `answer_candidates` drops
booleans, ids, flags, fields that echo an argument and fields whose value never
changes across the tool's observations (`FieldStats`), and prefers fields whose
meaning reads well.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Answer, AnswerPointer, ArgumentSource, Normaliser, Step, Task, Tool, Trace

from ._phrasing import (
    Meaning,
    article,
    capitalise,
    join,
    label,
    list_item,
    meaning_of,
    ordinal,
    output_meaning,
    time_of_day_text,
    value_text,
    words_of,
)

__all__ = [
    "FieldStats",
    "Phraser",
    "answer_candidates",
    "choose_answer",
    "label",
    "render_value",
    "resolve_pointer",
    "template_task",
    "user_values",
]


def render_value(value: Any) -> str:
    """A value as JSON would show it (strings bare): for prompts and keys, not for sentences."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup; raises KeyError when the pointer does not resolve."""
    if pointer == "":
        return document
    current = document
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                raise KeyError(pointer)
            current = current[int(token)]
        elif isinstance(current, dict):
            if token not in current:
                raise KeyError(pointer)
            current = current[token]
        else:
            raise KeyError(pointer)
    return current


def field_of(pointer: str) -> str:
    """'/destinations/3/dest' -> '/destinations/*/dest' (list items are one field)."""
    return re.sub(r"/\d+(?=/|$)", "/*", pointer)


def user_values(trace: Trace) -> dict[str, Any]:
    """Arguments the user must state, by parameter name (``name@k`` when names repeat)."""
    values: dict[str, Any] = {}
    for k, step in enumerate(trace.steps):
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if source is not None and source.origin == "step":
                continue
            key = param if param not in values or values[param] == value else f"{param}@{k}"
            values[key] = value
    return values


# --- which fields are worth asking for -----------------------------------------------------------

@dataclass
class FieldStats:
    """Distinct values each output field took across a tool's successful observations.

    A field with one value in every observation of a tool whose arguments varied
    ("year": 2013 in every flight row) is constant: asking for it teaches nothing.
    Built from explored calls (drafting) or stored observations (checking).
    """

    values: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    calls: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    volatile: set[tuple[str, str, str]] = field(default_factory=set)  # (toolset, tool, field) seen to change on an identical call

    @classmethod
    def from_outputs(cls, rows: Iterable[tuple[str, str, Mapping[str, Any] | Any, Any, bool]]) -> FieldStats:
        """From (toolset, tool, arguments, output, is_error) rows."""
        from ._explore import iter_scalars

        stats = cls()
        for toolset, tool, arguments, output, is_error in rows:
            if is_error:
                continue
            stats.calls.setdefault((toolset, tool), set()).add(json.dumps(arguments, sort_keys=True, default=str))
            for pointer, _, value in iter_scalars(output):
                stats.values.setdefault((toolset, tool, field_of(pointer)), set()).add(
                    json.dumps(value, sort_keys=True))
        return stats

    def is_constant(self, toolset: str, tool: str, pointer: str, *, min_calls: int = 3) -> bool:
        """One value across at least ``min_calls`` calls with different arguments."""
        if len(self.calls.get((toolset, tool), ())) < min_calls:
            return False
        return len(self.values.get((toolset, tool, field_of(pointer)), {"", " "})) == 1


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return bool(a == b)


def is_echo(trace: Trace, value: Any) -> bool:
    """The value is an argument of some call: the answer would repeat the question."""
    from ._explore import iter_scalars

    return any(_same_value(value, v) for step in trace.steps for _, _, v in iter_scalars(step.arguments))


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
                    from ._phrasing import unit_text
                    out.append((0, f"{prep} {amount} in {unit_text(str(unit_value))}"))
                elif unit_src is not None and unit_src.origin == "step":
                    out.append((0, f"{prep} {amount} (in {self._ref_or_deixis(trace, unit_src, deixis)})"))
                else:
                    num = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
                    from ._phrasing import unit_text
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
            return article(role.noun) if role.noun not in ("date", "time", "hour") else f"a certain {role.noun}"
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
        item = list_item(self._schema(trace.steps[k]), pointer)
        if item is not None:
            return f"{item.phrase()} {subject}".strip()
        if where is None:
            return f"the location {subject}".strip()
        place = where.group(1)  # "the airport"
        bare = place.removeprefix("the ")
        m = re.match(rf"^of (?:the )?{re.escape(bare)} (.+)$", subject)
        if m:
            return f"{bare} {m.group(1)}"  # "the airport of airport JFK" -> "airport JFK"
        m = re.match(rf"^of (an? [\w ]*{re.escape(bare.split()[-1])})\b(.*)$", subject)
        if m:
            return f"{m.group(1)}{m.group(2)}"  # "the airport of an airport" -> "an airport"
        return f"{place} {subject}".strip()

    def intro(self, trace: Trace, k: int, pointers: Sequence[str]) -> str:
        """What to find first, for every value a later call takes from step k:
        'the location and time zone of airport LAX', 'the busiest destination from JFK in January'."""
        schema = self._schema(trace.steps[k])
        if len(pointers) == 1 or any(list_item(schema, p) is not None for p in pointers):
            refs = []
            for p in pointers:
                words = self.field(trace.steps[k], p).noun.split()
                ref = f"the location of {self.place_reference(trace, k, p)}" if (
                    "latitude" in words or "longitude" in words) else self.reference(trace, k, p)
                if ref not in refs:
                    refs.append(ref)
            return join(refs)
        from ._phrasing import head_phrase

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

    def reference(self, trace: Trace, k: int, pointer: str) -> str:
        """Step k's output value at ``pointer``, described instead of stated."""
        meaning = self.field(trace.steps[k], pointer)
        subject = self.subject(trace, k, nested=True)
        item = list_item(self._schema(trace.steps[k]), pointer)
        if item is not None:
            if _names_item(meaning, item.noun):
                return f"{item.phrase()} {subject}".strip()
            return f"the {item_noun(meaning.noun, item.phrase())} {subject}".strip()
        return _merge_of(f"the {meaning.noun}", subject)

    def deictic(self, trace: Trace, k: int, pointer: str) -> str:
        """How a later sentence points back at that value: 'that destination', 'that time zone'."""
        item = list_item(self._schema(trace.steps[k]), pointer)
        meaning = self.field(trace.steps[k], pointer)
        if item is not None and _names_item(meaning, item.noun):
            return f"that {item.noun}"
        words = meaning.noun.split()
        if "latitude" in words or "longitude" in words:
            return "that place"
        from ._phrasing import head_phrase

        return f"that {head_phrase(meaning.noun)}"

    # -- sentences ---------------------------------------------------------------------------------
    def question(self, meaning: Meaning, subject: str, rng: random.Random) -> str:
        """One request for ``meaning`` about ``subject``, in one of several phrasings."""
        s = f" {subject}" if subject else ""
        noun = meaning.noun
        unit = meaning.unit
        in_unit = f" in {unit}" if unit and unit not in ("%", "percent") and unit not in subject else ""
        if meaning.kind == "count" and meaning.count_of:
            frames = [f"How many {meaning.count_of} are there{s}?", f"How many {meaning.count_of}{s}?",
                      f"Could you tell me how many {meaning.count_of} there are{s}?",
                      f"What's the number of {meaning.count_of}{s}?"]
        elif meaning.kind in ("datetime", "time") and not re.search(r"\b(?:time|date)\b", noun):
            frames = [f"What time is {noun}{s}?", f"When is {noun}{s}?",
                      f"At what time is {noun}{s}?", f"Could you tell me when {noun} is{s}?"]
        elif meaning.kind == "date":
            target = re.sub(r"^date of ", "", noun)
            frames = [f"When is {target}{s}?", f"What's the date of {target}{s}?",
                      f"On what date is {target}{s}?", f"Could you find the date of {target}{s}?"]
        else:
            np = _merge_of(f"the {noun}", subject)  # "the name of the currency" + "for the currency INR"
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
            frames = [f"{capitalise(noun)}{s} is at {shown}.", f"It's at {shown}: that's {noun}{s}."]
        elif meaning.kind == "count" and meaning.count_of and isinstance(value, int):
            shown = value_text(value, meaning)
            many = meaning.count_of if value != 1 else _singular_phrase(meaning.count_of)
            verb = "are" if value != 1 else "is"
            frames = [f"There {verb} {shown} {many}{s}.", f"{capitalise(subject) + ', there' if subject else 'There'}"
                      f" {verb} {shown} {many}."]
        elif meaning.kind == "date":
            target = re.sub(r"^date of ", "", noun)
            shown = value_text(value, meaning)
            frames = [f"{capitalise(target)}{s} is on {shown}.", f"It's on {shown}."
                      if not subject else f"{capitalise(target)}{s} falls on {shown}."]
        else:
            shown = value_text(value, meaning)
            np = _merge_of(f"the {noun}", subject)
            frames = [f"{capitalise(np)} is {shown}.", f"It's {shown}: that's {np}."
                      if subject else f"The {noun} is {shown}.", f"The {noun} is {shown}."]
        return _tidy(rng.choice(frames))


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
    from validators._text import value_hint

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
        return Role("for", "country", 0)
    if tokens & {"limit", "top", "count", "max", "size", "n"} and schema.get("type") == "integer":
        return Role("", "limit", 7, template="(top {v})")
    if entity:
        return Role("for", entity, 0, show_noun=True, template=f"the {entity} {{v}}")
    from ._phrasing import _ABBREV

    expanded = " ".join(_ABBREV.get(t, t) for t in words_of(param))
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
        n = re.match(rf"^(?:of|for) (?:the )?{re.escape(bare)} (.+)$", subject)
        if n:
            return f"{noun[:m.start()]}of {bare} {n.group(1)}"
        n = re.match(rf"^of (an? (?:[\w ]* )?{re.escape(bare.split()[-1])})\b(.*)$", subject)
        if n:
            return f"{noun[:m.start()]}of {n.group(1)}{n.group(2)}"  # "... of the airport" + "of an airport"
        if subject.startswith("of the ") and re.match(r"^of the (?:\w+-)?\w+est\b|^of the (?:first|second|third)",
                                                      subject):
            # a described entity stands for it: "the time zone of the airport" + "of the busiest destination"
            return f"{noun[:m.start()]}{subject}"
    if re.search(r"\b(?:to|of|for|from) it\b", noun) and subject:
        return f"{noun} ({subject})"
    return f"{noun} {subject}".strip()


def _names_item(meaning: Meaning, item: str) -> bool:
    """The field identifies the list item itself (its code or name), so the item stands for it."""
    from ._phrasing import _ABBREV

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
    from ._phrasing import singular

    return singular(noun)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.?:])", r"\1", text)
    text = re.sub(r"\.([.?])", r"\1", text)  # "at 9:30 a.m.." -> "a.m."; "a.m.?" -> "a.m.?"
    text = text.replace("a.m?", "a.m.?").replace("p.m?", "p.m.?")
    return text[:1].upper() + text[1:]


# --- answer choice -----------------------------------------------------------------------------------

_ASK_KINDS = {"number": 3, "count": 3, "date": 3, "datetime": 3, "name": 2, "text": 1, "code": 1, "duration": 2,
              "time": 2, "unit": 0, "flag": -9, "id": -9}


def answer_candidates(trace: Trace, tools: Sequence[Tool] | None = None,
                      stats: FieldStats | None = None) -> list[AnswerPointer]:
    """Fields of the last output worth asking for, best first.

    Dropped: booleans, ids and flags, values an argument already holds (echo),
    fields constant across the tool's observations, empty and long strings, and
    anything the request already contains.
    """
    from ._explore import iter_scalars

    last = trace.steps[-1]
    if last.is_error:
        return []
    phraser = Phraser(tools)
    scored: list[tuple[int, int, AnswerPointer]] = []
    for pointer, key, value in iter_scalars(last.output):
        if not key or isinstance(value, bool):
            continue
        text = render_value(value)
        if not text.strip() or len(text) > 80 or is_echo(trace, value):
            continue
        if stats is not None and (stats.is_constant(last.toolset, last.tool, pointer) or (last.toolset, last.tool, field_of(pointer)) in stats.volatile):
            continue
        meaning = phraser.field(last, pointer, value)
        score = _ASK_KINDS.get(meaning.kind, 0)
        if score < 0:
            continue
        score += (1 if pointer.count("/") == 1 else 0) + (1 if meaning.described else -1)
        scored.append((score, len(scored), AnswerPointer(step=len(trace.steps) - 1, pointer=pointer)))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [p for _, _, p in scored]


def normaliser_for(value: Any) -> Normaliser:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Normaliser(kind="number", tolerance=1e-6)
    if isinstance(value, str) and _ISO_WHEN.match(value):
        return Normaliser(kind="date")
    return Normaliser(kind="casefold")


def choose_answer(trace: Trace, tools: Sequence[Tool] | None = None, stats: FieldStats | None = None,
                  avoid: Iterable[str] = ()) -> Answer | None:
    """A deterministic pick (seeded by the trace) among the best-scored candidates.

    ``avoid``: fields (``/a/*/b``) already asked in the same task.
    """
    avoided = set(avoid)
    candidates = [c for c in answer_candidates(trace, tools, stats) if field_of(c.pointer) not in avoided]
    if not candidates:
        return None
    phraser = Phraser(tools)
    last = trace.steps[-1]
    def score(c: AnswerPointer) -> int:
        m = phraser.field(last, c.pointer)
        return _ASK_KINDS.get(m.kind, 0) + (1 if m.described else -1)

    best = score(candidates[0])
    top = [c for c in candidates if score(c) >= best - 1]
    shallow = [c for c in top if c.pointer.count("/") == 1] or top
    rng = random.Random(trace.trace_id)
    pick = rng.choice(shallow)
    value = resolve_pointer(trace.steps[pick.step].output, pick.pointer)
    return Answer(pointers=[pick], value=value, normaliser=normaliser_for(value))


_ISO_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


# --- the template writer -----------------------------------------------------------------------------

def _date_stated(trace: Trace) -> bool:
    from validators._text import value_hint

    return any(value_hint(p, {}) == "date" or "date" in words_of(p) for s in trace.steps for p in s.arguments)


def template_task(trace: Trace, answer: Answer, *, withheld: str | None = None,
                  tools: Sequence[Tool] | None = None, seed: int | str | None = None) -> Task:
    """The deterministic draft: every user value stated, the answer asked for, no tool named.

    ``withheld`` names a user-supplied parameter left out of the first request
    ("for a country"); the caller adds the turns in which the user supplies it.
    The phrasing (one of several per kind) is chosen by ``seed`` (default: the trace).
    """
    phraser = Phraser(tools, withheld=withheld)
    rng = random.Random(f"{seed if seed is not None else trace.trace_id}:{answer.pointers[0].pointer}")
    last = len(trace.steps) - 1
    pointer = answer.pointers[0].pointer
    meaning = phraser.field(trace.steps[last], pointer, answer.value)
    item = list_item(phraser._schema(trace.steps[last]), pointer)
    if item is not None and _names_item(meaning, item.noun):
        meaning = dataclasses.replace(meaning, noun=item.phrase().removeprefix("the "), count_of=None)
    elif item is not None:
        noun = item_noun(meaning.noun, item.phrase())
        count_of = noun if meaning.count_of and re.search(r"\bit\b", meaning.noun) else meaning.count_of
        if count_of and not re.search(r"\bit\b", meaning.noun):
            count_of = f"{count_of} for {item.phrase()}"
        meaning = dataclasses.replace(meaning, noun=noun, count_of=count_of)
    sourced = [(s.step, s.pointer) for s in trace.steps[last].sources.values()
               if s.origin == "step" and s.step is not None and s.pointer is not None]
    sequential = last > 0 and rng.random() < 0.5
    if last == 0 or not sequential:
        subject = phraser.subject(trace, last, withheld=withheld)
        request = phraser.question(meaning, subject, rng)
    else:
        deixis: dict[tuple[int, str], str] = {}
        intro = []
        by_step: dict[int, list[str]] = {}
        for k, p in dict.fromkeys(sourced):
            deixis[(k, p)] = phraser.deictic(trace, k, p)
            by_step.setdefault(k, []).append(p)
        for k, pointers in by_step.items():
            intro.append(phraser.intro(trace, k, pointers))
        # two values pointed at the same way: "the first time zone", "the second time zone"
        seen = Counter(deixis.values())
        counts: Counter[str] = Counter()
        for key, text in list(deixis.items()):
            if seen[text] > 1 and text != "that place":
                deixis[key] = f"the {ordinal(counts[text])} {text.removeprefix('that ')}"
                counts[text] += 1
        if "that place" in deixis.values():
            places = [key for key, text in deixis.items() if text == "that place"]
            if len({k for k, _ in places}) > 1:
                for n, key in enumerate(places):
                    deixis[key] = f"the {ordinal(n // 2)} place"
        subject = phraser.subject(trace, last, withheld=withheld, deixis=deixis)
        opener = rng.choice(["First, find {x}.", "Start by finding {x}.", "Look up {x} first."])
        request = _tidy(opener.format(x=join(intro))) + " " + phraser.question(meaning, subject, rng)
    subject_final = Phraser(tools).subject(trace, last)
    final = phraser.statement(meaning, subject_final if last == 0 else "", answer.value, rng,
                              date_known=_date_stated(trace))
    return Task(
        kind="single" if last == 0 else "multi_step",
        user_request=request,
        user_values=user_values(trace),
        answer=answer,
        final_message=final,
        writer="template",
    )
