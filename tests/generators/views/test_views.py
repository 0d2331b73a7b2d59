"""Output views (issue 17): parsers on outputs captured from real MCP servers, malformed inputs,
re-derivation by parser id.

The fixtures (fixtures/<package>.json) are raw results that capture_fixtures.py recorded from the
real third-party servers of ../shared/MCP_SERVERS.md. They are parser inputs, not stand-ins for
the servers. Outputs of random tools (dice, fake data, random ids) are checked by invariants that
hold for any capture (the total is the sum of the kept dice plus the modifier; the CSV rows are
what the csv module reads from the same text), fixed outputs by their values.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

import generators.views as views
from generators import resolve_pointer
from generators.views import (
    PARSER_VERSIONS,
    ParserDeclined,
    UnknownParser,
    View,
    ViewError,
    _derive,
    _registry,
    derive_view,
    rederive_view,
)
from schemas import BackchainError

FIXTURES = Path(__file__).parent / "fixtures"


def _calls(package: str) -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / f"{package}.json").read_text(encoding="utf-8"))
    return [call for launch in data["launches"] for call in launch["calls"]]


def _call(package: str, tool: str, n: int = 0) -> dict[str, Any]:
    return [c for c in _calls(package) if c["tool"] == tool][n]


def _text(call: dict[str, Any]) -> Any:
    """The raw text output as derive_view takes it: one string, or a list for several blocks."""
    texts = [block["text"] for block in call["content"] if block["type"] == "text"]
    return texts[0] if len(texts) == 1 else texts


def _all_raws() -> list[tuple[str, Any]]:
    raws = []
    for path in sorted(FIXTURES.glob("*.json")):
        for i, call in enumerate(_calls(path.stem)):
            if "content" not in call:
                continue
            raws.append((f"{path.stem}:{i}:{call['tool']}:text", _text(call)))
            if call["structured_content"] is not None:
                raws.append((f"{path.stem}:{i}:{call['tool']}:structured", call["structured_content"]))
    return raws


ALL_RAWS = _all_raws()


def at(view: View, pointer: str) -> Any:
    """What the pipeline's own RFC 6901 resolver finds at ``pointer`` in a view."""
    return resolve_pointer(view.value, pointer)


# --- fixtures from real servers, one format each ---------------------------------------------


def test_the_fixtures_cover_every_captured_server() -> None:
    packages = {p.stem for p in FIXTURES.glob("*.json")}
    assert {"eggcalc", "nwtools-mcp", "calcnook-mcp", "gnomon-mcp", "emojifyi", "fakedata-mcp", "mcpzoo-prime",
            "electronics-mcp-servers", "alevlas-random-mcp", "mcp-dice-roller", "mcp-server-time",
            "mcp-server-bmi-calculator", "mcp-server-duckdb"} <= packages
    assert len(ALL_RAWS) > 80


def test_markdown_table_rows_by_header_in_text_and_structured_content() -> None:
    call = _call("emojifyi", "emoji_search")
    view = derive_view(_text(call))
    assert view.parser == "markdown-table/1"
    assert at(view, "/columns") == ["Emoji", "Name", "Category"]
    assert at(view, "/rows/1/Name") == "smiling face with heart-eyes"
    assert at(view, "/rows/1/Emoji") == "😍"
    assert at(view, "/text") == "## Search: heart (4 results)"
    structured = derive_view(call["structured_content"])  # {"result": "<the same markdown>"}
    assert structured.parser == "json/1>markdown-table/1"
    assert at(structured, "/result/rows/1/Name") == "smiling face with heart-eyes"


def test_markdown_table_cells_lose_markup_and_are_typed() -> None:
    view = derive_view(_text(_call("emojifyi", "emoji_lookup")))
    by_property = {row["Property"]: row["Value"] for row in at(view, "/rows")}
    assert by_property["Slug"] == "grinning-face"  # `grinning-face` in the table
    assert by_property["Codepoint"] == "U+1F600"
    assert by_property["Added Year"] == 2015
    assert by_property["Emoji Version"] == 1.0
    footer = derive_view(_text(_call("emojifyi", "emoji_by_category")))
    assert at(footer, "/rows/3/Name") == "beaming face with smiling eyes"
    assert at(footer, "/text").endswith("*... and 165 more*")


def test_key_value_lines_in_chinese() -> None:
    view = derive_view(_text(_call("mcpzoo-prime", "check_prime", 0)))
    assert view.parser == "kv/1"
    assert view.value == {"数值": 360, "是否素数": "否", "质因数分解": "2 * 2 * 2 * 3 * 3 * 5"}
    assert at(view, "/数值") == 360
    prime = derive_view(_text(_call("mcpzoo-prime", "check_prime", 1)))
    assert at(prime, "/质因数分解") == 97
    assert prime.looks_like_error is None


def test_json_text_with_random_dice_by_invariant() -> None:
    view = derive_view(_text(_call("mcp-dice-roller", "roll_dice", 0)))
    assert view.parser == "json/1"
    assert at(view, "/notation") == "2d6+3"
    assert at(view, "/total") == sum(at(view, "/kept")) + at(view, "/modifier")
    assert at(view, "/modifier") == 3 and len(at(view, "/rolls")) == 2


def test_one_text_block_per_list_item() -> None:
    view = derive_view(_text(_call("gnomon-mcp", "calendar", 0)))
    assert view.parser == "blocks/1>scalar/1"
    assert view.value == [60.0, "2024-02-29T00:00:00", "Thursday"]
    assert at(view, "/2") == "Thursday"
    calc = derive_view(_text(_call("gnomon-mcp", "calc")))
    assert calc.value == [212.0, 5.0, 1.4142135623730951]
    json_blocks = derive_view(_text(_call("mcp-server-spreadsheet", "sql_query")))
    assert json_blocks.parser == "blocks/1>json/1"
    assert at(json_blocks, "/1/total") == 830.0


def test_bare_scalars() -> None:
    number = derive_view(_text(_call("gnomon-mcp", "calc_convert")))
    assert number.parser == "scalar/1"
    assert number.value == {"value": 211.99999999999991, "kind": "number"}
    uuid = derive_view(_text(_call("alevlas-random-mcp", "generate_uuid", 0)))
    assert at(uuid, "/kind") == "uuid" and at(uuid, "/value") == _text(_call("alevlas-random-mcp", "generate_uuid", 0))
    integer = derive_view(_text(_call("alevlas-random-mcp", "generate_random_int", 0)))
    assert at(integer, "/kind") == "number" and 1 <= at(integer, "/value") <= 10
    assert derive_view("true").value == {"value": True, "kind": "boolean"}
    assert derive_view("2024-02-29").value == {"value": "2024-02-29", "kind": "date"}
    assert derive_view("  212.0\n").value == {"value": 212.0, "kind": "number"}
    assert derive_view("10,048.31").value == {"value": 10048.31, "kind": "number"}
    assert derive_view("007").value == {"value": "007", "kind": "string"}


def test_csv_inside_a_json_string_inside_structured_content() -> None:
    call = _call("fakedata-mcp", "generate_dataset", 0)
    text_view = derive_view(_text(call))
    assert text_view.parser == "json/1>csv/1"
    data = json.loads(_text(call))["data"]
    expected = list(csv.DictReader(io.StringIO(data)))  # the csv module's own reading, as strings
    assert at(text_view, "/data/columns") == ["id", "name", "signup"]
    rows = at(text_view, "/data/rows")
    assert len(rows) == 4 == at(text_view, "/rows")
    assert [r["name"] for r in rows] == [e["name"] for e in expected]
    assert [r["id"] for r in rows] == [int(e["id"]) for e in expected]
    assert at(text_view, "/data/rows/2/signup") == expected[2]["signup"]
    structured = derive_view(call["structured_content"])  # {"result": "<JSON text with the CSV inside>"}
    assert structured.parser == "json/1>json/1+csv/1"
    assert at(structured, "/result") == text_view.value


def test_json_inside_a_string_agrees_with_the_text() -> None:
    for tool in ("list_tables", "list_columns", "execute_query"):
        call = _call("mcp-server-motherduck", tool)
        structured = derive_view(call["structured_content"])
        assert structured.parser == "json/1>json/1"
        assert at(structured, "/result") == derive_view(_text(call)).value
    query = derive_view(_text(_call("mcp-server-motherduck", "execute_query")))
    assert at(query, "/rows/0") == ["Berlin", 3878100]


def test_envelope_in_text_and_inner_object_in_structured_content() -> None:
    call = _call("eggcalc", "unit_convert")
    assert at(derive_view(_text(call)), "/result") == derive_view(call["structured_content"]).value
    assert at(derive_view(call["structured_content"]), "/to_unit") == "mi"


def test_python_repr_rows() -> None:
    view = derive_view(_text(_call("mcp-server-duckdb", "query", 0)))
    assert view.parser == "pyliteral/1"
    assert at(view, "/3/1") == "Zürich"
    assert at(view, "/0") == [1, "Paris", "FR", 2102650]
    assert derive_view(_text(_call("mcp-server-duckdb", "query", 1))).value == [[4, 6924878]]


def test_markdown_bold_labels_and_what_they_own() -> None:
    decoded = derive_view(_text(_call("electronics-mcp-servers", "decode_resistor_color_bands", 0)))
    assert decoded.parser == "md-fields/1"
    assert at(decoded, "/Color Bands") == "Yellow, Violet, Red, Gold"
    assert at(decoded, "/Resistance") == "4.7kΩ ±5.0%"
    assert at(decoded, "/_text") == "🔴 Resistor Decoded"
    encoded = derive_view(_text(_call("electronics-mcp-servers", "encode_resistor_value")))
    assert at(encoded, "/Color Bands/Band 1 (Digit)") == "Yellow (4)"
    standard = derive_view(_text(_call("electronics-mcp-servers", "find_standard_resistor")))
    assert at(standard, "/Nearby Standard Values/2") == "5.1kΩ (+2.00%) ← Best"
    assert at(standard, "/Color Code for 5.1kΩ") == "Green, Brown, Red, Gold"
    rc = derive_view(_text(_call("electronics-mcp-servers", "calculate_rc_time_constant")))
    assert at(rc, "/Input/Capacitance") == "1µF"
    assert at(rc, "/Time Constant/τ (tau)") == "10.000ms"
    structured = derive_view(_call("electronics-mcp-servers", "decode_resistor_color_bands", 0)["structured_content"])
    assert at(structured, "/result/Color Bands") == "Yellow, Violet, Red, Gold"


def test_json_values_stay_as_they_are() -> None:
    view = derive_view(_text(_call("nwtools-mcp", "find_gaps")))
    assert at(view, "/gaps/0") == "10.0.0.64/26"
    assert derive_view(_call("mcp-server-spreadsheet", "read_sheet")["structured_content"]).value == {
        "result": [["region", "quarter", "revenue", "closed"], ["North", "Q1", 1200.5, "true"],
                   ["South", "Q1", 830, "false"], ["North", "Q2", 1410.25, "true"]]}
    bmi = derive_view(_text(_call("mcp-server-bmi-calculator", "calculate_bmi", 0)))
    assert at(bmi, "/bmi") == 22.9 and at(bmi, "/health_status") == "体重正常"


# --- failures that the server did not flag ----------------------------------------------------

# (package, tool, n): the calls captured to fail, whatever their is_error said.
FAILING = {
    ("alevlas-random-mcp", "generate_random_int", 1), ("alevlas-random-mcp", "generate_uuid", 1),
    ("calcnook-mcp", "calculate_retirement", 0), ("mcp-dice-roller", "roll_dice", 1),
    ("emojifyi", "emoji_lookup", 1), ("fakedata-mcp", "generate_dataset", 2), ("mcpzoo-prime", "check_prime", 2),
    ("electronics-mcp-servers", "decode_resistor_color_bands", 1), ("gnomon-mcp", "calendar", 1),
    ("mcp-server-duckdb", "query", 3), ("mcp-server-motherduck", "execute_query", 1),
    ("mcp-server-time", "convert_time", 1), ("nwtools-mcp", "parse_cidr", 1),
}


def _numbered_calls() -> list[tuple[str, str, int, dict[str, Any]]]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        seen: dict[str, int] = {}
        for call in _calls(path.stem):
            n = seen.get(call["tool"], 0)
            seen[call["tool"]] = n + 1
            if "content" in call:
                out.append((path.stem, call["tool"], n, call))
    return out


@pytest.mark.parametrize(("package", "tool", "n", "call"), _numbered_calls(), ids=lambda v: v if isinstance(v, str | int) else "")
def test_looks_like_error_on_every_captured_call(package: str, tool: str, n: int, call: dict[str, Any]) -> None:
    view = derive_view(_text(call))
    if (package, tool, n) in FAILING:
        assert view.looks_like_error, f"{package} {tool} #{n}: {_text(call)!r}"
        if call["structured_content"] is not None:
            assert derive_view(call["structured_content"]).looks_like_error
    else:
        assert view.looks_like_error is None, f"{package} {tool} #{n}: {view.looks_like_error}"


def test_failure_reasons_name_what_was_seen() -> None:
    assert derive_view('{"error": "\'annual_expense\'"}').looks_like_error == "'error' field: 'annual_expense'"
    assert derive_view("Invalid arguments: x").looks_like_error == "starts with 'Invalid'"
    assert derive_view("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: no").looks_like_error == "Python traceback"
    assert derive_view({"ok": False, "tool": "t"}).looks_like_error == "'ok' is false"
    assert derive_view("Emoji not found: x").looks_like_error == "says 'not found'"
    # Not failures: a table with an error column, a field named like a failure word in a longer list.
    assert derive_view("name,error rate\nA,0.1\nB,0.2").looks_like_error is None
    assert derive_view("Missing values: 3\nRows: 10\nColumns: 4").looks_like_error is None
    assert derive_view({"error": None, "result": 5}).looks_like_error is None
    assert derive_view("Standard error: 0.52").looks_like_error is None
    assert derive_view("Unknown").looks_like_error is None  # a one-word answer
    assert derive_view("Error").looks_like_error == "starts with 'Error'"
    assert derive_view("Database error: table t does not exist").looks_like_error == "starts with 'Database error'"


# --- each parser on made inputs ---------------------------------------------------------------


def test_ascii_box_and_aligned_tables() -> None:
    grid = "+----+-------+\n| id | city  |\n+====+=======+\n| 1  | Paris |\n+----+-------+\n| 2  | Lyon  |\n+----+-------+\n(2 rows)"
    view = derive_view(grid)
    assert view.parser == "ascii-table/1"
    assert view.value == {"columns": ["id", "city"], "rows": [{"id": 1, "city": "Paris"}, {"id": 2, "city": "Lyon"}], "text": "(2 rows)"}
    box = "        Cities\n┏━━━━┳━━━━━━━━┓\n┃ id ┃ city   ┃\n┡━━━━╇━━━━━━━━┩\n│ 1  │ Paris  │\n│ 2  │ Lyon   │\n└────┴────────┘"
    assert at(derive_view(box), "/rows/1/city") == "Lyon"
    psql = " id | city\n----+-------\n  1 | Paris\n  2 | Lyon\n(2 rows)"
    assert at(derive_view(psql), "/rows/0/city") == "Paris"
    aligned = "name      age  city\n--------  ---  --------\nAlice      30  Paris\nBob        25  New York"
    assert at(derive_view(aligned), "/rows/1/city") == "New York"


def test_csv_and_tsv() -> None:
    view = derive_view("city,country,population\nParis,FR,2102650\nLyon,FR,522250\nBerlin,DE,3878100")
    assert view.parser == "csv/1"
    assert at(view, "/rows/2/city") == "Berlin" and at(view, "/rows/2/population") == 3878100
    tsv = derive_view("city\tcountry\nParis\tFR\nLyon\tFR")
    assert tsv.parser == "csv/1" and at(tsv, "/rows/1/country") == "FR"
    quoted = derive_view('name,note\n"Smith, Ann","says ""hi"""\nBob,\n')
    assert quoted.value["rows"] == [{"name": "Smith, Ann", "note": 'says "hi"'}, {"name": "Bob", "note": None}]


def test_lists() -> None:
    view = derive_view("Available categories:\n- smileys-and-emotion\n- people-and-body\n- 42")
    assert view.value == {"items": ["smileys-and-emotion", "people-and-body", 42], "title": "Available categories:"}
    numbered = derive_view("1. First\n2. Second\n   goes on\n3. Third\n   - sub a\n   - sub b")
    assert numbered.value == {"items": ["First", "Second goes on", {"text": "Third", "items": ["sub a", "sub b"]}]}


def test_unified_diff() -> None:
    diff = (
        "diff --git a/app/config.py b/app/config.py\nindex 83db48f..bf269f4 100644\n--- a/app/config.py\n+++ b/app/config.py\n"
        "@@ -1,4 +1,5 @@ settings\n import os\n-DEBUG = True\n+DEBUG = False\n+LOG_LEVEL = \"info\"\n PORT = 8080\n HOST = \"x\"\n"
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n"
    )
    view = derive_view(diff)
    assert view.parser == "diff/1"
    assert at(view, "/files/0/path") == "app/config.py"
    assert at(view, "/files/0/hunks/0/added") == ["DEBUG = False", 'LOG_LEVEL = "info"']
    assert at(view, "/files/0/hunks/0/removed") == ["DEBUG = True"]
    assert at(view, "/files/0/hunks/0/section") == "settings"
    assert at(view, "/files/1") == {"path": "new.txt", "old_path": None, "new_path": "new.txt", "added": 1, "removed": 0,
                                    "hunks": [{"old_start": 0, "old_lines": 0, "new_start": 1, "new_lines": 1,
                                               "section": "", "added": ["hello"], "removed": []}]}


def test_key_value_nesting_and_equals() -> None:
    view = derive_view("server:\n  host: example.com\n  port: 8080\n  tags:\n    - a\n    - b\nenabled = true\nratio = 0.5")
    assert view.parser == "kv/1"
    assert view.value == {"server": {"host": "example.com", "port": 8080, "tags": ["a", "b"]}, "enabled": True, "ratio": 0.5}
    repeated = derive_view("tag: a\ntag: b\nname: x")
    assert repeated.value == {"tag": ["a", "b"], "name": "x"}


def test_python_literals_json_lines_and_fenced_json() -> None:
    view = derive_view("{'a': 1, 'b': (2, 3), 'c': {2, 1}, 'd': None, 'e': b'hi', 1: True, 'f': float('nan') if False else 1.5}")
    assert view.parser != "pyliteral/1"  # a call is not a literal: never evaluated
    literal = derive_view("{'a': 1, 'b': (2, 3), 'c': {2, 1}, 'd': None, 'e': b'hi', 1: True}")
    assert literal.parser == "pyliteral/1"
    assert literal.value == {"a": 1, "b": [2, 3], "c": [1, 2], "d": None, "e": "hi", "1": True}
    assert derive_view('{"a": 1}\n{"a": 2}\n').value == [{"a": 1}, {"a": 2}]
    assert derive_view("```json\n{\"a\": [1, 2]}\n```").value == {"a": [1, 2]}
    assert derive_view('"plain string"').value == {"value": "plain string", "kind": "string"}


def test_spans_in_prose() -> None:
    text = ("Water boils at 212.0 °F (100 °C); order ord_123 shipped 2024-02-29 for $10,048.31, "
            "see /tmp/out.csv, hash 9f86d08, id 0ebba8a9-94aa-474b-98fa-936ebc8cd84e, code 'grinning-face'.")
    view = derive_view(text)
    assert view.parser == "text-spans/1"
    spans = at(view, "/spans")
    by_kind = {(s["kind"], s["text"]): s for s in spans}
    assert at(view, "/spans/0") == {"kind": "number", "text": "212.0 °F", "value": 212.0, "start": 15, "end": 23, "unit": "°F"}
    assert by_kind[("number", "100 °C")]["value"] == 100
    assert by_kind[("id", "ord_123")]["value"] == "ord_123"
    assert by_kind[("date", "2024-02-29")]["value"] == "2024-02-29"
    assert by_kind[("money", "$10,048.31")]["value"] == 10048.31
    assert by_kind[("path", "/tmp/out.csv")]
    assert by_kind[("hash", "9f86d08")]
    assert by_kind[("uuid", "0ebba8a9-94aa-474b-98fa-936ebc8cd84e")]
    assert by_kind[("slug", "grinning-face")]  # the quoted token, typed as what it is
    for span in spans:
        assert text[span["start"]:span["end"]] == span["text"]
    written = derive_view("Due on February 29, 2024 at 14:30, 3rd try, 2d6 roll, 5 in a row, 30 km/h").value["spans"]
    assert [(s["kind"], s["value"], s.get("unit")) for s in written] == [
        ("date", "2024-02-29", None), ("time", "14:30", None), ("number", 5, None), ("number", 30, "km/h")]


# --- false positives: structure is required ---------------------------------------------------


@pytest.mark.parametrize("text", [
    "The server restarted: all good.",
    "a, b",
    "Hello, world\nfoo, bar",
    "Roses are red, violets blue\nSugar is sweet, and so are you",
    "- only one item",
    "Note: one field only",
    "x | y",
    "Some text\n-----\nMore text",
    "We found 3 issues. Fix them, then run again: it should pass.\nThanks, the team",
])
def test_prose_is_not_a_table(text: str) -> None:
    assert derive_view(text).parser == "text-spans/1"


# --- malformed inputs: every parser declines without raising ----------------------------------

MALFORMED = {
    "truncated json": '{"a": [1, 2, {"b": ',
    "truncated literal": "[(1, 'Paris'), (2, 'Ly",
    "unbalanced fence": "```json\n{\"a\": 1}\n",
    "ragged csv": "a,b,c\n1,2\n3,4,5,6",
    "ragged grid": "+---+---+\n| a | b |\n+---+---+\n| 1 | 2 | 3 |\n+---+---+",
    "grid without header rule": "| a | b |\n| 1 | 2 |",
    "hunk shorter than its header": "--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n-a\n+b\n",
    "binary garbage": bytes(random.Random(7).randrange(256) for _ in range(3000)).decode("latin-1"),
    "nul bytes": "\x00\x01\x02" * 100,
    "deep json text": "[" * 50_000 + "]" * 50_000,
    "deep literal text": "(" * 5_000 + ")" * 5_000,
    "huge int literal": "[" + "9" * 100_000 + "]",
    "lone surrogates": "\ud800\udfff\ud801" * 200,
}
STRUCTURAL = [p for p in _registry.PARSERS if p.name not in ("scalar", "text-spans")]


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_every_parser_declines_malformed_input_without_raising(name: str) -> None:
    text = MALFORMED[name]
    accepted = {}
    for parser in _registry.PARSERS:
        value = parser.parse(text)  # called directly: no safety net around it
        if value is not None and parser in STRUCTURAL:
            accepted[parser.id] = value
    assert accepted == {}
    view = derive_view(text)
    assert view.parser in ("text-spans/1", "scalar/1")
    assert not [note for note in view.notes if "failed" in note]  # no parser needed the safety net


def test_huge_outputs_are_bounded() -> None:
    text = "word 12.5 kg " * 200_000  # 2.6 MB
    view = derive_view(text)
    assert view.parser == "text-spans/1"
    assert len(view.value["spans"]) == 256
    assert any("spans cover the first" in note for note in view.notes)
    big_json = json.dumps({"rows": [{"id": i, "name": f"n{i}"} for i in range(50_000)]})
    assert at(derive_view(big_json), "/rows/49999/name") == "n49999"


def test_deeply_nested_values_do_not_overflow() -> None:
    nested: Any = "x"
    for _ in range(5_000):
        nested = [nested]
    view = derive_view({"a": nested})
    assert view.parser == "json/1" and view.notes == ()
    text = json.dumps({"k": [1]})
    for _ in range(5):  # JSON in a string in a string ... five strings deep
        text = json.dumps({"k": text})
    deep = derive_view(text)
    assert deep.parser == "json/1>json/1"
    # Expansion stops 4 strings deep: the fifth JSON stays a string.
    assert at(deep, "/k/k/k/k") == {"k": json.dumps({"k": [1]})}


@pytest.mark.parametrize("raw", [None, "", "   \n", [], ["", " "]])
def test_empty_outputs(raw: Any) -> None:
    assert derive_view(raw) == View(value=None, parser="empty/1")


def test_odd_raw_types_never_raise() -> None:
    assert derive_view(b"12").value == {"value": 12, "kind": "number"}
    assert derive_view((1, 2)).value == [1, 2]
    assert derive_view(object()).parser in ("scalar/1", "text-spans/1")
    assert derive_view(7).value == {"value": 7, "kind": "number"}


# --- re-deriving with the recorded parser id --------------------------------------------------

ROUND_TRIP = [*ALL_RAWS, *((f"malformed:{k}", v) for k, v in MALFORMED.items()),
              ("spans", "Paid $5 on 2024-02-29"), ("empty", ""), ("diff", "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n")]


@pytest.mark.parametrize(("name", "raw"), ROUND_TRIP, ids=[name for name, _ in ROUND_TRIP])
def test_rederive_with_the_recorded_parser_reproduces_the_view(name: str, raw: Any) -> None:
    view = derive_view(raw)
    assert not [note for note in view.notes if "failed" in note]
    assert rederive_view(raw, view.parser) == view


def test_rederive_keeps_old_versions_when_a_parser_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {"data": "id,name\n1,Ada\n2,Bob"}
    old = derive_view(raw)
    assert old.parser == "json/1>csv/1"

    def csv_v2(text: str) -> Any:  # a new version with a different shape
        table = _registry.parse_csv(text)
        return None if table is None else {"records": table["rows"]}

    v2 = _registry.Parser("csv", 2, 70, csv_v2)
    monkeypatch.setitem(_registry.REGISTRY, ("csv", 2), v2)
    monkeypatch.setattr(_derive, "CURRENT", tuple(v2 if p.name == "csv" else p for p in _derive.CURRENT))
    new = derive_view(raw)
    assert new.parser == "json/1>csv/2" and at(new, "/data/records/1/name") == "Bob"
    assert rederive_view(raw, old.parser) == old  # the recorded version still makes the old view


@pytest.mark.parametrize(("parser_id", "says"), [
    ("csv/99", "unknown output parser csv/99"),
    ("json/1>csv/7", "known versions: csv/1"),
    ("nosuch/1", "no parser of that name"),
    ("json", "malformed parser id 'json'"),
    ("json/1>", "malformed parser id"),
    ("", "malformed parser id"),
])
def test_unknown_parser_ids_raise_one_line(parser_id: str, says: str) -> None:
    with pytest.raises(UnknownParser) as info:
        rederive_view("a,b\n1,2", parser_id)
    message = str(info.value)
    assert says in message and "\n" not in message
    assert isinstance(info.value, ViewError) and isinstance(info.value, BackchainError)


@pytest.mark.parametrize(("raw", "parser_id"), [
    ("hello world", "scalar/1"),
    ({"a": 1}, "csv/1"),
    ("one block", "blocks/1>scalar/1"),
    ("x", "empty/1"),
    ("", "json/1"),
    ("{not json", "json/1"),
])
def test_a_recorded_parser_that_no_longer_fits_declines_loudly(raw: Any, parser_id: str) -> None:
    with pytest.raises(ParserDeclined) as info:
        rederive_view(raw, parser_id)
    assert "\n" not in str(info.value)


def test_parser_versions_and_exports() -> None:
    assert PARSER_VERSIONS["json"] == 1 and PARSER_VERSIONS["text-spans"] == 1 and PARSER_VERSIONS["blocks"] == 1
    assert set(PARSER_VERSIONS) == {p.name for p in _registry.PARSERS} | {"empty", "blocks"}
    assert views.__all__ == sorted(views.__all__)
    for name in views.__all__:
        assert getattr(views, name) is not None


def test_nested_strings_need_stricter_structure_than_whole_outputs() -> None:
    code = "import os\nx = 1\ny = 2"
    assert derive_view(code).parser == "kv/1"  # a whole output: a title line, then fields
    view = derive_view({"path": "a.py", "content": code})
    assert view.parser == "json/1" and at(view, "/content") == code  # file content stays a string
    assert at(derive_view({"config": "x = 1\ny = 2"}), "/config/y") == 2
    assert at(derive_view({"note": "Paris"}), "/note") == "Paris"
