"""Realistic examples of every task kind, built by hand from outputs the built-in toolset returns.

    paris_chain        multi_step   country_info(France) -> timezone_at(its coordinates)
    holidays_single    single       list_public_holidays(DE, 2024), a nested output
    miles_as_text      single       convert_units, a plain string output
    ivory_coast        single       non-ASCII everywhere
    parallel_pair      parallel     country_info(Japan) and timezone_at(51.5, -0.12) in one turn
    multi_turn_ask     multi_turn   the assistant asks which country; the user answers
    error_recovery     error_recovery  convert_units with a wrong unit fails, then the fix
    no_call_sum        no_call      arithmetic the user can be answered without a tool

Tests derive variants with ``model_copy(update=...)``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    DialogueTurn,
    Example,
    Normaliser,
    Step,
    Task,
    Tool,
    Trace,
    VersionInfo,
)


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> Tool:
    return Tool(
        toolset="builtin",
        name=name,
        description=description,
        input_schema={"type": "object", "properties": properties, "required": required},
        side_effect="read",
        side_effect_source="annotations",
    )


COUNTRY_INFO = _tool(
    "country_info",
    "Facts about a country: capital, coordinates, currency.",
    {"country": {"type": "string", "description": "Country name or ISO code."}},
    ["country"],
)
TIMEZONE_AT = _tool(
    "timezone_at",
    "The IANA time zone at a point.",
    {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
    },
    ["latitude", "longitude"],
)
HOLIDAYS = _tool(
    "list_public_holidays",
    "Public holidays of a country in a year.",
    {"country_code": {"type": "string", "pattern": "^[A-Z]{2}$"}, "year": {"type": "integer"}},
    ["country_code", "year"],
)
CONVERT_UNITS = _tool(
    "convert_units",
    "Convert a quantity between units.",
    {
        "value": {"type": "number"},
        "from_unit": {"type": "string"},
        "to_unit": {"type": "string"},
    },
    ["value", "from_unit", "to_unit"],
)

USER = ArgumentSource(origin="user", how="seed")


def _step(tool: Tool, arguments: dict[str, Any], output: Any, sources: dict[str, ArgumentSource]
          | None = None) -> Step:
    return Step(
        toolset="builtin",
        tool=tool.name,
        arguments=arguments,
        sources=sources or {k: USER for k in arguments},
        observation_id=f"obs-{tool.name}-{len(json.dumps(arguments))}",
        output=output,
    )


def _example(
    steps: list[Step], tools: list[Tool], request: str, final: str, value: Any, pointer: str,
    *, kind: str = "multi_step", normaliser: Normaliser | None = None,
) -> Example:
    return Example(
        task=Task(
            kind=kind,  # type: ignore[arg-type]
            user_request=request,
            user_values={},
            answer=Answer(
                pointers=[AnswerPointer(step=len(steps) - 1, pointer=pointer)],
                value=value,
                normaliser=normaliser or Normaliser(),
            ),
            final_message=final,
            writer="template",
        ),
        trace=Trace(steps=steps),
        tools=tools,
    )


def paris_chain() -> Example:
    """country_info(France) -> timezone_at(its coordinates): a two-step chain."""
    country = {
        "name": "France",
        "capital": "Paris",
        "latitude": 48.85,
        "longitude": 2.35,
        "currency": "EUR",
    }
    from_step0 = {
        "latitude": ArgumentSource(origin="step", step=0, pointer="/latitude"),
        "longitude": ArgumentSource(origin="step", step=0, pointer="/longitude"),
    }
    return _example(
        [
            _step(COUNTRY_INFO, {"country": "France"}, country),
            _step(TIMEZONE_AT, {"latitude": 48.85, "longitude": 2.35}, {"timezone": "Europe/Paris"},
                  from_step0),
        ],
        [COUNTRY_INFO, TIMEZONE_AT, HOLIDAYS],
        "Which time zone is the capital of France in?",
        "Paris is in the Europe/Paris time zone.",
        "Europe/Paris",
        "/timezone",
    )


def holidays_single() -> Example:
    """One call with other argument keys, whose output is a nested object."""
    output = {
        "country_code": "DE",
        "year": 2024,
        "holidays": [
            {"date": "2024-01-01", "name": "Neujahr"},
            {"date": "2024-10-03", "name": "Tag der Deutschen Einheit"},
        ],
    }
    return _example(
        [_step(HOLIDAYS, {"country_code": "DE", "year": 2024}, output)],
        [HOLIDAYS, COUNTRY_INFO],
        "What is the first public holiday in Germany in 2024?",
        "The first public holiday in Germany in 2024 is Neujahr, on 1 January.",
        "Neujahr",
        "/holidays/0/name",
        kind="single",
    )


def miles_as_text() -> Example:
    """A tool whose output is a plain string."""
    return _example(
        [_step(CONVERT_UNITS, {"value": 10, "from_unit": "mile", "to_unit": "kilometer"},
               "16.09344 kilometer")],
        [CONVERT_UNITS],
        "How many kilometres are 10 miles?",
        "10 miles are 16.09344 kilometres.",
        "16.09344 kilometer",
        "",
        kind="single",
        normaliser=Normaliser(kind="casefold"),
    )


def ivory_coast() -> Example:
    """Non-ASCII in the request, the arguments and the output."""
    country = {"name": "Côte d'Ivoire", "capital": "Yamoussoukro",
               "latitude": 8.0, "longitude": -5.0}
    return _example(
        [_step(COUNTRY_INFO, {"country": "Côte d'Ivoire"}, country)],
        [COUNTRY_INFO],
        "Quelle est la capitale de la Côte d'Ivoire ?",
        "La capitale de la Côte d'Ivoire est Yamoussoukro.",
        "Yamoussoukro",
        "/capital",
        kind="single",
    )




def parallel_pair() -> Example:
    """Two independent calls in one assistant turn; the answer has one value per call."""
    japan = {"name": "Japan", "capital": "Tokyo", "latitude": 35.68, "longitude": 139.69, "currency": "JPY"}
    london = {"timezone": "Europe/London"}
    steps = [
        _step(COUNTRY_INFO, {"country": "Japan"}, japan).model_copy(update={"group": 0}),
        _step(TIMEZONE_AT, {"latitude": 51.5, "longitude": -0.12}, london).model_copy(update={"group": 0}),
    ]
    return Example(
        task=Task(
            kind="parallel",
            user_request="What is the capital of Japan? Also, which time zone is at latitude 51.5, longitude -0.12?",
            user_values={"country": "Japan", "latitude@1": 51.5, "longitude@1": -0.12},
            answer=Answer(
                pointers=[AnswerPointer(step=0, pointer="/capital"), AnswerPointer(step=1, pointer="/timezone")],
                value=["Tokyo", "Europe/London"],
            ),
            final_message="The capital of Japan is Tokyo, and 51.5, -0.12 is in Europe/London.",
            writer="template",
        ),
        trace=Trace(steps=steps),
        tools=[COUNTRY_INFO, TIMEZONE_AT, HOLIDAYS],
    )


def multi_turn_ask() -> Example:
    """The country is withheld from the request: the assistant asks, the user answers."""
    example = paris_chain()
    task = example.task.model_copy(update={
        "kind": "multi_turn",
        "user_request": "Which time zone is the capital of my country in?",
        "dialogue": [
            DialogueTurn(role="assistant", content="Which country do you mean?"),
            DialogueTurn(role="user", content="The country is France."),
        ],
        "user_values": {"country": "France"},
    })
    return example.model_copy(update={"task": task})


def error_recovery() -> Example:
    """A real failure (incompatible units), then the corrected call of the same tool."""
    failed = Step(
        toolset="builtin", tool="convert_units",
        arguments={"value": 10, "from_unit": "mile", "to_unit": "degC"},
        sources={k: USER for k in ("value", "from_unit", "to_unit")},
        observation_id="obs-convert-failed",
        output="Error executing tool convert_units: Cannot convert 'mile' to 'degC': different dimensions.",
        is_error=True,
    )
    fixed = _step(CONVERT_UNITS, {"value": 10, "from_unit": "mile", "to_unit": "kilometer"},
                  {"value": 16.09344, "unit": "kilometer"})
    return Example(
        task=Task(
            kind="error_recovery",
            user_request="How many kilometres are 10 miles?",
            user_values={"value": 10, "from_unit": "mile", "to_unit": "kilometer"},
            answer=Answer(pointers=[AnswerPointer(step=1, pointer="/value")], value=16.09344,
                          normaliser=Normaliser(kind="number", tolerance=1e-6)),
            final_message="10 miles are 16.09344 kilometres.",
            writer="template",
        ),
        trace=Trace(steps=[failed, fixed]),
        tools=[CONVERT_UNITS, COUNTRY_INFO],
    )


def no_call_sum() -> Example:
    """Answerable without tools: the right behaviour is not to call."""
    return Example(
        task=Task(
            kind="no_call",
            user_request="Without looking anything up: what is 48.85 plus 2.35?",
            user_values={"latitude": 48.85, "longitude": 2.35},
            answer=None,
            final_message="48.85 + 2.35 = 51.2.",
            writer="template",
        ),
        trace=Trace(steps=[]),
        tools=[COUNTRY_INFO, TIMEZONE_AT],
    )


def every_kind() -> list[Example]:
    """One example of each kind (two singles), in a fixed order."""
    return [paris_chain(), holidays_single(), miles_as_text(), parallel_pair(), multi_turn_ask(),
            error_recovery(), no_call_sum()]


def make_version(rows: int = 4, dataset: str = "geo") -> VersionInfo:
    return VersionInfo(
        dataset=dataset,
        version=3,
        version_id="3f1c0b5e2a9d4c7e8b6a5d4c3b2a1f0e",
        parent_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        created_at=dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC),
        row_count=rows,
        content_hash="9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
        run_id="run-1",
        message="hand-built examples",
        tags=["v1"],
    )

