"""A realistic two-step example, built by hand, that every check passes.

    country_info(country="France") -> {..., "latitude": 48.8566, "longitude": 2.3522}
    timezone_at(latitude <- step 1 /latitude, longitude <- step 1 /longitude) -> {"timezone": "Europe/Paris"}

Tests derive failing variants from it with `model_copy(update=...)` or the keyword
arguments of `example`, so each variant differs from a passing example in one place.
"""

from __future__ import annotations

from typing import Any

from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    Example,
    Normaliser,
    Step,
    Task,
    Tool,
    Trace,
    call_key,
    content_hash,
)
from validators import CheckContext, ReplayReport, ReplayResult

TOOLSET = "builtin"
REQUEST = "What time zone is the capital of France in?"

COUNTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "country": {
            "type": "string",
            "minLength": 2,
            "maxLength": 80,
            "description": "Country name in English or its ISO 3166-1 alpha-2 or alpha-3 code.",
        },
        "detail": {"type": "string", "enum": ["basic", "full"], "default": "full"},
    },
    "required": ["country"],
    "additionalProperties": False,
}
TIMEZONE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
    },
    "required": ["latitude", "longitude"],
    "additionalProperties": False,
}

COUNTRY_OUTPUT: dict[str, Any] = {
    "country_code": "FR",
    "name": "France",
    "capital": "Paris",
    "latitude": 48.8566,
    "longitude": 2.3522,
    "coordinates": [48.8566, 2.3522],
    "currencies": ["EUR"],
    "population": 68042591,
}
TIMEZONE_OUTPUT: dict[str, Any] = {"latitude": 48.8566, "longitude": 2.3522, "timezone": "Europe/Paris"}


def tools() -> list[Tool]:
    return [
        Tool(toolset=TOOLSET, name="country_info", description="Facts about a country.",
             input_schema=COUNTRY_SCHEMA, side_effect="read", side_effect_source="annotations"),
        Tool(toolset=TOOLSET, name="timezone_at", description="The IANA time zone at a point.",
             input_schema=TIMEZONE_SCHEMA, side_effect="read", side_effect_source="annotations"),
    ]


def step(tool: str, arguments: dict[str, Any], sources: dict[str, ArgumentSource], output: Any,
         *, is_error: bool = False, toolset: str = TOOLSET) -> Step:
    return Step(toolset=toolset, tool=tool, arguments=arguments, sources=sources,
                observation_id=content_hash([tool, arguments, output, is_error]),
                output=output, is_error=is_error)


def country_step(**arguments: Any) -> Step:
    args = {"country": "France", **arguments}
    return step("country_info", args, {p: ArgumentSource(origin="user", how="seed") for p in args}, COUNTRY_OUTPUT)


def timezone_step(latitude: Any = 48.8566, longitude: Any = 2.3522,
                  sources: dict[str, ArgumentSource] | None = None, output: Any = None) -> Step:
    if sources is None:
        sources = {
            "latitude": ArgumentSource(origin="step", how="pool", step=0, pointer="/latitude"),
            "longitude": ArgumentSource(origin="step", how="pool", step=0, pointer="/longitude"),
        }
    return step("timezone_at", {"latitude": latitude, "longitude": longitude}, sources,
                TIMEZONE_OUTPUT if output is None else output)


def answer(value: Any = "Europe/Paris", *pointers: tuple[int, str], kind: str = "casefold",
           tolerance: float = 0.0) -> Answer:
    return Answer(
        pointers=[AnswerPointer(step=s, pointer=p) for s, p in (pointers or ((1, "/timezone"),))],
        value=value,
        normaliser=Normaliser(kind=kind, tolerance=tolerance),  # type: ignore[arg-type]
    )


def example(*, request: str = REQUEST, steps: list[Step] | None = None, ans: Answer | None = None,
            tool_list: list[Tool] | None = None, **task: Any) -> Example:
    fields: dict[str, Any] = {
        "kind": "multi_step",
        "user_request": request,
        "user_values": {"country": "France"},
        "answer": ans or answer(),
        "final_message": "The capital of France, Paris, is in the Europe/Paris time zone.",
        "writer": "template",
        **task,
    }
    return Example(
        task=Task(**fields),
        trace=Trace(steps=steps if steps is not None else [country_step(), timezone_step()]),
        tools=tools() if tool_list is None else tool_list,
    )


def replay_report(ex: Example, differing: dict[int, tuple[str, ...]] | None = None,
                  errors: dict[int, str] | None = None, version: str | None = None) -> ReplayReport:
    """The report a replay run would give, keyed as `replay_steps` keys it."""
    results = {}
    for k, s in enumerate(ex.trace.steps):
        key = call_key(s.toolset, version, s.tool, s.arguments)
        results[key] = ReplayResult(key, s.tool, differing=(differing or {}).get(k, ()),
                                    error=(errors or {}).get(k))
    return ReplayReport(results=results)


def context(ex: Example, **kwargs: Any) -> CheckContext:
    """A context whose replay covers every step with identical outputs."""
    return CheckContext(replay=replay_report(ex, **kwargs))
