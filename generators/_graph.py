"""The tool graph: which tool's outputs feed which tool's inputs.

Candidate edges come from names and types alone: an output field of A whose
name fits a parameter of B (``latitude`` → ``latitude``, ``timezone`` →
``source_timezone``) and whose observed values B's schema accepts. Exploration
then tries them: an edge is *confirmed* when B succeeded with a value taken from
A's output, *failed* when B returned an error with it. Only executed edges are
facts; candidates are what the explorer may try next.

Fields are JSON pointers with list indices written as ``*``, so
``/destinations/0/dest`` and ``/destinations/3/dest`` are one field. A field may point into
an output's view: ``/rows/*/Slug`` in a markdown table, ``/spans/*/value`` in prose.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from schemas import Tool, ToolEdge

from ._explore import ExploredCall, iter_leaves, names_match, param_kinds
from ._meaning import is_generic, shares_topic
from ._trace_values import field_of


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
    """Edges whose names fit, or whose value kind fits the parameter (an IP address for ``ip``,
    a date for a ``format: date`` parameter), and whose observed values the parameter's schema
    accepts. Fields found in text views count like JSON fields."""
    samples: dict[tuple[str, str, str], tuple[str, object, str, str]] = {}
    for call in calls:
        obs = call.observation
        if obs.is_error:
            continue
        for leaf in iter_leaves(obs.output):
            samples.setdefault((obs.toolset, obs.tool, field_of(leaf.pointer)),
                               (leaf.key, leaf.value, leaf.kind, leaf.qualified))
    tools = list(tools)
    by_name = {(t.toolset, t.name): t for t in tools}
    edges: list[ToolEdge] = []
    for target in tools:
        props = target.input_schema.get("properties") or {}
        for param, schema in props.items():
            schema = schema if isinstance(schema, dict) else {}
            try:
                validator = Draft202012Validator(schema)
            except SchemaError:
                continue
            kinds = param_kinds(param, schema)
            for (toolset, tool, fld), (key, value, kind, qualified) in samples.items():
                if (toolset, tool) == (target.toolset, target.name):
                    continue
                named = names_match(param, key) or (bool(qualified) and names_match(param, qualified))
                if named and is_generic(key) and not shares_topic(by_name.get((toolset, tool)), key, fld, (),
                                                                  target, param):
                    continue  # "year" of an aircraft is not the year a holiday list takes
                if (named or (kind and kind in kinds)) and _valid(validator, value):
                    edges.append(ToolEdge(from_toolset=toolset, from_tool=tool, field=fld,
                                          to_toolset=target.toolset, to_tool=target.name, param=param,
                                          kind="candidate", n=0))
    return sorted(edges, key=lambda e: (e.from_toolset, e.from_tool, e.field, e.to_toolset, e.to_tool, e.param))


def _valid(validator: Draft202012Validator, value: object) -> bool:
    try:
        return bool(validator.is_valid(value))
    except Exception:  # a schema jsonschema cannot evaluate (a bad regex): no edge
        return False
