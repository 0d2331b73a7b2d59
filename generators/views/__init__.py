"""Output views (issue 17): a structured, pointer-addressable view of any recorded tool output.

Most real tools answer in text: JSON, JSON inside a string, a Python repr, ``key: value`` lines,
a markdown, ASCII or box table, CSV, a list, a unified diff, markdown with bold labels, a bare
value, or prose. ``derive_view(raw)`` turns a recorded raw output into a JSON-compatible ``View``
that answer pointers, the value pool and chains can address (``/rows/2/city``, ``/数值``,
``/value``, ``/spans/0/value``), and names the parser that made it by name and version
(``View.parser``, e.g. ``json/1>markdown-table/1``). ``rederive_view(raw, parser_id)`` re-derives
with exactly that parser id, so an upgraded parser never silently changes an old dataset version.

The modules are pure: no I/O, no model, no database. See each module's docstring for the view
shape of its formats, ``_registry`` for parser ids and versioning, ``_failure`` for the
``looks_like_error`` rules.
"""

from ._derive import View, derive_view, rederive_view
from ._registry import PARSER_VERSIONS, ParserDeclined, UnknownParser, ViewError
from ._spans import warm_up

__all__ = [
    "PARSER_VERSIONS",
    "ParserDeclined",
    "UnknownParser",
    "View",
    "ViewError",
    "derive_view",
    "rederive_view",
    "warm_up",
]
