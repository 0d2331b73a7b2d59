"""Recorded outputs: what a tool sent (raw), the view pointers address, and the parser between.

Every connector hands what a tool sent to `viewed_outcome`, in one raw shape
(``schemas.raw_text`` documents it):

    {"text": [...], "structured": ..., "content": [...]}

- MCP: the result's text blocks, its structured content, its other blocks (image, audio,
  resource, resource link) described by type, MIME type, size and digest, never their bytes;
- HTTP: a JSON body is ``structured``, any other body one text block;
- Python: a returned string is one text block, any other JSON value ``structured``.

**Which part makes the view** (`view_source`): the structured content when it holds anything,
else the text blocks (one block: that string; several: the list, one view per block; none: no
output). Structured content is the server's own machine-readable answer: where both exist it is
the inner object of a text envelope (``{"ok": true, "result": {...}}`` in text, ``{...}``
structured), or typed lists where the text has one block per item. One exception: structured
content that only wraps the text (``{"result": "<the same text>"}``, what SDKs make of a tool
returning a string) gives way to the text, so a markdown table is ``/rows/1/Name`` rather than
``/result/rows/1/Name`` and a sentence gets its spans. The rule is fixed, so re-deriving from a
fresh raw output reads the same part.

**Plain JSON**: when the view of a structured value is that value itself (parser ``json/1``,
nothing inside expanded), the observation keeps only ``output``: ``raw`` and ``parser`` stay
None, and its id hashes as before views existed.

**Inferred errors**: a result the tool did not flag (MCP is_error false, HTTP 2xx) whose view
``looks_like_error`` ("Error: ...", ``{"error": ...}``, a traceback, "not found") becomes an
error outcome with ``error_inferred``: exploration never takes values from it, and the run
summary counts it.

**Re-derivation** (`view_as`): replay and audit compare a fresh output with a recorded one under
the *recorded* parser id, so a parser upgrade never silently changes an old version's view; a
parser that no longer accepts the fresh output means the output changed shape (``ViewError``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import RAW_CONTENT, RAW_STRUCTURED, RAW_TEXT, raw_text

from ._base import CallOutcome
from .views import ParserDeclined, derive_view, rederive_view

_MAX_ERROR = 2000
_PLAIN_JSON = "json/1"


def describe_block(kind: str, *, mime_type: str | None = None, data: str | bytes | None = None,
                   **extra: Any) -> dict[str, Any]:
    """A non-text block as recorded: its type, MIME type, size and digest (never its bytes)."""
    out: dict[str, Any] = {"type": kind}
    if mime_type:
        out["mime_type"] = mime_type
    if data is not None:
        blob = data.encode() if isinstance(data, str) else data
        out["bytes"] = len(blob)
        out["sha256"] = hashlib.sha256(blob).hexdigest()
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def raw_output(texts: Sequence[str] = (), structured: Any = None,
               content: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The raw shape of what a tool sent (keys only for the parts it sent)."""
    raw: dict[str, Any] = {}
    if texts:
        raw[RAW_TEXT] = list(texts)
    if structured is not None:
        raw[RAW_STRUCTURED] = structured
    if content:
        raw[RAW_CONTENT] = [dict(c) for c in content]
    return raw


def _holds_something(value: Any) -> bool:
    return value is not None and value != {} and value != []


def _texts(raw: Mapping[str, Any]) -> list[str]:
    return list(raw.get(RAW_TEXT) or [c["text"] for c in raw.get(RAW_CONTENT) or ()
                                      if isinstance(c, Mapping) and isinstance(c.get("text"), str)])


def _wraps_text(structured: Any, texts: list[str]) -> bool:
    """Structured content that only wraps the text: ``{"result": "<the text>"}`` (what SDKs make
    of a tool returning a string). The text itself is then the better source: the same view,
    shorter pointers, and prose gets its spans."""
    if not isinstance(structured, Mapping) or len(structured) != 1 or not texts:
        return False
    inner = next(iter(structured.values()))
    return isinstance(inner, str) and inner == "\n".join(texts)


def view_source(raw: Any) -> Any:
    """What the view is derived from (see the module docstring): structured content, unless it
    only wraps the text, else the text blocks."""
    if not isinstance(raw, Mapping):
        return raw
    structured = raw.get(RAW_STRUCTURED)
    texts = _texts(raw)
    if _holds_something(structured) and not _wraps_text(structured, texts):
        return structured
    if not texts:
        return structured
    return texts[0] if len(texts) == 1 else list(texts)


def _is_structured(raw: Mapping[str, Any]) -> bool:
    """The view is read from the structured content (see `view_source`)."""
    structured = raw.get(RAW_STRUCTURED)
    return _holds_something(structured) and not _wraps_text(structured, _texts(raw))


def _plain(source: Any) -> bool:
    """A JSON value whose view must be itself: a list of strings from structured content or a
    body would otherwise read as text blocks."""
    return isinstance(source, list) and bool(source) and all(isinstance(item, str) for item in source)


def viewed_outcome(
    raw: Mapping[str, Any], *, is_error: bool = False, error: str | None = None, transient: bool = False,
    latency_ms: float | None = None,
) -> CallOutcome:
    """The outcome of a call that sent ``raw``: its view as ``output``, the raw form and parser id
    beside it (None for plain JSON), and an inferred error when the tool did not flag one."""
    if not raw:  # nothing sent at all: no output
        return CallOutcome(is_error=is_error, error=error, transient=transient, latency_ms=latency_ms)
    source = view_source(raw)
    if _is_structured(raw) and _plain(source):
        return CallOutcome(output=source, is_error=is_error, error=error, transient=transient, latency_ms=latency_ms)
    view = derive_view(source)
    if (view.parser == _PLAIN_JSON and view.value is source and _is_structured(raw)
            and not raw.get(RAW_CONTENT)):
        out = CallOutcome(output=source, is_error=is_error, error=error, transient=transient, latency_ms=latency_ms)
    else:
        out = CallOutcome(output=view.value, is_error=is_error, error=error, transient=transient,
                          latency_ms=latency_ms, raw=dict(raw), parser=view.parser)
    if not is_error and view.looks_like_error is not None:
        said = raw_text(raw) or (str(source) if source is not None else view.looks_like_error)
        return CallOutcome(output=out.output, is_error=True, error=said.strip()[:_MAX_ERROR] or view.looks_like_error,
                           latency_ms=latency_ms, raw=dict(raw), parser=view.parser, error_inferred=True)
    return out


def view_as(parser: str | None, output: Any, raw: Any) -> Any:
    """A (fresh) output's view under a *recorded* parser id: what to compare a recorded view with.

    ``output`` and ``raw`` are the fresh outcome's. ``parser`` None means the recorded output
    was plain JSON: the fresh one's plain JSON is returned. Raises ``ViewError``
    (``ParserDeclined``: the output changed shape; ``UnknownParser``: a newer backchain made
    the recorded view).
    """
    if raw is None:  # the fresh output is plain JSON
        return output if parser is None else rederive_view(output, parser).value
    source = view_source(raw)
    if parser is None:
        if _is_structured(raw):
            return source
        raise ParserDeclined("the recorded output was plain JSON and the tool now answers in text")
    return rederive_view(source, parser).value


def upgrade_cached(observation: dict[str, Any]) -> dict[str, Any]:
    """A cached observation recorded before views existed, read as a new one would be.

    Those kept a text answer as one string in ``output`` (JSON text already parsed). A string
    output becomes the text it was: its view, raw form and parser. Anything else is plain JSON,
    as before. An observation that records a parser (or a raw form) is returned unchanged.
    """
    if "parser" in observation or "raw" in observation:
        return observation
    output = observation.get("output")
    if not isinstance(output, str) or observation.get("is_error"):
        return observation
    fresh = viewed_outcome(raw_output([output]))
    upgraded = {**observation, "output": fresh.output, "raw": fresh.raw, "parser": fresh.parser}
    if fresh.error_inferred:
        upgraded.update(is_error=True, error=fresh.error, error_inferred=True)
    return upgraded
