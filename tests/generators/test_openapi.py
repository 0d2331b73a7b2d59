"""OpenAPIToolset against a real FastAPI app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI

from generators._base import CallOutcome
from generators._openapi import OpenAPIToolset
from schemas import ConfigError, SpecError, ToolsetUnreachable

from ._openapi_app import AUTH_HEADER, SECRET, create_app

ENV = "BACKCHAIN_TEST_SHOP_KEY"


class _Server:
    """uvicorn in a background thread on a socket we bound ourselves (no port race)."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        httpx.get(self.url + "/openapi.json").raise_for_status()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with _Server(create_app()) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _tools(toolset: OpenAPIToolset) -> list[dict[str, Any]]:
    async with toolset:
        return [t.model_dump() for t in await toolset.list_tools()]


def _call_all(toolset: OpenAPIToolset, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def run() -> list[Any]:
        async with toolset:
            return [await toolset.call(name, args) for name, args in calls]

    return asyncio.run(run())


def test_spec_from_url_and_from_local_yaml_give_the_same_tools(server: _Server, tmp_path: Path) -> None:
    from_url = OpenAPIToolset(server.url + "/openapi.json")
    url_tools = asyncio.run(_tools(from_url))
    doc = httpx.get(server.url + "/openapi.json").json()
    doc["servers"] = [{"url": server.url}]
    spec = tmp_path / "shop.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    from_file = OpenAPIToolset(spec)
    assert asyncio.run(_tools(from_file)) == url_tools
    assert from_url.name == from_file.name == "test-shop-api"
    assert from_url.version == from_file.version == "1.2.3"
    assert from_url.base_url == from_file.base_url == server.url


def test_tools_have_names_schemas_and_side_effects(server: _Server) -> None:
    tools = {t["name"]: t for t in asyncio.run(_tools(OpenAPIToolset(server.url + "/openapi.json")))}
    assert set(tools) == {
        "getItem", "searchItems", "createItem", "deleteItem", "whoami", "echoAuth", "getFile", "slow",
        "add_entry_lists__name__entries_post",  # FastAPI's generated operationId, kept as is
    }
    text = json.dumps(list(tools.values()))  # plain dicts: serialisable, no jsonref proxies
    assert "$ref" not in text
    get_item = tools["getItem"]
    assert get_item["description"] == "Get one item by id."
    assert get_item["input_schema"]["properties"]["item_id"]["type"] == "integer"
    assert get_item["input_schema"]["required"] == ["item_id"]
    assert get_item["input_schema"]["additionalProperties"] is False
    assert get_item["output_schema"]["title"] == "Item"
    search = tools["searchItems"]["input_schema"]
    assert set(search["properties"]) == {"tag", "limit"} and "required" not in search
    assert search["properties"]["tag"]["description"] == "Only items with this tag."
    # An object body with no colliding name is flattened into the arguments.
    create = tools["createItem"]["input_schema"]
    assert set(create["properties"]) == {"name", "price", "tags"}
    assert create["required"] == ["name", "price"]
    # The body has a `name` and so has the path: the body stays whole, under `body`.
    entry = tools["add_entry_lists__name__entries_post"]["input_schema"]
    assert set(entry["properties"]) == {"name", "body"}
    assert entry["required"] == ["name", "body"]
    assert entry["properties"]["body"]["required"] == ["name"]
    assert "x-request-id" in tools["whoami"]["input_schema"]["properties"]
    effects = {n: (t["side_effect"], t["side_effect_source"]) for n, t in tools.items()}
    assert effects["getItem"] == ("read", "http-method")
    assert effects["createItem"] == ("write", "http-method")
    assert effects["deleteItem"] == ("destructive", "http-method")


def test_real_calls_send_path_query_header_and_body(server: _Server) -> None:
    toolset = OpenAPIToolset(server.url + "/openapi.json")
    (created,) = _call_all(toolset, [("createItem", {"name": "cheese", "price": 7.5, "tags": ["dairy"]})])
    new_id = created.output["id"]
    fetched, found, who, entry, odd_path, deleted, gone = _call_all(
        toolset,  # a toolset can be entered again after it was closed
        [
            ("getItem", {"item_id": new_id}),
            ("searchItems", {"tag": "dairy", "limit": 5}),
            ("whoami", {"x-request-id": "req-42"}),
            ("add_entry_lists__name__entries_post", {"name": "weekly shop", "body": {"name": "milk", "qty": 2}}),
            ("getFile", {"file_path": "a b?c#d"}),
            ("deleteItem", {"item_id": new_id}),
            ("getItem", {"item_id": new_id}),
        ],
    )
    assert not created.is_error
    assert created.output == {"id": new_id, "name": "cheese", "price": 7.5, "tags": ["dairy"]}
    assert fetched.output == created.output
    assert found.output == [created.output]
    assert who.output["request_id"] == "req-42" and who.output["auth_present"] is False
    assert entry.output == {"list": "weekly shop", "entry": {"name": "milk", "qty": 2}}
    assert odd_path.output == {"file_path": "a b?c#d"}  # URL-encoded, not cut at ? or #
    assert deleted.output == {"deleted": new_id}
    assert gone.is_error and gone.error.startswith("HTTP 404 Not Found")


def test_http_errors_and_bad_calls_are_outcomes(server: _Server) -> None:
    missing, invalid, unknown_tool, unknown_arg, no_path = _call_all(
        OpenAPIToolset(server.url + "/openapi.json"),
        [
            ("getItem", {"item_id": 999}),
            ("createItem", {"name": "x", "price": -1}),
            ("noSuchTool", {}),
            ("getItem", {"item_id": 1, "colour": "red"}),
            ("getItem", {}),
        ],
    )
    assert missing.is_error and missing.output == {"detail": "item 999 not found"}
    assert missing.error == 'HTTP 404 Not Found: {"detail": "item 999 not found"}'
    assert invalid.is_error and invalid.error.startswith("HTTP 422")
    assert unknown_tool.is_error and "noSuchTool" in unknown_tool.error
    assert unknown_arg.is_error and "colour" in unknown_arg.error
    assert no_path.is_error and "item_id" in no_path.error


def test_auth_header_comes_from_env_and_the_secret_never_leaks(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    toolset = OpenAPIToolset(server.url + "/openapi.json", auth_headers={AUTH_HEADER: ENV})

    async def run() -> tuple[list[Any], list[Any]]:
        async with toolset:
            tools = await toolset.list_tools()
            outcomes = [
                await toolset.call("whoami", {}),
                await toolset.call("echoAuth", {}),
                await toolset.call("getItem", {"item_id": 12345}),
            ]
            return tools, outcomes

    tools, (who, echo, missing) = asyncio.run(run())
    assert who.output["auth_present"] is True and who.output["auth_ok"] is True
    assert echo.output == {"you_sent": "[REDACTED]", "note": "key=[REDACTED]"}  # echoed back, redacted
    with pytest.raises(ToolsetUnreachable) as unreachable:
        asyncio.run(_tools(OpenAPIToolset(
            server.url + "/openapi.json", base_url=f"http://127.0.0.1:{_free_port()}",
            auth_headers={AUTH_HEADER: ENV},
        )))
    texts = [repr(toolset), json.dumps([t.model_dump() for t in tools]), repr(who), repr(echo),
             repr(missing), str(unreachable.value), repr(unreachable.value)]
    assert not [t for t in texts if SECRET in t]

    monkeypatch.delenv(ENV)
    with pytest.raises(ConfigError, match=ENV):
        asyncio.run(_tools(OpenAPIToolset(server.url + "/openapi.json", auth_headers={AUTH_HEADER: ENV})))


def test_unreachable_base_url_raises_toolset_unreachable(server: _Server, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ToolsetUnreachable) as by_argument:
        asyncio.run(_tools(OpenAPIToolset(server.url + "/openapi.json", base_url=dead)))
    doc = httpx.get(server.url + "/openapi.json").json()
    spec = tmp_path / "dead.json"
    spec.write_text(json.dumps({**doc, "servers": [{"url": dead + "/v1"}]}))
    with pytest.raises(ToolsetUnreachable) as by_spec:
        asyncio.run(_tools(OpenAPIToolset(spec)))
    for exc, url in [(by_argument.value, dead), (by_spec.value, dead + "/v1")]:
        assert url in str(exc) and "\n" not in str(exc)


def test_a_call_that_cannot_connect_is_an_outcome_and_the_run_goes_on() -> None:
    with _Server(create_app()) as short_lived:
        toolset = OpenAPIToolset(short_lived.url + "/openapi.json", timeout=2.0)

        async def run() -> tuple[Any, Any]:
            async with toolset:
                ok = await toolset.call("getItem", {"item_id": 1})
                short_lived.__exit__()
                return ok, await toolset.call("getItem", {"item_id": 1})

        ok, failed = asyncio.run(run())
    assert not ok.is_error
    assert failed.is_error and failed.error.startswith("request failed: GET") and "ConnectError" in failed.error


def test_a_call_that_times_out_is_an_outcome_and_the_next_call_works(server: _Server) -> None:
    slow, fast = _call_all(
        OpenAPIToolset(server.url + "/openapi.json", timeout=0.2),
        [("slow", {"seconds": 1.0}), ("slow", {"seconds": 0.0})],
    )
    assert slow.is_error and slow.output is None
    assert slow.error.startswith(f"timed out after 0.2s: GET {server.url}/slow (ReadTimeout")
    assert fast == CallOutcome(output={"slept": 0.0})


def test_null_optional_parameters_are_left_out(server: _Server) -> None:
    (found,) = _call_all(
        OpenAPIToolset(server.url + "/openapi.json"), [("searchItems", {"tag": None, "limit": 1})]
    )
    assert not found.is_error and len(found.output) == 1  # not tag="None"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("\x00\x01 this: [is not: a spec", "neither JSON nor YAML"),
        ("just some words", "not a JSON/YAML object"),
        (json.dumps({"swagger": "2.0", "info": {"title": "old", "version": "1"}, "paths": {}}), "Swagger 2.0"),
        ("openapi: 2.5\ninfo: {title: x, version: '1'}\npaths: {}\n", "only OpenAPI 3.x"),
        ("info: {title: x}\npaths: {}\n", "no 'openapi' field"),
        ('{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": '
         '{"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}', "Unresolvable"),
    ],
)
def test_bad_specs_raise_one_line_spec_errors(tmp_path: Path, content: str, expected: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(content)
    with pytest.raises(SpecError) as error:
        asyncio.run(_tools(OpenAPIToolset(spec, base_url="http://127.0.0.1:9")))
    message = str(error.value)
    assert str(spec) in message and expected in message and "\n" not in message


def test_missing_spec_file_and_url_are_spec_errors(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        asyncio.run(_tools(OpenAPIToolset(tmp_path / "nope.json")))
    with pytest.raises(SpecError, match="HTTP 404"):
        asyncio.run(_tools(OpenAPIToolset(server.url + "/nope.json")))


def test_recursive_refs_unsupported_parts_and_long_names(server: _Server, tmp_path: Path) -> None:
    node = {"type": "object", "properties": {"label": {"type": "string"},
                                             "child": {"$ref": "#/components/schemas/Node"}}}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Odd Bits", "version": "0.1"},
        "servers": [{"url": "{root}/", "variables": {"root": {"default": server.url}}}],
        "components": {"schemas": {"Node": node}},
        "paths": {
            "/tree": {
                "post": {
                    "operationId": "plant tree / v2 " + "x" * 80,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Node"}}}},
                    "responses": {"200": {"description": "ok"}},
                },
                "put": {
                    "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "ok"}},
                },
                "get": {
                    "parameters": [{"name": "sid", "in": "cookie", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
    }
    spec = tmp_path / "odd.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    toolset = OpenAPIToolset(spec)
    tools = {t["name"]: t for t in asyncio.run(_tools(toolset))}
    assert toolset.name == "odd-bits" and toolset.base_url == server.url
    long_name = next(n for n in tools if n.startswith("plant_tree_v2_x"))
    assert len(long_name) == 64
    schema = tools[long_name]["input_schema"]
    assert set(schema["properties"]) == {"label", "child"}  # flattened
    assert schema["properties"]["child"] == {
        "type": "object", "description": "recursive reference to #/components/schemas/Node (not expanded)"}
    json.dumps(list(tools.values()))
    assert "get_tree" in tools and "put_tree" not in tools
    assert any("multipart/form-data" in s and "PUT /tree" in s for s in toolset.skipped)
    assert any("cookie parameter 'sid'" in s for s in toolset.skipped)


def test_backchain_run_on_an_openapi_spec_records_calls_and_skips_writes(
    server: _Server, tmp_path: Path, prefect_harness: None
) -> None:
    """The CLI path: --openapi replaces the embedded default; POST/DELETE are never called."""
    import json

    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    db = tmp_path / "api.duckdb"
    result = runner.invoke(app, [
        "run", "--openapi", f"{server.url}/openapi.json", "--no-model", "--examples", "3",
        "--value", "item_id=1", "--value", "tag=red", "--value", "file_path=a.txt", "--db", str(db),
    ])
    assert result.exit_code == 0, result.output
    assert "createItem" in result.output and "--allow-writes" in result.output  # skipped, with the flag to pass
    rows = runner.invoke(app, ["sql", "SELECT DISTINCT tool FROM observations", "--format", "json", "--db", str(db)])
    called = {r["tool"] for r in json.loads(rows.stdout)}
    assert "getItem" in called
    assert not called & {"createItem", "deleteItem"}


def test_backchain_run_with_a_bad_spec_is_one_line_and_writes_nothing(
    tmp_path: Path, prefect_harness: None
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: [this is: not valid\n", encoding="utf-8")
    db = tmp_path / "nothing.duckdb"
    result = CliRunner().invoke(app, ["run", "--openapi", str(spec), "--no-model", "--db", str(db)])
    assert result.exit_code == 1
    error_lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1 and "broken.yaml" in error_lines[0]
    assert "Traceback" not in result.output
    assert not db.exists()
