"""The value pool: addressable values of outputs and their views, and which parameter each fits.

Exploration feeds later calls with values earlier calls returned (see `generators._explore`).
This module decides what those values are and where they may go:

- `iter_leaves` walks an output or its view (generators.views) and yields each addressable
  scalar with its pointer, the key it sits under, what kind of value it is (number, date, uuid,
  ip, cidr, hash, url, path, ...), its unit when a view found one, and its siblings; view
  scaffolding (span offsets, a table's column list, a list's title) is not offered;
- `_Pool` keeps the values of successful outputs (never an error's, never an echo of the call's
  own arguments), each with its context (`PoolValue`: where it came from, its unit, the fields
  beside it), so values that belong together can travel together;
- `names_match` and `param_kinds` decide which parameter a value may feed: by name (``timezone``
  feeds ``source_timezone``; ``id`` in a list of items feeds ``item_id``) or by what it is (an
  IP address feeds ``ip``, a hash found in prose feeds ``sha``);
- `_ParamOptions` keeps, per (tool, parameter), the candidates: user-side values (seeds, schema,
  descriptions, catalogue: `generators._arguments`) and matching pool values, each validated
  against the parameter's schema once.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from schemas import ArgumentSource, Observation

from ._arguments import name_words, schema_values, singular

_MAX_POOL_STRING = 120
_POOL_PER_KEY = 40
_MAX_CONTEXT = 12

# --- leaves of outputs and views ---------------------------------------------------------------

#: What a value is, as far as matching cares: span kinds of views (generators.views) plus cidr.
_VIEW_KINDS = frozenset({
    "number", "boolean", "null", "string", "uuid", "date", "datetime", "time", "hash", "ip", "version",
    "url", "email", "path", "id", "slug", "code", "money", "quoted",
})
_UNIT_KEYS = ("unit", "units", "currency", "currency_code", "uom")


class Leaf(NamedTuple):
    """One addressable scalar of an output: its pointer, the key it sits under, its value, what
    kind of value it is ('' unknown), its unit when a view found one, the pointer of the object
    holding it (its siblings are context), and the key qualified by the list it is an item of
    (``id`` in ``/items/3/id`` is ``item_id``)."""

    pointer: str
    key: str
    value: Any
    kind: str = ""
    unit: str | None = None
    parent: str = ""
    qualified: str = ""


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@functools.lru_cache(maxsize=8192)
def value_kind(value: str) -> str:
    """What a short string is (uuid, date, ip, cidr, hash, url, ...; 'string' when nothing more)."""
    from .views._spans import token_kind

    if not value or len(value) > 256 or any(c.isspace() for c in value):
        return "string"
    kind = token_kind(value)[0]
    if kind == "ip" and "/" in value:
        return "cidr"
    return kind


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return value_kind(value)
    return ""


def _is_spans_view(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("spans"), list) and isinstance(value.get("text"), str)


def _is_scalar_view(value: Mapping[str, Any]) -> bool:
    return len(value) == 2 and "value" in value and value.get("kind") in _VIEW_KINDS


def _is_table_view(value: Mapping[str, Any]) -> bool:
    rows, columns = value.get("rows"), value.get("columns")
    return (isinstance(columns, list) and isinstance(rows, list) and bool(rows)
            and all(isinstance(r, dict) and set(r) <= set(columns) for r in rows))


def iter_leaves(value: Any, pointer: str = "", key: str = "", parent: str = "", owner: str = "") -> Iterator[Leaf]:
    """Every addressable scalar (string or number) of an output or its view.

    View scaffolding is read, not offered: a text view's spans give their values (under the
    span's kind as key, with its unit) and not their offsets or the whole text; a bare value's
    view ``{"value", "kind"}`` gives its value; a table's column list and the lines around it,
    a list's title line and the ``_text`` a field parser kept aside are skipped. List items keep the list's key; items of a top-level list
    (several text blocks) are under "value".
    """
    if isinstance(value, dict):
        if _is_spans_view(value):
            for i, span in enumerate(value["spans"]):
                if isinstance(span, dict) and "value" in span:
                    kind = str(span.get("kind") or "")
                    if kind == "ip" and "/" in str(span["value"]):
                        kind = "cidr"
                    yield from _scalar_leaf(f"{pointer}/spans/{i}/value", kind or key, span["value"], kind,
                                            span.get("unit"), pointer)
            return
        if _is_scalar_view(value):
            kind = str(value["kind"])
            yield from _scalar_leaf(f"{pointer}/value", key or "value", value["value"],
                                    "cidr" if kind == "ip" and "/" in str(value["value"]) else kind, None, pointer)
            return
        table = _is_table_view(value) or (isinstance(value.get("tables"), list) and "text" in value)
        listed = isinstance(value.get("items"), list) and set(value) <= {"items", "title"}
        unit = next((v for k in _UNIT_KEYS if isinstance(v := value.get(k), str) and 0 < len(v) <= 12), None)
        for k, v in value.items():
            name = str(k)
            # A table's column list and the lines around it (its heading), a list's title line, the
            # prose a field parser kept aside: scaffolding of the text, not values in it.
            if (table and name in ("columns", "text")) or (listed and name == "title") or name in ("_text", "__text"):
                continue
            sub = f"{pointer}/{_escape(name)}"
            if isinstance(v, (dict, list)):
                yield from iter_leaves(v, sub, name, pointer)
            else:
                qualified = f"{owner}_{name}" if owner else ""
                yield from _scalar_leaf(sub, name, v, _kind_of(v), unit if isinstance(v, (int, float)) else None,
                                        pointer, qualified)
    elif isinstance(value, list):
        item_owner = singular(name_words(key)[-1]) if key and name_words(key) else ""
        for i, v in enumerate(value):
            sub = f"{pointer}/{i}"
            item_key = key or ("value" if pointer == "" else "")
            if isinstance(v, dict):
                yield from iter_leaves(v, sub, item_key, parent, item_owner)
            elif isinstance(v, list):
                yield from iter_leaves(v, sub, item_key, parent)
            else:
                yield from _scalar_leaf(sub, item_key, v, _kind_of(v), None, pointer)
    elif pointer == "":
        yield from _scalar_leaf("", key, value, _kind_of(value), None, "")


def _scalar_leaf(pointer: str, key: str, value: Any, kind: str, unit: Any, parent: str,
                 qualified: str = "") -> Iterator[Leaf]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield Leaf(pointer, key, value, kind, unit if isinstance(unit, str) else None, parent, qualified)


def iter_scalars(value: Any, pointer: str = "", key: str = "") -> Iterable[tuple[str, str, Any]]:
    """(pointer, key, scalar) for every string or number leaf of an output or its view
    (see `iter_leaves`); list items keep the list's key."""
    for leaf in iter_leaves(value, pointer, key):
        yield leaf.pointer, leaf.key, leaf.value


def _tokens(name: str) -> set[str]:
    return set(name_words(name))


def names_match(param: str, key: str) -> bool:
    """Same name; or the key's words all appear in the parameter's (timezone -> source_timezone,
    Slug -> category_slug, "Band 1" -> band1); or the key is the next value of a one-word
    parameter (next_page -> page, next_cursor -> cursor). Words of at least four letters in all."""
    if not key:
        return False
    if param == key:
        return True
    kt, pt = _tokens(key), _tokens(param)
    if bool(kt) and kt <= pt and len("".join(kt)) >= 4:
        return True
    key_words, param_words = name_words(key), name_words(param)
    return (len(param_words) == 1 and len(param_words[0]) >= 4 and len(key_words) == 2
            and key_words[0] in _CONTINUATION and key_words[1] == param_words[0])


_CONTINUATION = frozenset({"next", "prev", "previous", "continuation", "more"})


# What a parameter takes, by its format or a word of its name (string parameters only).
_FORMAT_KINDS = {"date": "date", "date-time": "datetime", "time": "time", "email": "email", "idn-email": "email",
                 "uri": "url", "url": "url", "iri": "url", "ipv4": "ip", "ipv6": "ip", "uuid": "uuid"}
_WORD_KINDS = {
    "ip": "ip", "ipv4": "ip", "ipv6": "ip", "cidr": "cidr", "subnet": "cidr", "network": "cidr", "block": "cidr",
    "date": "date", "datetime": "datetime", "timestamp": "datetime", "uuid": "uuid", "guid": "uuid",
    "hash": "hash", "sha": "hash", "sha1": "hash", "sha256": "hash", "md5": "hash", "digest": "hash",
    "checksum": "hash", "commit": "hash", "url": "url", "uri": "url", "link": "url", "href": "url",
    "website": "url", "email": "email", "version": "version", "semver": "version", "slug": "slug",
}


def param_kinds(name: str, schema: Mapping[str, Any]) -> frozenset[str]:
    """The kinds of value a string parameter takes by its format and name (``ip``, ``cidr``...)."""
    kinds: set[str] = set()
    branches = [schema, *(b for b in (schema.get("anyOf") or schema.get("oneOf") or []) if isinstance(b, Mapping))]
    for b in branches:
        t = b.get("type")
        if t not in (None, "string") and not (isinstance(t, list) and "string" in t):
            continue
        fmt = b.get("format")
        if isinstance(fmt, str) and fmt in _FORMAT_KINDS:
            kinds.add(_FORMAT_KINDS[fmt])
        for word in name_words(name):
            if word in _WORD_KINDS:
                kinds.add(_WORD_KINDS[word])
            if word == "id":
                kinds |= {"uuid", "id"}
    return frozenset(kinds)


@dataclass(frozen=True, eq=False)
class PoolValue:
    """A value seen in an output, with where it was and what travels with it.

    ``pointer`` is into the observation's output (its view for text). ``kind`` is what the
    value is (number, date, uuid, ip, cidr, hash, ...), ``unit`` the unit a view found beside
    it, ``toolset``/``tool`` where it came from, ``context`` the scalar fields recorded beside
    it in the same object (so values that belong together can travel together).
    """

    value: Any
    key: str
    observation_id: str
    pointer: str
    kind: str = ""
    unit: str | None = None
    toolset: str = ""
    tool: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    qualified: str = ""  # the key qualified by its list: item_id for /items/3/id


_Option = tuple[Any, ArgumentSource, "PoolValue | None"]


_INDEX = re.compile(r"/\d+(?=/|$)")


def _changed_fields(a: Any, b: Any) -> frozenset[str]:
    """Fields (list indices as ``*``) whose values differ between two outputs of one call."""
    left = {leaf.pointer: leaf.value for leaf in iter_leaves(a)}
    right = {leaf.pointer: leaf.value for leaf in iter_leaves(b)}
    if not left and not right:
        return frozenset() if a == b else frozenset(["/"])
    return frozenset(_INDEX.sub("/*", p) or "/" for p in left.keys() | right.keys() if left.get(p) != right.get(p))


def _argument_scalars(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _argument_scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _argument_scalars(v)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield value


def _echo_key(value: Any) -> tuple[str, Any]:
    """Numbers compare as numbers (1000 echoes 1000.0), text as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", float(value))
    return ("text", value)


class _Pool:
    def __init__(self) -> None:
        self._by_key: dict[str, list[PoolValue]] = defaultdict(list)

    def add(self, observation: Observation) -> None:
        if observation.is_error:
            return
        # An output that echoes the call's own input is no new information: a
        # "chain" through it would only pass the user's value along.
        echoed = {_echo_key(v) for v in _argument_scalars(observation.arguments)}
        leaves = list(iter_leaves(observation.output))
        by_parent: dict[str, dict[str, Any]] = defaultdict(dict)
        for leaf in leaves:
            siblings = by_parent[leaf.parent]
            if len(siblings) < _MAX_CONTEXT and leaf.key and leaf.key not in siblings:
                siblings[leaf.key] = leaf.value
        for leaf in leaves:
            value, key = leaf.value, leaf.key
            if isinstance(value, str) and (not value.strip() or len(value) > _MAX_POOL_STRING):
                continue
            if _echo_key(value) in echoed:
                continue
            bucket = self._by_key[key]
            if any(p.value == value and p.qualified == leaf.qualified for p in bucket) or len(bucket) >= _POOL_PER_KEY:
                continue
            context = {k: v for k, v in by_parent[leaf.parent].items() if k != key}
            bucket.append(PoolValue(value, key, observation.observation_id, leaf.pointer, leaf.kind, leaf.unit,
                                    observation.toolset, observation.tool, context, leaf.qualified))

    def keys(self) -> list[str]:
        return list(self._by_key)

    def bucket(self, key: str) -> list[PoolValue]:
        return self._by_key[key]


_SEARCH_WORDS = frozenset({"query", "q", "search", "term", "terms", "keyword", "keywords"})
_NAMING_KEYS = frozenset({"name", "title", "label", "keyword", "tag", "word"})
_POOL_SOURCE = ArgumentSource(origin="step", how="pool")
_USER_SOURCES: dict[str, ArgumentSource] = {}


def _user_source(how: str) -> ArgumentSource:
    if how not in _USER_SOURCES:
        _USER_SOURCES[how] = ArgumentSource(origin="user", how=how)
    return _USER_SOURCES[how]


def _is_valid(validator: Draft202012Validator | None, value: Any) -> bool:
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(value))
    except Exception:  # a schema jsonschema cannot evaluate (a bad regex): the value is not usable
        return False


class _ParamOptions:
    """Candidate values for one (tool, parameter), kept up to date incrementally.

    Seeded and schema values are validated once; each pool value is validated
    once when it first appears, so choosing arguments costs O(new values), not
    O(pool) per call (bench/explore.py measures the per-call overhead).
    """

    def __init__(self, param: str, schema: Mapping[str, Any], seeds: Sequence[Any], tool_description: str = "",
                 sole: bool = False) -> None:
        self.param = param
        try:
            self.validator: Draft202012Validator | None = Draft202012Validator(dict(schema))
        except (SchemaError, TypeError):
            self.validator = None
        self.kinds = param_kinds(param, schema)
        # A search parameter takes names and titles other outputs show ("mug" from an item's name).
        self.searches = bool(_SEARCH_WORDS & set(name_words(param)))
        self.static: list[_Option] = [(v, _user_source("seed"), None) for v in seeds if _is_valid(self.validator, v)]
        known = {repr(v) for v, _, _ in self.static}
        for v, how in schema_values(param, schema, tool_description, sole=sole) if self.validator is not None else []:
            if repr(v) not in known:
                known.add(repr(v))
                self.static.append((v, _user_source(how), None))
        self.version = 0  # bumped when static options change
        self.pooled: list[_Option] = []
        self._examined: dict[str, int] = {}
        self._matching: dict[str, bool] = {}

    def add_static(self, values: Sequence[Any], how: str) -> None:
        """Values from outside the schema and the pool (a model's proposals, a sibling's)."""
        known = {repr(v) for v, _, _ in self.static}
        new = [(v, _user_source(how), None) for v in values if _is_valid(self.validator, v) and repr(v) not in known]
        if new:
            self.static += new
            self.version += 1

    def _names(self, name: str) -> bool:
        if name not in self._matching:
            self._matching[name] = names_match(self.param, name)
        return self._matching[name]

    def refresh(self, pool: _Pool) -> list[_Option]:
        for key in pool.keys():
            bucket = pool.bucket(key)
            start = self._examined.get(key, 0)
            for pv in bucket[start:]:
                fits = (self._names(key) or (bool(pv.qualified) and self._names(pv.qualified))
                        or (bool(self.kinds) and pv.kind in self.kinds)
                        or (self.searches and isinstance(pv.value, str) and bool(_NAMING_KEYS & set(name_words(key)))))
                if fits and _is_valid(self.validator, pv.value):
                    self.pooled.append((pv.value, _POOL_SOURCE, pv))
            self._examined[key] = len(bucket)
        return self.pooled + self.static
