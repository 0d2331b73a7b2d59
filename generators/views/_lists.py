"""Bulleted and numbered lists, and unified diffs.

A list becomes ``{"items": [...]}`` (``/items/0``), with ``"title"`` when one line above the items
introduces them. Items are typed (``_scalars.coerce_scalar`` after bold and code markup is
removed); an item with more-indented items under it becomes ``{"text": item, "items": [...]}``;
a more-indented line that is not an item continues the item above. Markers: ``-`` ``*`` ``•``
``+`` ``▪`` ``◦`` ``‣``, ``1.`` ``1)`` ``(1)``. At least two items, and no line other than the title
that is not an item or part of one.

A unified diff becomes::

    {"files": [{"path": "app/config.py", "old_path": "app/config.py", "new_path": "app/config.py",
                "added": 2, "removed": 1,
                "hunks": [{"old_start": 1, "old_lines": 4, "new_start": 1, "new_lines": 5,
                           "section": "", "added": ["DEBUG = False", ...], "removed": ["DEBUG = True"]}]}]}

(``a/`` and ``b/`` prefixes dropped, ``/dev/null`` as null, ``path`` the new path or, for a deleted
file, the old one). Lines outside the diff (a "Here is the patch:" line) go to ``"text"``. At least
one ``@@ -a,b +c,d @@`` hunk header is needed; hunk bodies are read by their line counts.
"""

from __future__ import annotations

import re
from typing import Any

from ._scalars import coerce_scalar, strip_inline_markdown

_MAX_LIST_TEXT = 1 << 20
_ITEM = re.compile(r"^(?P<marker>[-*•+▪◦‣]|\d{1,4}[.)]|\(\d{1,4}\))[ \t]+(?P<text>\S.*)$")


def _item_value(text: str) -> Any:
    return coerce_scalar(strip_inline_markdown(text))


def parse_list(text: str) -> Any:
    """A bulleted or numbered list (see the module docstring)."""
    if len(text) > _MAX_LIST_TEXT or "\n" not in text.strip():
        return None
    title: str | None = None
    # Each open item: (indent, node); node is {"text": str, "items": list} while being built.
    root: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = []
    count = 0
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            continue
        expanded = raw.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip())
        m = _ITEM.match(stripped)
        if m is None:
            if stack and indent > stack[-1][0]:
                stack[-1][1]["text"] += " " + stripped  # a continuation line
                continue
            if title is None and count == 0:
                title = stripped
                continue
            return None
        count += 1
        node: dict[str, Any] = {"text": m.group("text").strip(), "items": []}
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1]["items"] if stack else root).append(node)
        stack.append((indent, node))
    if count < 2 or not root:
        return None
    view: dict[str, Any] = {"items": [_finish(node) for node in root]}
    if title is not None:
        view["title"] = strip_inline_markdown(title)
    return view


def _finish(node: dict[str, Any]) -> Any:
    if not node["items"]:
        return _item_value(node["text"])
    return {"text": _item_value(node["text"]), "items": [_finish(child) for child in node["items"]]}


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_METADATA = (
    "index ", "new file mode", "deleted file mode", "old mode", "new mode", "similarity index",
    "dissimilarity index", "rename from", "rename to", "copy from", "copy to", "Binary files",
)


def _diff_path(text: str) -> str | None:
    path = text.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    if path[:2] in ("a/", "b/"):
        path = path[2:]
    return path


def _new_file(old: str | None, new: str | None) -> dict[str, Any]:
    return {"path": new if new is not None else old, "old_path": old, "new_path": new, "added": 0, "removed": 0, "hunks": []}


def parse_unified_diff(text: str) -> Any:
    """A unified diff (``diff -u``, ``git diff``): files, hunks, added and removed lines."""
    if "@@ -" not in text or len(text) > _MAX_LIST_TEXT:
        return None
    lines = text.splitlines()
    files: list[dict[str, Any]] = []
    other: list[str] = []
    current: dict[str, Any] | None = None
    hunk: dict[str, Any] | None = None
    old_left = new_left = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if hunk is not None and current is not None and (old_left > 0 or new_left > 0):
            if line.startswith("+"):
                hunk["added"].append(line[1:])
                current["added"] += 1
                new_left -= 1
            elif line.startswith("-"):
                hunk["removed"].append(line[1:])
                current["removed"] += 1
                old_left -= 1
            elif line.startswith(" ") or line == "":
                old_left -= 1
                new_left -= 1
            elif not line.startswith("\\"):  # "\ No newline at end of file" is part of the hunk
                return None  # a hunk shorter than its header says: not a well-formed diff
            i += 1
            continue
        hunk = None
        m = _HUNK.match(line)
        if line.startswith("diff --git "):
            parts = line[len("diff --git "):].split(" ")
            current = _new_file(_diff_path(parts[0]), _diff_path(parts[-1]))
            files.append(current)
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _diff_path(line[4:]), _diff_path(lines[i + 1][4:])
            if current is None or current["hunks"]:
                current = _new_file(old, new)
                files.append(current)
            else:
                current.update(path=new if new is not None else old, old_path=old, new_path=new)
            i += 1
        elif m is not None:
            if current is None:
                current = _new_file(None, None)
                files.append(current)
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            hunk = {
                "old_start": int(m.group(1)), "old_lines": old_left, "new_start": int(m.group(3)),
                "new_lines": new_left, "section": m.group(5).strip(), "added": [], "removed": [],
            }
            current["hunks"].append(hunk)
        elif line.startswith(_METADATA) or line.startswith("\\"):
            pass
        else:
            other.append(line)
        i += 1
    if old_left > 0 or new_left > 0 or not any(f["hunks"] for f in files):
        return None
    view: dict[str, Any] = {"files": files}
    rest = "\n".join(other).strip()
    if rest:
        view["text"] = rest
    return view
