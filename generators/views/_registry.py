"""The parser registry: every parser by (name, version), and parser ids.

A parser id names what made a view, so that the same raw output always re-derives to the same
view (issue 17: a parser upgrade never silently changes an old dataset version):

    json/1                      the raw value was JSON (structured content or JSON text)
    json/1>csv/1                ... and a string inside it was CSV
    json/1>json/1>csv/1         ... a string inside it was JSON, with CSV inside that
    blocks/1>json/1+scalar/1    several text blocks, each JSON or a bare scalar
    text-spans/1                plain text with its spans

Grammar: ``STEP ('>' STEP ('+' STEP)*)?`` with ``STEP = NAME '/' VERSION``. The first step made the
view of the whole output; the steps after ``>`` are the parsers that were used for nested strings
(or for each block), in rank order. Re-deriving with an id runs the first step at its recorded
version and allows only the recorded nested steps: since parsers are tried in a fixed rank order
and are deterministic, the first parser that accepted each string is again the first one allowed
that accepts it, so the view is the same.

To change a parser, add a new version next to the old one (``Parser("csv", 2, ...)``) and keep the
old one registered: old ids still re-derive with the code that made them. A new version usually
keeps the old rank.

    BackchainError
    └── ViewError               a view cannot be re-derived
        ├── UnknownParser       a parser id names no registered parser (or is malformed)
        └── ParserDeclined      the recorded parser does not accept this raw output
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas import BackchainError

from ._fields import parse_kv, parse_kv_nested, parse_md_fields
from ._lists import parse_list, parse_unified_diff
from ._spans import parse_text_spans
from ._structured import parse_json, parse_json_lines, parse_python_literal, parse_scalar
from ._tables import parse_ascii_table, parse_csv, parse_markdown_table


class ViewError(BackchainError):
    """A view cannot be re-derived from a raw output."""


class UnknownParser(ViewError):
    """A parser id names a parser or version this backchain does not have, or is malformed."""


class ParserDeclined(ViewError):
    """The recorded parser does not accept this raw output (its shape changed)."""


@dataclass(frozen=True)
class Parser:
    """One version of one text parser: ``parse(text)`` returns the view or None (declines)."""

    name: str
    version: int
    rank: int  # parsers are tried in rank order, cheap and strict ones first
    parse: Callable[[str], Any]
    #: Tried on a whole text output (or one text block).
    top: bool = True
    #: Tried on strings nested inside structured values; must then return an object or a list.
    nested: bool = True
    #: Its result's strings are themselves expanded (JSON inside JSON).
    expands: bool = False
    #: A stricter variant for nested strings, where a false positive would replace a plain string.
    parse_nested: Callable[[str], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"


# Steps made by the deriving code itself rather than a text parser.
EMPTY = "empty"  # no output at all: the view is null
BLOCKS = "blocks"  # several text blocks: a list, one view per block
JSON = "json"  # also the step for a raw value that is already JSON
BUILTIN_VERSIONS = {EMPTY: 1, BLOCKS: 1}

PARSERS: tuple[Parser, ...] = (
    Parser("scalar", 1, 10, parse_scalar, nested=False),
    Parser(JSON, 1, 20, parse_json, expands=True),
    Parser("json-lines", 1, 25, parse_json_lines, expands=True),
    Parser("pyliteral", 1, 30, parse_python_literal, expands=True),
    Parser("diff", 1, 40, parse_unified_diff),
    Parser("markdown-table", 1, 50, parse_markdown_table),
    Parser("ascii-table", 1, 60, parse_ascii_table),
    Parser("csv", 1, 70, parse_csv),
    Parser("kv", 1, 80, parse_kv, parse_nested=parse_kv_nested),
    Parser("md-fields", 1, 85, parse_md_fields),
    Parser("list", 1, 90, parse_list),
    Parser("text-spans", 1, 1000, parse_text_spans, nested=False),
)

REGISTRY: dict[tuple[str, int], Parser] = {(p.name, p.version): p for p in PARSERS}
if len(REGISTRY) != len(PARSERS):  # pragma: no cover - a programming error in the table above
    raise RuntimeError("two parsers share a name and version")

#: The current version of each parser (the highest registered).
PARSER_VERSIONS: dict[str, int] = dict(BUILTIN_VERSIONS)
for _p in PARSERS:
    PARSER_VERSIONS[_p.name] = max(_p.version, PARSER_VERSIONS.get(_p.name, 0))

#: What derive_view uses: the current version of every parser, in rank order.
CURRENT: tuple[Parser, ...] = tuple(sorted((p for p in PARSERS if p.version == PARSER_VERSIONS[p.name]), key=lambda p: p.rank))

_STEP = re.compile(r"([a-z][a-z0-9-]*)/([1-9][0-9]{0,5})\Z")


def format_id(top: str, nested: set[Parser]) -> str:
    """The id of a view made by step ``top`` with ``nested`` parsers used inside it."""
    if not nested:
        return top
    return top + ">" + "+".join(p.id for p in sorted(nested, key=lambda p: (p.rank, p.name, p.version)))


def _known(name: str) -> str:
    versions = sorted({p.version for p in PARSERS if p.name == name} | ({BUILTIN_VERSIONS[name]} if name in BUILTIN_VERSIONS else set()))
    if not versions:
        return "no parser of that name"
    return "known versions: " + ", ".join(f"{name}/{v}" for v in versions)


def parse_id(parser_id: str) -> tuple[str, int, tuple[Parser, ...]]:
    """(top name, top version, allowed nested parsers in rank order) for a parser id.

    Raises UnknownParser, with a one-line message, for a malformed id or an unregistered step.
    """
    if not isinstance(parser_id, str) or not parser_id:
        raise UnknownParser(f"malformed parser id {parser_id!r}: expected NAME/VERSION steps such as 'json/1>csv/1'")
    head, sep, tail = parser_id.partition(">")
    steps = [head, *(tail.split("+") if sep else [])]
    parsed: list[tuple[str, int]] = []
    for step in steps:
        m = _STEP.match(step)
        if m is None:
            raise UnknownParser(f"malformed parser id {parser_id!r}: step {step!r} is not NAME/VERSION (e.g. 'csv/1')")
        parsed.append((m.group(1), int(m.group(2))))
    (top_name, top_version), nested_steps = parsed[0], parsed[1:]
    if BUILTIN_VERSIONS.get(top_name) != top_version and (top_name, top_version) not in REGISTRY:
        raise UnknownParser(
            f"unknown output parser {top_name}/{top_version} in {parser_id!r} ({_known(top_name)}); "
            "a newer backchain made this view: upgrade backchain to re-derive it"
        )
    nested: list[Parser] = []
    for name, version in nested_steps:
        parser = REGISTRY.get((name, version))
        if parser is None:
            raise UnknownParser(
                f"unknown output parser {name}/{version} in {parser_id!r} ({_known(name)}); "
                "a newer backchain made this view: upgrade backchain to re-derive it"
            )
        nested.append(parser)
    return top_name, top_version, tuple(sorted(nested, key=lambda p: p.rank))
