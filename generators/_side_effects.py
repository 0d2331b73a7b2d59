"""Side-effect classes: read, write or destructive.

Exploration calls only read tools unless the user opts in (--allow-writes; a
destructive tool additionally needs --allow TOOL). Sources, in order of
precedence: the user's override, the MCP tool annotations, the HTTP method.
A tool with no annotations gets the MCP specification's defaults: not
read-only, possibly destructive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from schemas import SideEffect, Tool

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def classify_mcp(annotations: Any) -> tuple[SideEffect, str]:
    """Class and source from an MCP ToolAnnotations object (or None)."""
    if annotations is None:
        return "destructive", "mcp-default"
    read_only = getattr(annotations, "read_only_hint", None)
    destructive = getattr(annotations, "destructive_hint", None)
    if read_only is True:
        return "read", "annotations"
    # Spec default for destructive_hint is true when read_only_hint is false/absent.
    if destructive is False:
        return "write", "annotations"
    return "destructive", "annotations" if (read_only is not None or destructive is not None) else "mcp-default"


def classify_http(method: str) -> tuple[SideEffect, str]:
    """GET/HEAD/OPTIONS read; DELETE destroys; anything else writes."""
    method = method.upper()
    if method in _SAFE_METHODS:
        return "read", "http-method"
    if method == "DELETE":
        return "destructive", "http-method"
    return "write", "http-method"


# --- a hint for tools that carry no annotations ------------------------------------------------
# Words that say a tool only reads or computes, and words that say it changes something. Matched
# as whole words of the name (snake_case, camelCase, digits split) and of the description's first
# sentence, after simple plural/tense endings are removed. Generating or drawing a value (generate,
# random, roll, pick) changes nothing outside the call and counts as reading.
_READ_WORDS = frozenset("""
    get list find search lookup look read fetch show describe view check validate verify inspect
    analyze analyse parse calculate calc compute convert count compare estimate evaluate eval
    format decode encode classify detect explain extract measure summarize summarise resolve match
    test preview suggest recommend translate normalize normalise canonicalize escape unescape hash
    diff sort dedupe split tokenize query browse screen plan lint score rank predict forecast
    generate random roll flip pick draw sample simulate render info status stat stats
    """.split())
_WRITE_WORDS = frozenset("""
    create add insert write save store put post update edit modify set patch delete remove drop clear
    purge erase truncate destroy reset send email mail publish upload move rename copy append replace
    apply install uninstall deploy execute exec run kill stop start launch commit push merge approve
    cancel submit book buy purchase order pay transfer import export download lock unlock grant revoke
    enable disable archive restore sync schedule register subscribe unsubscribe invite mkdir touch
    chmod shutdown reboot overwrite upsert assign unassign close open reply post tweet notify
    """.split())
_FIRST_SENTENCE = re.compile(r"^(.+?)(?:[.!?](?:\s|$)|\n\s*\n|$)", re.S)


@dataclass(frozen=True)
class ReadOnlyHint:
    """Whether a tool without annotations reads as read-only or as a write, and why."""

    likely_readonly: bool
    likely_writes: bool
    why: str


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            base = word[: -len(suffix)]
            if base in _READ_WORDS or base in _WRITE_WORDS:
                return base
            if suffix in ("ed", "es") and base + "e" in (_READ_WORDS | _WRITE_WORDS):
                return base + "e"
    return word


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [_stem(w.lower()) for w in re.findall(r"[A-Za-z]+", spaced)]


# Unambiguous writes: they count anywhere in the description's first sentence (where "a set of",
# "an email" or "drop lowest" are nouns and phrases, other write words count only as its verb).
_STRONG_WRITES = frozenset("delete erase purge destroy overwrite truncate upload uninstall deploy wipe".split())
_FILLER = frozenset("this the a an it tool function will to please can may that which use used".split())


def readonly_hint(name: str, description: str = "") -> ReadOnlyHint:
    """A hint from a tool's name and description (never a guarantee; see `select_tools`).

    *Likely writes*: a write word in the name, an unambiguous one anywhere in the
    description's first sentence, or a write word as that sentence's verb (its first word
    that is not filler: "Sends ...", "Update ..."). Otherwise *likely read-only*: a read word
    in the name, or as the sentence's verb. With neither, it is unclear, and a tool is not
    called on the hint.
    """
    name_words = _words(name)
    first = _FIRST_SENTENCE.match(description.strip())
    sentence = _words(first.group(1) if first else "")
    verb = next((w for w in sentence if w not in _FILLER), "")
    # A name that starts with a read verb names what it reads ("get_order", "list_commits"):
    # the words after the verb are nouns, unless one is an unambiguous write ("get_and_delete").
    leads_with_read = bool(name_words) and name_words[0] in _READ_WORDS
    writes = [w for w in name_words if w in (_STRONG_WRITES if leads_with_read else _WRITE_WORDS)]
    if writes:
        return ReadOnlyHint(False, True, f"its name says {writes[0]!r}")
    strong = [w for w in sentence if w in _STRONG_WRITES]
    if strong or verb in _WRITE_WORDS:
        return ReadOnlyHint(False, True, f"its description says {(strong or [verb])[0]!r}")
    reads = [w for w in name_words if w in _READ_WORDS]
    if reads:
        return ReadOnlyHint(True, False, f"its name says {reads[0]!r}")
    if verb in _READ_WORDS:
        return ReadOnlyHint(True, False, f"its description says {verb!r}")
    return ReadOnlyHint(False, False, "neither its name nor its description's first verb says what it does")


@dataclass(frozen=True)
class SkippedTool:
    """A tool exploration will not call, and why."""

    toolset: str
    tool: str
    reason: str


def select_tools(
    tools: Iterable[Tool], *, allow_writes: bool = False, allow: Iterable[str] = (),
    allow_likely_readonly: bool = False,
) -> tuple[list[Tool], list[SkippedTool]]:
    """Split tools into those exploration may call and those it must skip.

    Read tools are always allowed. Write tools need ``allow_writes``. A destructive
    tool (including an MCP tool without annotations, per the spec's defaults) needs
    its name in ``allow``, which admits any tool whatever its class. With
    ``allow_likely_readonly``, a tool whose class is only the MCP default (no annotations)
    is called when its name and description read as read-only (`readonly_hint`); one that
    reads as a write, or as neither, is still skipped.
    """
    allowed_names = set(allow)
    callable_: list[Tool] = []
    skipped: list[SkippedTool] = []
    for tool in tools:
        hint = readonly_hint(tool.name, tool.description)
        if tool.name in allowed_names or f"{tool.toolset}.{tool.name}" in allowed_names:
            callable_.append(tool)
        elif tool.side_effect == "read":
            callable_.append(tool)
        elif tool.side_effect == "write" and allow_writes:
            callable_.append(tool)
        elif allow_likely_readonly and tool.side_effect_source == "mcp-default" and hint.likely_readonly:
            callable_.append(tool)
        else:
            source = {
                "annotations": "its MCP annotations",
                "mcp-default": "it has no MCP annotations (spec default: possibly destructive)",
                "http-method": "its HTTP method",
                "override": "the configuration",
            }.get(tool.side_effect_source, tool.side_effect_source)
            needed = "--allow-writes" if tool.side_effect == "write" else f"--allow {tool.name}"
            if tool.side_effect_source == "mcp-default" and hint.likely_readonly and not allow_likely_readonly:
                needed += f" (or --allow-likely-readonly: {hint.why})"
            elif tool.side_effect_source == "mcp-default" and allow_likely_readonly:
                needed += f" (not likely read-only: {hint.why})"
            skipped.append(
                SkippedTool(tool.toolset, tool.name, f"{tool.side_effect} by {source}; pass {needed}")
            )
    return callable_, skipped
