"""Deriving a view from a raw output, and re-deriving it with a recorded parser id.

``derive_view(raw)`` accepts what a tool returned:

- a JSON value (structured content, or text already parsed as JSON): a dict or list is the view,
  with its strings expanded (below); a bare number, boolean or null becomes
  ``{"value": V, "kind": K}``;
- a string (one text output): the first text parser, in rank order, that accepts it makes the view
  (scalar, JSON, JSON lines, Python literal, unified diff, markdown table, ASCII/box table,
  CSV/TSV, key-value lines, markdown fields, list), else plain text with spans;
- a list of strings (several MCP text blocks): one block is a string; two or more make a list
  with one view per block (a bare scalar block is its bare value: ``['60.0', 'Thursday']`` ->
  ``[60.0, "Thursday"]``). A list whose items are all strings is read as text blocks, never as a
  JSON array of strings;
- None, an empty string, an empty list: no output, view null (``empty/1``).

Strings inside a JSON view (and inside JSON or Python-literal text) are expanded when a nested
parser accepts them as an object or list: ``{"result": "| a | b |\\n|---|---|\\n| 1 | 2 |"}``
becomes ``{"result": {"columns": ["a", "b"], "rows": [{"a": 1, "b": 2}]}}``. Only strings that
start with ``{``/``[``/``(`` or span several lines are tried; ordinary strings (``"Paris"``,
``"2024-02-29"``) stay strings, so a pointer to them keeps its meaning. Expansion goes at most
4 strings deep and 64 containers deep.

Nothing here raises on any input: a parser that fails unexpectedly counts as declining, and the
failure is kept in ``View.notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._failure import looks_like_error
from ._registry import (
    BLOCKS,
    CURRENT,
    EMPTY,
    JSON,
    PARSER_VERSIONS,
    REGISTRY,
    Parser,
    ParserDeclined,
    format_id,
    parse_id,
)
from ._scalars import Declined, is_number, to_json
from ._spans import MAX_SCAN, MAX_SPANS, parse_text_spans, token_kind

_MAX_STRING_DEPTH = 4
_MAX_CONTAINER_DEPTH = 64
_MAX_NESTED_TEXT = 1 << 20
_UNSTRUCTURED = frozenset({"scalar", "text-spans"})


@dataclass(frozen=True)
class View:
    """A structured view of one raw output, and the parser id that made it.

    ``value`` is JSON-compatible: answer pointers (RFC 6901) point into it. ``parser`` is what to
    store beside it and hand to ``rederive_view``. ``looks_like_error`` is a short reason when the
    output reads like a failure the server did not flag, else None. ``notes`` say what was cut or
    skipped (spans past the scan limit, a parser that failed unexpectedly); they are not part of
    the view.
    """

    value: Any
    parser: str
    looks_like_error: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class _Run:
    """One derivation: the parsers allowed for nested strings and blocks, and those used."""

    allowed: tuple[Parser, ...]
    used: set[Parser] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def call(self, parser: Parser, text: str, nested: bool = False) -> Any:
        parse = parser.parse_nested if nested and parser.parse_nested is not None else parser.parse
        try:
            return parse(text)
        except Exception as exc:  # a parser bug must not lose the output: decline, and say so
            self.notes.append(f"{parser.id} failed and was skipped: {type(exc).__name__}: {str(exc)[:120]}")
            return None

    def expand(self, value: Any, depth: int, level: int = 0) -> Any:
        """``value`` with its expandable strings replaced by their views (the same object when
        nothing changed)."""
        if isinstance(value, str):
            return self._expand_string(value, depth)
        if level >= _MAX_CONTAINER_DEPTH:
            return value
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            changed = False
            for key, item in value.items():
                new = self.expand(item, depth, level + 1)
                changed = changed or new is not item
                out[key] = new
            return out if changed else value
        if isinstance(value, list):
            items = [self.expand(item, depth, level + 1) for item in value]
            return items if any(new is not old for new, old in zip(items, value)) else value
        return value

    def _expand_string(self, text: str, depth: int) -> Any:
        if depth > _MAX_STRING_DEPTH or len(text) < 4 or len(text) > _MAX_NESTED_TEXT:
            return text
        s = text.lstrip()
        if not s or (s[0] not in "{[(" and "\n" not in s.rstrip()):
            return text
        for parser in self.allowed:
            if not parser.nested:
                continue
            value = self.call(parser, text, nested=True)
            if isinstance(value, dict | list):
                self.used.add(parser)
                return self.expand(value, depth + 1) if parser.expands else value
        return text

    def text_view(self, text: str, parsers: tuple[Parser, ...]) -> tuple[Any, Parser] | None:
        """The view of one text by the first of ``parsers`` (top-level ones) that accepts it."""
        for parser in parsers:
            if not parser.top:
                continue
            value = self.call(parser, text)
            if value is None:
                continue
            if parser.expands:
                value = self.expand(value, depth=1)
            if not isinstance(value, dict | list) and parser.name != "scalar":
                value = wrap_scalar(value)  # a JSON string or Python str literal at the top
            return value, parser
        return None


def wrap_scalar(value: Any) -> dict[str, Any]:
    """A bare value as a view: ``{"value": V, "kind": K}`` (pointer ``/value``)."""
    if isinstance(value, bool):
        kind = "boolean"
    elif value is None:
        kind = "null"
    elif is_number(value):
        kind = "number"
    elif isinstance(value, str) and value and len(value) <= 256 and not any(c.isspace() for c in value):
        kind = token_kind(value)[0]
        kind = "string" if kind in ("number", "money") else kind
    else:
        kind = "string"
    return {"value": value, "kind": kind}


def _as_json(raw: Any) -> tuple[bool, Any]:
    """(True, value) when ``raw`` is a JSON value rather than text (tuples and sets converted)."""
    if raw is None or isinstance(raw, dict | bool | int | float):
        return True, raw
    if isinstance(raw, list):
        return (not raw or not all(isinstance(item, str) for item in raw)), raw
    if isinstance(raw, tuple | set | frozenset):
        try:
            return True, to_json(raw)
        except Declined:
            return False, raw
    return False, raw


def _texts(raw: Any) -> list[str]:
    """The text blocks of a raw output that is not a JSON value."""
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, str)]
    if isinstance(raw, bytes | bytearray):
        return [bytes(raw).decode("utf-8", errors="replace")]
    return [raw if isinstance(raw, str) else str(raw)]


def _span_notes(text: str, value: Any) -> list[str]:
    notes = []
    if len(text) > MAX_SCAN:
        notes.append(f"spans cover the first {MAX_SCAN} of {len(text)} characters")
    if isinstance(value, dict) and len(value.get("spans", ())) >= MAX_SPANS:
        notes.append(f"spans stop at {MAX_SPANS}")
    return notes


def _finish(raw_text: str | None, value: Any, top: str, run: _Run, unstructured: bool) -> View:
    notes = list(run.notes)
    if raw_text is not None and top.startswith("text-spans/"):
        notes.extend(_span_notes(raw_text, value))
    reason = looks_like_error(raw_text, value, unstructured=unstructured)
    return View(value=value, parser=format_id(top, run.used), looks_like_error=reason, notes=tuple(notes))


def _blocks_view(blocks: list[str], run: _Run, parsers: tuple[Parser, ...]) -> list[Any]:
    items: list[Any] = []
    for block in blocks:
        if not block.strip():
            items.append(None)
            continue
        found = run.text_view(block, parsers)
        if found is None:
            raise ParserDeclined(f"no recorded parser accepts text block {len(items)} ({block[:40]!r})")
        value, parser = found
        run.used.add(parser)
        items.append(value["value"] if parser.name == "scalar" else value)
    return items


def _derive(raw: Any, top: str | None, run: _Run) -> View:
    """The shared path of derive_view (top None: choose) and rederive_view (top: that step)."""
    is_json, value = _as_json(raw)
    texts = [] if is_json else _texts(value)
    nonblank = [t for t in texts if t.strip()]
    empty = (is_json and value in (None, [])) or (not is_json and not nonblank)
    empty_id = f"{EMPTY}/{PARSER_VERSIONS[EMPTY]}"
    if top is None:
        if empty:
            return View(value=None, parser=empty_id)
    elif top == empty_id:
        if not empty:
            raise ParserDeclined(f"the recorded view was of an empty output ({top}), this output is not empty")
        return View(value=None, parser=empty_id)
    elif empty:
        raise ParserDeclined(f"the recorded parser {top} has nothing to parse: this output is empty")

    json_id = f"{JSON}/1"
    if is_json and top in (None, json_id):
        view = run.expand(value, depth=1)
        if not isinstance(view, dict | list):
            view = wrap_scalar(view)
        return _finish(None, view, json_id, run, unstructured=False)
    if is_json:
        raise ParserDeclined(f"the recorded parser {top} reads text, and this output is a JSON value")

    blocks_id = f"{BLOCKS}/{PARSER_VERSIONS[BLOCKS]}"
    joined = "\n".join(texts)
    if len(texts) >= 2 and top in (None, blocks_id):
        items = _blocks_view(texts, run, run.allowed)
        return _finish(joined, items, blocks_id, run, unstructured=False)
    if top == blocks_id:
        raise ParserDeclined(f"the recorded parser {top} reads several text blocks, this output has {len(texts)}")

    text = texts[0] if len(texts) == 1 else joined
    if top is None:
        found = run.text_view(text, CURRENT)
    else:
        name, _, version = top.partition("/")
        found = run.text_view(text, (REGISTRY[(name, int(version))],))
    if found is None:
        raise ParserDeclined(f"the recorded parser {top} does not accept this output ({text[:40]!r})")
    view, parser = found
    unstructured = parser.name in _UNSTRUCTURED or (isinstance(view, dict) and set(view) == {"value", "kind"})
    return _finish(text, view, parser.id, run, unstructured=unstructured)


def derive_view(raw: Any) -> View:
    """The view of a raw output with the current parsers (see the module docstring). Never raises."""
    run = _Run(allowed=CURRENT)
    try:
        return _derive(raw, None, run)
    except Exception as exc:  # a bug here must not lose the output: keep it as plain text
        text = raw if isinstance(raw, str) else repr(raw)
        note = f"deriving failed and the output was kept as plain text: {type(exc).__name__}: {str(exc)[:120]}"
        try:
            value = parse_text_spans(text)
        except Exception:
            value = {"text": text, "spans": []}
        return View(value=value, parser="text-spans/1", notes=(*run.notes, note))


def rederive_view(raw: Any, parser: str) -> View:
    """The view of ``raw`` made with exactly the parser id ``parser`` (versions included).

    Raises UnknownParser for an id this backchain does not know, ParserDeclined when the recorded
    parser does not accept this raw output (for replay: the fresh output changed shape).
    """
    top_name, top_version, nested = parse_id(parser)
    run = _Run(allowed=nested)
    return _derive(raw, f"{top_name}/{top_version}", run)
