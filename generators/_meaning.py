"""Meaningful chains: a value feeds a parameter only when what it *means* fits, not just its name.

Names and types alone join values that mean nothing together: Paris's latitude with Tokyo's
longitude, a distance in miles converted as kilometres, an aircraft's build year used as a
holiday year. The rules here are general (no tool or server is named) and decide, for one call
whose arguments an earlier output (the *anchor*) supplies in part:

- **Entity parameters come from one place.** A parameter that names *what* the call is about
  (a place, a code, an id, a coordinate, a timezone: a string or number that is not a modifier)
  takes its value from the anchor when the anchor supplies another parameter of its group, or
  the call does not use that anchor. Modifiers may come from the user's side: enums, booleans,
  dates and times, units to convert to, limits, counts, pages, hours, months and years; so may
  another group (``to_latitude`` beside an anchored ``latitude``: a second place). So a sunset
  time for a place gets the place's coordinates and timezone from one output, never a timezone
  from a schema example.
- **Coordinates travel in pairs.** ``latitude``/``longitude`` (and ``to_lat``/``to_lon``...)
  with the same prefix come from the same object.
- **Units never change silently.** A number fed to a parameter that a unit parameter qualifies
  (``value`` + ``unit``, ``amount`` + ``currency``) brings the unit it was recorded in: from the
  view, a unit field beside it, its field name (``altitude_ft``) or its field's description
  ("Route distance, in miles"). A value whose unit is unknown is not fed there.
- **Lists need an order.** An item past the first of a list its schema describes without an
  order ("Countries that use this currency.") is not chained: nobody asks for the third of them.
- **Generic names need a shared context.** A value under a generic key (``year``, ``name``,
  ``id``, ``code``, ``value``...) feeds a parameter of that name only when the source and the
  target share a topic word (their tools' names and descriptions, the field's and parameter's
  descriptions): a holiday's year feeds a holiday tool's ``year``, an aircraft's does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from schemas import ArgumentSource, Observation, Tool

from ._arguments import name_words, singular
from ._phrasing import canonical_unit, output_meaning, schema_at
from ._pool import PoolValue, _Option, iter_leaves, names_match
from ._trace_values import resolve_pointer

POOL_SOURCE = ArgumentSource(origin="step", how="pool")
#: A unit parameter's value: the unit an earlier step recorded the value beside it in.
UNIT_SOURCE = ArgumentSource(origin="step", how="unit-of")
#: An anchor's output repeating its call's argument: the user's value, which the user states.
ECHO_SOURCE = ArgumentSource(origin="user", how="seed")

# -- modifiers and entities ---------------------------------------------------------------------

_MODIFIER_WORDS = frozenset({
    "limit", "count", "page", "offset", "size", "top", "max", "min", "number", "n", "k", "per",
    "hour", "hours", "minute", "month", "year", "day", "week", "date", "time", "datetime", "when",
    "since", "until", "after", "before", "start", "end", "from_date", "to_date",
    "detail", "format", "lang", "language", "locale", "sort", "order", "mode", "verbose", "precision",
    "decimals", "digits", "round", "rounding", "unit", "units", "to_unit", "target_unit", "uom",
})
_TIME_FORMATS = frozenset({"date", "date-time", "time", "duration"})


def _branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alts = schema.get("anyOf") or schema.get("oneOf") or []
    return [schema, *(b for b in alts if isinstance(b, Mapping))]


def is_modifier(param: str, schema: Mapping[str, Any]) -> bool:
    """A parameter that says *how* (or when, or how many), not *what*: it may come from the user's
    side while an earlier output supplies the entity."""
    for b in _branches(schema):
        if "enum" in b or b.get("type") == "boolean" or b.get("format") in _TIME_FORMATS:
            return True
    words = [singular(w) for w in name_words(param)]
    return bool(words) and (words[-1] in _MODIFIER_WORDS or "_".join(words) in _MODIFIER_WORDS)


# -- which entity a parameter is about ---------------------------------------------------------

_RELATIONAL = frozenset({"to", "from", "source", "target", "origin", "destination", "dest", "start", "end",
                         "second", "other", "new", "old", "base", "quote", "first", "into"})


def entity_group(param: str) -> str:
    """Parameters of one group describe one entity: '' for the call's subject, 'to' for
    ``to_latitude``/``to_longitude``, 'source' for ``source_timezone``. A value an earlier output
    supplies to one parameter of a group brings the group's other entity parameters with it."""
    words = name_words(param)
    return words[0] if len(words) > 1 and words[0] in _RELATIONAL else ""


# -- coordinates ----------------------------------------------------------------------------------

_LAT = frozenset({"lat", "latitude"})
_LON = frozenset({"lon", "lng", "long", "longitude"})


def is_zone_param(name: str) -> bool:
    """``timezone``, ``source_tz``, ``target_time_zone``: a time zone, which says where as a place does."""
    words = name_words(name)
    return bool({"timezone", "tz", "zone"} & set(words))


def coordinate_axis(name: str) -> tuple[str, str] | None:
    """('to', 'lat') for ``to_latitude``; None for a name that is no coordinate."""
    words = name_words(name)
    if not words:
        return None
    for i, w in enumerate(words):
        axis = "lat" if w in _LAT else "lon" if w in _LON else None
        if axis is not None:
            return "_".join(words[:i] + words[i + 1:]), axis
    return None


# -- units ----------------------------------------------------------------------------------------

_UNIT_PARAM_WORDS = frozenset({"unit", "units", "uom", "currency"})
_TARGET_WORDS = frozenset({"to", "target", "into", "output", "dest", "destination"})
_UNIT_KEYS = ("unit", "units", "uom", "currency", "currency_code")


def unit_pair(tool: Tool) -> tuple[str, str] | None:
    """(number parameter, unit parameter) when a unit (or currency) parameter qualifies one
    number parameter of ``tool``: ``(value, unit)``, ``(amount, from_currency)``."""
    props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
    units = [p for p in props if set(name_words(p)) & _UNIT_PARAM_WORDS and not set(name_words(p)) & _TARGET_WORDS]
    numbers = [p for p, s in props.items() if isinstance(s, Mapping)
               and any(b.get("type") in ("number", "integer") for b in _branches(s))]
    if len(units) != 1 or len(numbers) != 1:
        return None
    return numbers[0], units[0]


def field_description(tool: Tool | None, pointer: str) -> str:
    """The output schema's description of the field at ``pointer`` ('' when it has none)."""
    nodes = schema_at(tool.output_schema if tool is not None else None, pointer)
    return str(nodes[-1].get("description") or "") if nodes else ""


def unit_of(value: Any, pointer: str, unit: str | None, context: Mapping[str, Any], tool: Tool | None) -> str | None:
    """The unit a recorded number was given in (the normaliser's canonical name): the view's, a
    unit field beside it, or what its field says (its description, its name: ``altitude_ft``);
    None when nothing says."""
    for candidate in (unit, *(context.get(k) for k in _UNIT_KEYS)):
        if isinstance(candidate, str) and (found := canonical_unit(candidate)):
            return found
    said = output_meaning(tool.output_schema if tool is not None else None, pointer, value).unit
    return canonical_unit(said) if said else None


def recorded_unit(output: Any, pointer: str, tool: Tool | None) -> str | None:
    """The unit of the value at ``pointer`` in a recorded output (`unit_of`, with the fields beside
    it as its context): what a ``how="unit-of"`` argument must be."""

    parent_pointer = pointer.rsplit("/", 1)[0]
    try:
        value = resolve_pointer(output, pointer)
        parent = resolve_pointer(output, parent_pointer)
    except KeyError:
        return None
    context = parent if isinstance(parent, Mapping) else {}
    return unit_of(value, pointer, None, context, tool)


def unit_argument(schema: Mapping[str, Any], unit: str) -> str | None:
    """What to pass a unit parameter for ``unit``: the enum member that means it, else its name."""
    enum = next((b.get("enum") for b in _branches(schema) if isinstance(b.get("enum"), list)), None)
    if enum is None:
        return unit
    return next((m for m in enum if isinstance(m, str) and canonical_unit(m) == unit), None)


# -- shared context for generic names -----------------------------------------------------------

_GENERIC = frozenset({"year", "name", "id", "code", "value", "type", "number", "count", "key", "label",
                      "title", "date", "time", "result", "amount", "total", "kind", "category", "status"})
_STOP = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "for", "to", "from", "by", "and", "or", "with", "its", "it", "is",
    "as", "one", "each", "all", "this", "that", "e", "g", "eg", "get", "list", "find", "look", "up", "lookup",
    "return", "returns", "given", "value", "name", "code", "number", "id", "year", "date", "time", "info",
    "data", "result", "results", "search", "show", "compute", "calculate", "iso", "en", "english",
})


def _topic(*texts: str) -> set[str]:
    words: set[str] = set()
    for text in texts:
        for w in name_words(text or ""):
            w = singular(w)
            if len(w) >= 3 and w not in _STOP and not w.isdigit():
                words.add(w)
    return words


def is_generic(key: str) -> bool:
    words = [singular(w) for w in name_words(key)]
    return len(words) == 1 and words[0] in _GENERIC


def shares_topic(source: Tool | None, key: str, pointer: str, context: Iterable[str],
                 target: Tool, param: str) -> bool:
    """Whether a value under a generic key means what ``target``'s ``param`` means: its source
    (tool, field description, the keys beside it) and the target (tool, parameter description)
    share a topic word."""
    if source is None:
        return True
    props: Mapping[str, Any] = target.input_schema.get("properties") or {}
    found = props.get(param)
    param_schema: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    target_words = _topic(target.name, target.description, str(param_schema.get("description") or ""))
    source_words = _topic(source.name, source.description, field_description(source, pointer),
                          pointer, *context)
    return bool(target_words & source_words)


# -- a call's arguments from one anchor ----------------------------------------------------------

def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0]


_ORDER_WORDS = frozenset({
    "first", "order", "ordered", "sorted", "ranked", "rank", "busiest", "largest", "biggest", "most", "top",
    "latest", "earliest", "newest", "oldest", "highest", "lowest", "descending", "ascending", "chronological",
    "best", "worst", "nearest", "closest", "recent",
})
_INDEX = re.compile(r"/(\d+)(?=/|$)")


def arbitrary_item(pv: PoolValue, source: Tool | None, observation: Observation | None = None) -> bool:
    """An item of a list its schema describes without an order ("Countries that use this
    currency."): "the third country" of such a list is no question anyone asks, nor "the first",
    unless it is the only one. A list described in order ("Destinations, busiest first.") or not
    described at all is fine."""
    match = next(reversed(list(_INDEX.finditer(pv.pointer))), None)  # the innermost list
    if match is None or source is None:
        return False
    described = field_description(source, pv.pointer[: match.start()])
    if not described or {singular(w) for w in name_words(described)} & _ORDER_WORDS:
        return False
    if match.group(1) == "0" and observation is not None:

        try:
            items = resolve_pointer(observation.output, pv.pointer[: match.start()])
        except KeyError:
            return True
        return not (isinstance(items, list) and len(items) == 1)
    return True


def means_it(pv: PoolValue, source: Tool | None, target: Tool, param: str) -> bool:
    """Whether pooled ``pv`` may feed ``target``'s ``param`` by meaning (see the module docstring):
    under a generic key, only with a topic its source and the target share. (Items of unordered
    lists are refused where the anchor's output is at hand: `arbitrary_item`.)"""
    if not is_generic(pv.key):
        return True
    return shares_topic(source, pv.key, pv.pointer, pv.context, target, param)


def companion(observation: Observation | None, param: str, validator: Draft202012Validator | None,
              parent: str | None = None, taken: Iterable[Any] = ()) -> _Option | None:
    """A value of the anchor's own output for ``param`` (echoes of its arguments included: the
    place a timezone was asked for travels with the timezone), from the object ``parent`` when
    given; None when the anchor has none the parameter's schema accepts."""
    if observation is None or observation.is_error or validator is None:
        return None
    used = list(taken)
    for leaf in iter_leaves(observation.output):
        if parent is not None and leaf.parent != parent:
            continue
        if not (names_match(param, leaf.key) or (leaf.qualified and names_match(param, leaf.qualified))):
            continue
        if any(leaf.value == u for u in used) or not validator.is_valid(leaf.value):
            continue
        if any(leaf.value == v for v in observation.arguments.values()):
            # The anchor's output repeats what its call was given: the user's own value, said once.
            return leaf.value, ECHO_SOURCE, None
        context = {k.key: k.value for k in iter_leaves(observation.output) if k.parent == leaf.parent and k.key}
        pv = PoolValue(leaf.value, leaf.key, observation.observation_id, leaf.pointer, leaf.kind, leaf.unit,
                       observation.toolset, observation.tool, context, leaf.qualified)
        return leaf.value, POOL_SOURCE, pv
    return None


def _unit_for(pv: PoolValue, source: Tool | None, unit_param: str) -> str | None:
    """The unit (or currency) ``pv`` was recorded in, for a unit parameter."""
    if "currency" in name_words(unit_param):
        return next((v for k, v in pv.context.items() if "currency" in name_words(k) and isinstance(v, str)
                     and len(v) == 3 and v.isalpha()), None)
    return unit_of(pv.value, pv.pointer, pv.unit, pv.context, source)


def complete_from_anchor(
    tool: Tool, required: Sequence[str], anchored: Mapping[str, _Option], options: Mapping[str, list[_Option]],
    anchor: Observation | None, sources: Callable[[PoolValue], Tool | None],
    validators: Mapping[str, Draft202012Validator | None],
) -> dict[str, _Option] | None:
    """The whole call, when the values ``anchor`` supplies (``anchored``) keep their meaning; else None.

    Coordinates of one group come from one object; a number fed to a unit-qualified parameter
    brings its recorded unit; required entity parameters of the anchor's groups come from the
    anchor; the rest (modifiers, other groups) from the user's side, never from another output.
    """
    props: Mapping[str, Any] = tool.input_schema.get("properties") or {}
    combo: dict[str, _Option] = dict(anchored)
    taken = [o[0] for o in combo.values()]
    # Coordinates: latitude and longitude of one group from one object.
    groups: dict[str, dict[str, str]] = {}
    for p in props:
        axis = coordinate_axis(p)
        if axis is not None:
            groups.setdefault(axis[0], {})[axis[1]] = p
    for axes in groups.values():
        filled = {axis: pv for axis, p in axes.items() if p in combo and (pv := combo[p][2]) is not None}
        if not filled or len(axes) < 2:
            continue
        parents = {_parent(pv.pointer) for pv in filled.values()}
        if len(parents) > 1:
            return None  # Paris's latitude with Tokyo's longitude
        if len(filled) == 1:
            (missing,) = set(axes) - set(filled)
            partner = companion(anchor, axes[missing], validators.get(axes[missing]), parents.pop(), taken)
            if partner is None:
                return None
            combo[axes[missing]] = partner
            taken.append(partner[0])
    # Units never change silently.
    pair = unit_pair(tool)
    if pair is not None and pair[0] in combo and (pv := combo[pair[0]][2]) is not None:
        unit = _unit_for(pv, sources(pv), pair[1])
        arg = unit_argument(props[pair[1]], unit) if unit else None
        validator = validators.get(pair[1])
        if arg is None or validator is None or not validator.is_valid(arg):
            return None
        combo[pair[1]] = (arg, UNIT_SOURCE, pv)
    # The anchor's entity comes with it; modifiers and other entities from the user's side.
    groups_anchored = {entity_group(p) for p, o in combo.items() if o[2] is not None}
    for param in required:
        if param in combo:
            continue
        given = props.get(param)
        schema: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        if not is_modifier(param, schema) and entity_group(param) in groups_anchored:
            found = companion(anchor, param, validators.get(param), taken=taken)
            if found is None:
                return None
            combo[param] = found
            taken.append(found[0])
            continue
        user_side = [o for o in options.get(param, []) if o[2] is None and not any(o[0] == t for t in taken)]
        if not user_side:
            return None  # nothing but the anchor's own value again: "from Asia/Tokyo to Asia/Tokyo"
        combo[param] = user_side[0]
        taken.append(user_side[0][0])
    return combo


# -- clocks -----------------------------------------------------------------------------------------

_CLOCK_WORDS = frozenset({"date", "time", "datetime", "day", "week", "weekday", "dst", "hour", "minute",
                          "second", "now", "today", "timestamp", "month", "year", "epoch", "utc", "offset"})


def clock_fields(output: Any, changed: frozenset[str]) -> frozenset[str]:
    """More volatile fields of an output whose clock moved: when a date-time field changed between
    two identical calls, every field that reads the same clock (day of week, daylight saving, the
    date) changes too, by the day if not by the second."""
    leaves = list(iter_leaves(output))
    moved = {_INDEX.sub("/*", leaf.pointer) for leaf in leaves if leaf.kind in ("datetime", "time")}
    if not moved & changed:
        return frozenset()
    return frozenset(_INDEX.sub("/*", leaf.pointer) for leaf in leaves
                     if {singular(w) for w in name_words(leaf.key)} & _CLOCK_WORDS)
