"""Table parsers: markdown (GFM) tables, ASCII and box-drawing grids, CSV/TSV.

Every table becomes the same shape, so a pointer reads the same whatever drew the table:

    {"columns": ["Emoji", "Name", "Category"],
     "rows": [{"Emoji": "🥰", "Name": "smiling face with hearts", "Category": "smileys-and-emotion"}, ...]}

``/rows/1/Name`` is the second row's Name. Cells are typed (``_scalars.coerce_scalar``: numbers,
booleans, null for an empty cell); header names are made unique (``column_3`` for an empty one,
``Name_2`` for a repeat). Lines around a markdown or ASCII table (a heading, a "... and 165 more"
footer) are kept, verbatim, in ``"text"``. Several markdown tables in one output become
``{"tables": [{"columns", "rows"}, ...], "text": ...}``.

Each parser needs structure before it accepts: a header row and at least one data row, two or more
columns, and (for grids) a rule line under the header; CSV also needs the same number of fields on
every line and a header of distinct, non-numeric, short names.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from typing import Any

from ._scalars import coerce_scalar, unique_names

_MAX_TABLE_TEXT = 1 << 20
# A GFM delimiter row: cells of dashes with optional alignment colons, separated by pipes.
_MD_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$|^[ \t]*\|[ \t]*:?-+:?[ \t]*\|[ \t]*$")


@functools.cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt  # a rich dependency, already installed; imported on first table

    return MarkdownIt("zero").enable(["table", "backticks", "emphasis", "link", "escape", "entity"])


def _inline_text(token: Any) -> str:
    """A cell's text with inline markup (bold, code, links) reduced to what a reader sees."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def _table(header: list[str], body: list[list[str]]) -> dict[str, Any]:
    columns = unique_names(header)
    rows = [{c: coerce_scalar(cell) for c, cell in zip(columns, cells)} for cells in body]
    return {"columns": columns, "rows": rows}


def _markdown_tables(block: str) -> list[dict[str, Any]]:
    tables: list[dict[str, Any]] = []
    header: list[str] = []
    body: list[list[str]] = []
    row: list[str] = []
    in_head = False
    for token in _markdown().parse(block):
        kind = token.type
        if kind == "thead_open":
            in_head, header, body = True, [], []
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind == "inline":
            row.append(_inline_text(token))
        elif kind == "tr_close":
            if in_head:
                header = row
            else:
                body.append(row)
        elif kind == "table_close" and len(header) >= 2 and body:
            tables.append(_table(header, body))
    return tables


def parse_markdown_table(text: str) -> Any:
    """GFM pipe tables, read by markdown-it-py; the lines around them go to "text"."""
    if "|" not in text or "-" not in text or len(text) > _MAX_TABLE_TEXT:
        return None
    lines = text.splitlines()
    regions: list[tuple[int, int]] = []
    i = 1
    while i < len(lines):
        if "|" in lines[i - 1] and _MD_DELIMITER.match(lines[i]):
            end = i + 1
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            regions.append((i - 1, end))
            i = end + 1
        else:
            i += 1
    if not regions:
        return None
    tables: list[dict[str, Any]] = []
    used: set[int] = set()
    for start, end in regions:
        found = _markdown_tables("\n".join(lines[start:end]))
        if found:
            tables.extend(found)
            used.update(range(start, end))
    if not tables:
        return None
    rest = "\n".join(line for n, line in enumerate(lines) if n not in used).strip()
    view: dict[str, Any] = dict(tables[0]) if len(tables) == 1 else {"tables": tables}
    if rest:
        view["text"] = rest
    return view


# Box-drawing characters, mapped onto the ASCII grid alphabet.
_BOX = str.maketrans(
    {**dict.fromkeys("─━═╌╍┄┅┈┉", "-"), **dict.fromkeys("│┃║╎╏┆┇┊┋", "|"),
     **dict.fromkeys("┌┐└┘├┤┬┴┼╭╮╯╰╔╗╚╝╠╣╦╩╬╒╓╕╖╘╙╛╜╞╟╡╢╤╥╧╨╪╫┍┎┑┒┕┖┙┚┝┞┟┠┡┢┥┦┧┨┩┪┭┮┯┰┱┲┵┶┷┸┹┺┽┾┿╀╁╂╃╄╅╆╇╈╉╊┏┓┗┛┣┫┳┻╋", "+")}
)
_RULE = re.compile(r"^[ \t]*[-=+|: \t]*[-=]{3,}[-=+|: \t]*$")
_DASH_GROUPS = re.compile(r"[-=]{2,}")


def _split_pipes(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [cell.strip() for cell in s.split("|")]


def _grid(lines: list[str]) -> dict[str, Any] | None:
    """A pipe grid: data lines with |, rule lines of -, =, +; a rule under the header."""
    kinds = ["rule" if _RULE.match(line) else "data" if "|" in line else "" for line in lines]
    if "" in kinds or "data" not in kinds:
        return None
    first_data = kinds.index("data")
    try:
        header_rule = kinds.index("rule", first_data)
    except ValueError:
        return None
    header_lines = [_split_pipes(line) for line, k in zip(lines[first_data:header_rule], kinds[first_data:header_rule])]
    body = [_split_pipes(line) for line, k in zip(lines[header_rule:], kinds[header_rule:]) if k == "data"]
    width = len(header_lines[0])
    if width < 2 or not body or any(len(r) != width for r in header_lines + body):
        return None
    header = [" ".join(h[c] for h in header_lines if h[c]).strip() for c in range(width)]
    return _table(header, body)


def _aligned(lines: list[str]) -> dict[str, Any] | None:
    """A whitespace-aligned table (tabulate's "simple", psql without pipes): a header line, a rule
    of dash groups, rows; columns are the rule's dash groups."""
    if len(lines) < 3 or not _RULE.match(lines[1]) or "|" in lines[1] or "+" in lines[1]:
        return None
    spans = [(m.start(), m.end()) for m in _DASH_GROUPS.finditer(lines[1])]
    if len(spans) < 2:
        return None
    bounds = [(start, spans[n + 1][0] if n + 1 < len(spans) else None) for n, (start, _) in enumerate(spans)]

    def cut(line: str) -> list[str]:
        # A cell must not straddle a column gap: the character before each column start is blank.
        if any(0 < start <= len(line) and not line[start - 1].isspace() for start, _ in bounds[1:]):
            raise ValueError(line)
        return [line[start:end].strip() for start, end in bounds]

    try:
        header = cut(lines[0])
        body = [cut(line) for line in lines[2:] if line.strip() and not _RULE.match(line)]
    except ValueError:
        return None
    if not body or any(not h for h in header):
        return None
    return _table(header, body)


def parse_ascii_table(text: str) -> Any:
    """ASCII grids (``+---+`` borders, ``|`` columns), box-drawing tables, and whitespace-aligned
    tables with a dashed rule; lines before and after the table go to "text"."""
    if len(text) > _MAX_TABLE_TEXT or "\n" not in text.strip():
        return None
    normal = text.translate(_BOX)
    if not re.search(r"[-=]{3,}", normal):
        return None
    lines = normal.splitlines()
    original = text.splitlines()
    # The table is the longest run of non-blank lines that holds a rule line.
    blocks: list[tuple[int, int]] = []
    start = None
    for n, line in enumerate([*lines, ""]):
        if line.strip() and start is None:
            start = n
        elif not line.strip() and start is not None:
            blocks.append((start, n))
            start = None
    for begin, end in sorted(blocks, key=lambda b: b[0] - b[1]):  # the longest block first
        block = lines[begin:end]
        rules = [n for n, line in enumerate(block) if _RULE.match(line)]
        if not rules:
            continue
        piped = [n for n, line in enumerate(block) if "|" in line or n in rules]
        lo, hi = piped[0], piped[-1] + 1
        table = _grid(block[lo:hi])
        if table is None and rules[0] >= 1:
            lo, hi = rules[0] - 1, len(block)
            table = _aligned(block[lo:hi])
        if table is not None:
            rest = "\n".join(original[: begin + lo] + original[begin + hi :]).strip()
            if rest:
                table["text"] = rest
            return table
    return None


_CSV_DELIMITERS = ",\t;|"


def parse_csv(text: str) -> Any:
    """CSV or TSV with a header row (delimiter found by csv.Sniffer); rows keyed by the header."""
    s = text.strip()
    if len(s) > _MAX_TABLE_TEXT or "\n" not in s:
        return None
    first = s[: s.find("\n")]
    if not any(d in first for d in _CSV_DELIMITERS):
        return None
    sample = "\n".join(s.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS)
        records = [r for r in csv.reader(io.StringIO(s), dialect) if any(cell.strip() for cell in r)]
    except csv.Error:
        return None
    if len(records) < 2:
        return None
    width = len(records[0])
    if width < 2 or any(len(r) != width for r in records):
        return None
    header = [h.strip() for h in records[0]]
    if len(set(header)) != width or not all(_header_name(h) for h in header):
        return None
    # Two lines of prose with a comma each ("Hello, world" / "foo, bar") split evenly too. Programs
    # write CSV without a space after the comma: with one, or with a single data row, ask for more.
    prose_like = dialect.delimiter == "," and ", " in first
    multiword = any(len(h.split()) > 1 for h in header)
    if (prose_like and (len(records) < 4 or multiword)) or (len(records) < 3 and multiword):
        return None
    return _table(header, records[1:])


def _header_name(name: str) -> bool:
    """A plausible column name: present, short, not a number, not a clause of a sentence."""
    if not name or len(name) > 64 or len(name.split()) > 5:
        return False
    if not isinstance(coerce_scalar(name), str):
        return False
    return not (name[-1] in ".!?" or ": " in name)
