"""Field parsers: ``key: value`` / ``key = value`` lines, and markdown with bold labels.

Both make a JSON object of the fields, so ``/数值`` or ``/Color Bands`` is a pointer:

    数值: 360                  ->  {"数值": 360, "是否素数": "否", "质因数分解": "2 * 2 * 2 * 3 * 3 * 5"}
    是否素数: 否
    质因数分解: 2 * 2 * 2 * 3 * 3 * 5

Nesting follows indentation. A field with no value owns the more-indented lines under it (and
bullets right under it): all fields -> an object, all bullets -> a list (an object when every
bullet is itself a field), anything else -> their text. A more-indented line under a field that
has a value continues that value. Values are typed (``_scalars.coerce_scalar``) after bold and
code markup is removed; a key given twice collects its values in a list.

Lines that are not fields (a title, headings, prose, code fences, kept verbatim) are joined in
``"_text"``, a name chosen not to collide with ordinary keys.

- ``kv/1`` is strict: at least two fields, every line a field or under one, except one title line
  at the top (no title line for a string nested in a structured value).
- ``md-fields/1`` reads markdown prose: at least two **bold** labels (``**Color Bands:** Yellow``
  or ``**Color Bands**: Yellow``, optionally bulleted); plain ``key: value`` lines count as fields
  too; any other line goes to ``"_text"``.

A key is at most 60 characters and five words, with no sentence punctuation (". ", ", ", "; ")
inside and none at its end, so "The run failed: disk full" is not a one-field table on its own and
prose needs two such lines before ``kv/1`` accepts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._scalars import coerce_scalar, strip_inline_markdown

_MAX_FIELDS_TEXT = 1 << 20
_BULLET = re.compile(r"^(?:[-*•+▪◦‣]|\d{1,3}[.)])[ \t]+")
_BOLD_FIELD = re.compile(
    r"^(?:[-*•][ \t]+)?(?:\*\*|__)(?P<k>[^*_\n]{1,60}?)[ \t]*(?:[:：](?:\*\*|__)|(?:\*\*|__)[ \t]*[:：])[ \t]*(?P<v>.*)$"
)
_PLAIN_FIELD = re.compile(r"^(?P<k>[^\s:=：#>|][^:=：\n]{0,59}?)[ \t]*(?:[:：](?=\s|$)|=(?![=>]))[ \t]*(?P<v>.*)$")
_BAD_KEY = re.compile(r"[.,;!?] |[.,;!?<>!]$|://|^[-*•+]\s")


@dataclass
class _Line:
    indent: int
    text: str  # stripped


@dataclass
class _Stats:
    fields: int = 0
    bold: int = 0


def _key_ok(key: str) -> bool:
    return bool(key) and len(key) <= 60 and len(key.split()) <= 5 and not _BAD_KEY.search(key)


def _field(text: str, allow_bold: bool) -> tuple[str, str, bool] | None:
    """(key, value, bold) when the line is a field."""
    if allow_bold and ("**" in text or "__" in text):
        m = _BOLD_FIELD.match(text)
        if m is not None and _key_ok(m.group("k").strip()):
            return m.group("k").strip(), m.group("v").strip(), True
    m = _PLAIN_FIELD.match(text)
    if m is None:
        return None
    key = strip_inline_markdown(m.group("k").strip())
    return (key, m.group("v").strip(), False) if _key_ok(key) else None


def _typed(text: str) -> Any:
    return coerce_scalar(strip_inline_markdown(text))


def _put(out: dict[str, Any], key: str, value: Any, repeated: set[str]) -> None:
    """Set a field; a key given again collects its values in a list (``repeated`` tracks which
    lists were made here, so a value that is itself a list is not appended to)."""
    if key not in out:
        out[key] = value
    elif key in repeated:
        out[key].append(value)
    else:
        out[key] = [out[key], value]
        repeated.add(key)


def _children_value(children: list[_Line], allow_bold: bool, stats: _Stats) -> Any:
    """What the lines under an empty field make: an object, a list, or text."""
    lines = [c for c in children if c.text]
    bullets = [_BULLET.match(c.text) for c in lines]
    if all(bullets):
        items = [c.text[m.end():].strip() for c, m in zip(lines, bullets) if m is not None]
        fields = [_field(item, allow_bold) for item in items]
        if all(fields):
            obj: dict[str, Any] = {}
            repeated: set[str] = set()
            for f in fields:
                if f is not None:
                    _put(obj, f[0], _typed(f[1]), repeated)
                    stats.fields += 1
            return obj
        return [_typed(item) for item in items]
    inner = _Stats()
    nested = _parse(lines, allow_bold=allow_bold, strict=True, stats=inner)
    if nested is not None and inner.fields:
        stats.fields += inner.fields
        stats.bold += inner.bold
        return nested
    return "\n".join(strip_inline_markdown(c.text) for c in lines)


def _parse(lines: list[_Line], *, allow_bold: bool, strict: bool, stats: _Stats, title: bool = True) -> dict[str, Any] | None:
    """Fields at one level of indentation (children recurse); None when strict and a line is not a field."""
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    extra: list[str] = []
    i, n = 0, len(lines)
    in_fence = False
    while i < n:
        line = lines[i]
        if not line.text:
            i += 1
            continue
        if line.text.startswith("```") or in_fence:
            if strict:
                return None
            in_fence = in_fence != line.text.startswith("```")
            extra.append(" " * line.indent + line.text)
            i += 1
            continue
        found = None if line.text.startswith("#") else _field(line.text, allow_bold)
        if found is None:
            if strict and (extra or out or not title):
                return None  # only a title line may precede the fields
            extra.append(line.text)
            i += 1
            continue
        key, value, bold = found
        stats.fields += 1
        stats.bold += bold
        # The lines under this field: more indented, or bullets right under a field with no value.
        j = i + 1
        children: list[_Line] = []
        while j < n:
            nxt = lines[j]
            if not nxt.text:
                if j + 1 < n and lines[j + 1].text and lines[j + 1].indent > line.indent and (children or not value):
                    j += 1
                    continue
                break
            under = nxt.indent > line.indent or (not value and nxt.indent == line.indent and _BULLET.match(nxt.text) is not None)
            if not under:
                break
            children.append(nxt)
            j += 1
        if not value and children:
            base = min(c.indent for c in children)
            typed: Any = _children_value([_Line(c.indent - base, c.text) for c in children], allow_bold, stats)
        elif children:
            typed = _typed(" ".join([value, *(c.text for c in children)]))
        else:
            typed = _typed(value) if value else None
        _put(out, key, typed, repeated)
        i = j
    if extra:
        out["_text" if "_text" not in out else "__text"] = "\n".join(extra)
    return out


def _lines(text: str) -> list[_Line]:
    out = []
    for raw in text.splitlines():
        stripped = raw.strip()
        expanded = raw.expandtabs(4)
        out.append(_Line(len(expanded) - len(expanded.lstrip()) if stripped else 0, stripped))
    return out


def parse_kv(text: str, *, title: bool = True) -> Any:
    """Strict ``key: value`` / ``key = value`` lines (see the module docstring)."""
    if len(text) > _MAX_FIELDS_TEXT or ("\n" not in text.strip()) or not any(c in text for c in ":=："):
        return None
    stats = _Stats()
    out = _parse(_lines(text), allow_bold=False, strict=True, stats=stats, title=title)
    if out is None or stats.fields < 2:
        return None
    return out


def parse_kv_nested(text: str) -> Any:
    """``kv`` for a string inside a structured value: every line a field, no title line, so a
    multi-line string that merely contains a few ``x = 1`` lines (source code) stays a string."""
    return parse_kv(text, title=False)


def parse_md_fields(text: str) -> Any:
    """Markdown with bold labels (see the module docstring)."""
    if len(text) > _MAX_FIELDS_TEXT or text.count("**") + text.count("__") < 4:
        return None
    stats = _Stats()
    out = _parse(_lines(text), allow_bold=True, strict=False, stats=stats)
    if out is None or stats.bold < 2:
        return None
    return out
