"""PythonToolset: schemas from signatures, validation, errors and side effects."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from generators._base import CallOutcome
from generators._python import PythonToolset
from schemas import ConfigError


class Point(BaseModel):
    x: int
    y: int = 0


def convert(
    amount: Annotated[float, Field(description="How much, in the source unit.", gt=0)],
    unit: str = "km",
    *,
    precision: int = Field(2, ge=0, description="Digits after the point."),
) -> float:
    """Convert a distance to miles.

    A second paragraph that is not part of the description.
    """
    factor = {"km": 0.621371, "m": 0.000621371}[unit]
    return round(amount * factor, precision)


async def shift(p: Point, by: int = 1, json: str = "x") -> dict[str, Any]:
    """Move a point right; `json` is a parameter name that BaseModel also has."""
    await asyncio.sleep(0)
    return {"point": Point(x=p.x + by, y=p.y), "when": dt.date(2024, 1, 2), "json": json}


def divide(a: int, b: int, /) -> float:
    """Divide a by b."""
    return a / b


def opaque() -> object:
    return object()


def _call(toolset: PythonToolset, tool: str, arguments: dict[str, Any]) -> CallOutcome:
    return asyncio.run(toolset.call(tool, arguments))


def test_schema_comes_from_the_signature() -> None:
    toolset = PythonToolset([convert, shift, divide], name="units")
    tools = {t.name: t for t in asyncio.run(toolset.list_tools())}
    assert list(tools) == ["convert", "shift", "divide"]
    conv = tools["convert"]
    assert conv.toolset == "units"
    assert conv.description == "Convert a distance to miles."
    assert conv.input_schema == {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "exclusiveMinimum": 0, "description": "How much, in the source unit."},
            "unit": {"type": "string", "default": "km"},
            "precision": {"type": "integer", "minimum": 0, "default": 2, "description": "Digits after the point."},
        },
        "required": ["amount"],
        "additionalProperties": False,
    }
    assert conv.output_schema == {"type": "number"}
    sh = tools["shift"].input_schema
    assert set(sh["properties"]) == {"p", "by", "json"} and sh["required"] == ["p"]
    assert sh["$defs"]["Point"]["required"] == ["x"]
    assert tools["divide"].input_schema["required"] == ["a", "b"]
    json.dumps([t.model_dump() for t in tools.values()])


def test_sync_and_async_functions_are_called_with_validated_arguments() -> None:
    toolset = PythonToolset([convert, shift, divide])
    # A bare value is its view {"value", "kind"} (pointer /value), the value itself kept as raw.
    assert _call(toolset, "convert", {"amount": 10, "precision": 1}) == CallOutcome(
        output={"value": 6.2, "kind": "number"}, raw={"structured": 6.2}, parser="json/1")
    assert _call(toolset, "convert", {"amount": "5", "unit": "m"}).output["value"] == 0.0  # "5" coerced
    shifted = _call(toolset, "shift", {"p": {"x": 1, "y": 2}, "by": 3, "json": "yes"})
    assert shifted == CallOutcome(output={"point": {"x": 4, "y": 2}, "when": "2024-01-02", "json": "yes"})
    assert _call(toolset, "divide", {"a": 7, "b": 2}).output["value"] == 3.5  # positional-only


def test_invalid_arguments_are_error_outcomes_and_the_function_is_not_called() -> None:
    calls: list[int] = []

    def record(n: int) -> int:
        calls.append(n)
        return n

    toolset = PythonToolset([convert, record])
    bad = _call(toolset, "convert", {"amount": -1, "colour": "red"})
    assert bad.is_error and bad.output is None
    assert bad.error is not None and bad.error.startswith("convert: invalid arguments: ")
    assert "amount: Input should be greater than 0" in bad.error and "colour: Extra inputs" in bad.error
    assert _call(toolset, "record", {}).error == "record: invalid arguments: n: Field required"
    assert _call(toolset, "record", {"n": "many"}).is_error
    assert calls == []
    unknown = _call(toolset, "nope", {})
    assert unknown.is_error and "'nope'" in (unknown.error or "")


def test_exceptions_and_unserialisable_results_are_error_outcomes() -> None:
    async def fails_async() -> None:
        raise RuntimeError("backend down")

    def fails_quietly() -> None:
        raise KeyError

    toolset = PythonToolset([convert, divide, fails_async, fails_quietly, opaque])
    assert _call(toolset, "divide", {"a": 1, "b": 0}) == CallOutcome(
        is_error=True, error="ZeroDivisionError: division by zero"
    )
    assert _call(toolset, "convert", {"amount": 1, "unit": "mi"}).error == "KeyError: 'mi'"
    assert _call(toolset, "fails_async", {}).error == "RuntimeError: backend down"
    assert _call(toolset, "fails_quietly", {}).error == "KeyError: (no message)"
    opaque_out = _call(toolset, "opaque", {})
    assert opaque_out.is_error and "not JSON-serialisable" in (opaque_out.error or "")


def test_functions_are_destructive_unless_declared() -> None:
    toolset = PythonToolset(
        {"to_miles": convert, "move": shift, "div": divide},
        side_effects={"to_miles": "read", "move": "write"},
    )
    effects = {t.name: (t.side_effect, t.side_effect_source) for t in asyncio.run(toolset.list_tools())}
    assert effects == {
        "to_miles": ("read", "override"),
        "move": ("write", "override"),
        "div": ("destructive", "python-default"),
    }
    lenient = PythonToolset([divide], default_side_effect="read")
    assert [(t.side_effect, t.side_effect_source) for t in asyncio.run(lenient.list_tools())] == [
        ("read", "python-default")
    ]


def test_sync_functions_run_on_the_callers_thread() -> None:
    conn = sqlite3.connect(":memory:")  # sqlite3 refuses use from another thread
    conn.execute("CREATE TABLE t (v INTEGER)")
    conn.execute("INSERT INTO t VALUES (41)")

    def lookup() -> int:
        return int(conn.execute("SELECT v + 1 FROM t").fetchone()[0])

    try:
        assert _call(PythonToolset([lookup]), "lookup", {}).output["value"] == 42
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"functions": [lambda x: x]}, "pass a mapping"),
        ({"functions": [divide, divide]}, "duplicate tool name"),
        ({"functions": {"has space": divide}}, "must match"),
        ({"functions": [divide], "side_effects": {"divde": "read"}}, "unknown tool(s) divde"),
        ({"functions": [divide], "side_effects": {"divide": "readonly"}}, "'readonly'"),
        ({"functions": {"f": 42}}, "not callable"),
    ],
)
def test_bad_configuration_raises_config_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        PythonToolset(**kwargs)
    assert message in str(error.value)


def test_a_parameter_without_a_json_schema_is_a_config_error() -> None:
    def takes_socket(conn: sqlite3.Connection) -> None:
        """Not something a model can pass."""

    with pytest.raises(ConfigError, match="takes_socket"):
        PythonToolset([takes_socket])
