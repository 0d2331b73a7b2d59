"""Arguments for any schema, and the likely-read-only hint for tools without annotations.

Pure logic over schemas and names (no server needed); `backchain tools --mcp` runs a real server.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from flows.cli import app
from generators import readonly_hint, select_tools
from generators._arguments import fill_hint, schema_values
from schemas import Tool

MESSY = Path(__file__).parent / "servers" / "messy_server.py"


def _values(name: str, schema: dict[str, Any], description: str = "", sole: bool = False) -> list[Any]:
    found = schema_values(name, schema, description, sole=sole)
    assert all(Draft202012Validator(schema).is_valid(v) for v, _ in found)  # every candidate fits
    return [v for v, _ in found]


def test_composite_schemas_are_built_from_their_parts() -> None:
    numbers = _values("values", {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3})
    assert numbers and all(2 <= len(v) <= 3 for v in numbers)
    cidrs = _values("used_cidrs", {"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    assert cidrs[0][0] == "10.0.0.0/24" and len(set(cidrs[0])) == len(cidrs[0])
    point = _values("point", {"type": "object", "required": ["latitude", "longitude"], "properties": {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90}, "longitude": {"type": "number"}}})
    assert point and set(point[0]) == {"latitude", "longitude"}
    tz = _values("tz", {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None})
    assert "Europe/Paris" in tz
    bounded = _values("level", {"type": "integer", "minimum": 1, "maximum": 9})
    assert bounded[0] == 5 and 1 in bounded and 9 in bounded
    assert _values("when", {"type": "string", "format": "date"}) == ["2024-06-21"]
    assert _values("mail", {"type": "string", "format": "email"})[0] == "ada@example.com"
    assert _values("years", {"type": "integer", "minimum": 1})[0] == 10  # a duration, not a year
    assert _values("sql", {"type": "string"}) == []  # a statement is the user's to give


def test_examples_come_from_descriptions() -> None:
    rate = {"type": "number", "description": "Decimal annual interest rate, e.g. 0.07 for 7%."}
    assert _values("annual_rate", rate)[0] == 0.07
    doc = "Roll dice.\n\n    Args:\n        notation: Dice notation. Examples:\n            - '2d6' - two dice\n"
    assert _values("notation", {"type": "string"}, doc)[:1] == ["2d6"]
    bands = {"type": "string", "description": "First band: Black, Brown, Red, Orange, Yellow"}
    assert _values("band1", bands)[:3] == ["Black", "Brown", "Red"]
    rates = _values("rates", {"type": "object"}, "Convert with rates={'USD': 1.0, 'INR': 83.5}.")
    assert rates == [{"USD": 1.0, "INR": 83.5}]
    assert _values("order_id", {"type": "string"}, "Get one order by its id, e.g. ord-1001.", sole=True) == ["ord-1001"]
    assert fill_hint("amount", {"type": "number"}) == "--value amount=100"


def _tool(name: str, description: str, source: str = "mcp-default") -> Tool:
    return Tool(toolset="t", name=name, description=description, input_schema={"type": "object"},
                side_effect="destructive" if source == "mcp-default" else "read", side_effect_source=source)


def test_likely_read_only_is_read_from_names_and_descriptions() -> None:
    hints = {name: readonly_hint(name, text) for name, text in [
        ("get_order", "Get one order."), ("list_sheets", "List the sheets."), ("calculate_vat", ""),
        ("emoji_categories", "List all emoji categories."), ("roll_dnd_stats", "Roll a set of stats."),
        ("write_cell", "Write a value."), ("delete_rows", ""), ("notes", "Update a note."),
        ("get_and_delete", "Read it."), ("report", "Builds a report and deletes the old ones."),
        ("now", "Current moment as dict."), ("send_mail", "Sends a message.")]}
    assert [n for n, h in hints.items() if h.likely_readonly] == [
        "get_order", "list_sheets", "calculate_vat", "emoji_categories", "roll_dnd_stats"]
    assert [n for n, h in hints.items() if h.likely_writes] == [
        "write_cell", "delete_rows", "notes", "get_and_delete", "report", "send_mail"]
    assert hints["get_order"].why == "its name says 'get'" and not hints["now"].likely_writes


def test_allow_likely_readonly_never_admits_a_write() -> None:
    tools = [_tool("get_order", "Get one order."), _tool("delete_order", "Delete an order."),
             _tool("now", "Current moment."), _tool("read_note", "Read a note.", source="annotations")]
    plain, skipped = select_tools(tools)
    assert [t.name for t in plain] == ["read_note"]
    assert "--allow-likely-readonly" in next(s.reason for s in skipped if s.tool == "get_order")
    hinted, skipped = select_tools(tools, allow_likely_readonly=True)
    assert [t.name for t in hinted] == ["get_order", "read_note"]
    assert {s.tool for s in skipped} == {"delete_order", "now"}


def test_tools_mcp_shows_classes_hints_and_flag_lines() -> None:
    command = f"{sys.executable} {MESSY}"
    result = CliRunner().invoke(app, ["tools", "--mcp", command, "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    shown = json.loads(result.output)
    rows = {r["tool"]: r for r in shown["tools"]}
    assert rows["get_order"]["class"] == "destructive" and rows["get_order"]["called"] == "with --allow-likely-readonly"
    assert rows["get_order"]["hint"] == "likely read-only: its name says 'get'"
    assert "--allow-likely-readonly" in shown["flags"][0] and "--allow get_order" in shown["flags"][1]
    table = CliRunner().invoke(app, ["tools", "--mcp", command])
    assert table.exit_code == 0 and "Flags:" in table.output and "no annotations" in table.output
