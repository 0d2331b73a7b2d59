"""The tool graph: which tool's outputs feed which tool's inputs.

Candidate edges come from names and types alone: an output field of A whose
name fits a parameter of B (``latitude`` → ``latitude``, ``timezone`` →
``source_timezone``) and whose observed values B's schema accepts. Exploration
then tries them: an edge is *confirmed* when B succeeded with a value taken from
A's output, *failed* when B returned an error with it. Only executed edges are
facts; candidates are what the explorer may try next.

Fields are JSON pointers with list indices written as ``*``, so
``/destinations/0/dest`` and ``/destinations/3/dest`` are one field.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from jsonschema import Draft202012Validator

from schemas import Tool, ToolEdge

from ._explore import ExploredCall, iter_scalars, names_match


def field_of(pointer: str) -> str:
    """'/destinations/3/dest' -> '/destinations/*/dest'."""
    return re.sub(r"/\d+(?=/|$)", "/*", pointer)


def observed_edges(calls: Sequence[ExploredCall]) -> list[ToolEdge]:
    """Confirmed and failed edges, counted, from the provenance of executed calls."""
    by_obs = {c.observation.observation_id: c.observation for c in calls}
    counts: Counter[tuple[str, str, str, str, str, str, Literal["failed", "confirmed"]]] = Counter()
    for call in calls:
        child = call.observation
        kind: Literal["failed", "confirmed"] = "failed" if child.is_error else "confirmed"
        for param, parent in call.parents.items():
            source = by_obs.get(parent.observation_id)
            if source is None:
                continue
            counts[(source.toolset, source.tool, field_of(parent.pointer), child.toolset, child.tool, param, kind)] += 1
    return [
        ToolEdge(from_toolset=a, from_tool=b, field=f, to_toolset=c, to_tool=d, param=p, kind=k, n=n)
        for (a, b, f, c, d, p, k), n in sorted(counts.items())
    ]


def candidate_edges(tools: Iterable[Tool], calls: Sequence[ExploredCall]) -> list[ToolEdge]:
    """Edges whose names fit and whose observed values the parameter's schema accepts."""
    samples: dict[tuple[str, str, str], tuple[str, object]] = {}
    for call in calls:
        obs = call.observation
        if obs.is_error:
            continue
        for pointer, key, value in iter_scalars(obs.output):
            samples.setdefault((obs.toolset, obs.tool, field_of(pointer)), (key, value))
    edges: list[ToolEdge] = []
    for target in tools:
        props = target.input_schema.get("properties") or {}
        for param, schema in props.items():
            validator = Draft202012Validator(schema if isinstance(schema, dict) else {})
            for (toolset, tool, fld), (key, value) in samples.items():
                if (toolset, tool) == (target.toolset, target.name):
                    continue
                if names_match(param, key) and validator.is_valid(value):
                    edges.append(ToolEdge(from_toolset=toolset, from_tool=tool, field=fld,
                                          to_toolset=target.toolset, to_tool=target.name, param=param,
                                          kind="candidate", n=0))
    return sorted(edges, key=lambda e: (e.from_toolset, e.from_tool, e.field, e.to_toolset, e.to_tool, e.param))
