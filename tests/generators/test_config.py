"""Config files naming many toolsets, each with its own limits, values and overrides.

Parsing is tested on real TOML and YAML files; opening is tested on real
servers (the built-in MCP server over stdio and over streamable HTTP).
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from flows import _stages
from flows._config import RunConfig, ToolsetConfig, build_config
from flows._generate import _open_configured, _open_toolsets, _stage_config, _toolset_values
from generators import LimitedToolset, PythonToolset, select_tools
from schemas import ConfigError, ToolsetError
from tests.conftest import BUILTIN_CMD, TIME_CMD

from .test_streamable_http import _free_port, _serve

TOML = """
dataset = "multi"
concurrency = 3
call_timeout = 20

[values]
country = ["France"]

[[toolsets]]
mcp = "python -m generators.builtin"
name = "local"
concurrency = 2
rate_limit = 120
timeout = 5
side_effects = { country_info = "write" }
allow = ["country_info"]
values = { currency_code = ["EUR", "JPY"], country = "Japan" }

[[toolsets]]
url = "http://127.0.0.1:8000/mcp"
auth_headers = { Authorization = "REMOTE_TOKEN" }

[[toolsets]]
openapi = "specs/shop.yaml"
base_url = "http://127.0.0.1:9000"
auth_headers = { "X-API-Key" = "SHOP_KEY" }
"""

YAML = """
dataset: multi
concurrency: 3
call_timeout: 20
values:
  country: [France]
toolsets:
  - mcp: python -m generators.builtin
    name: local
    concurrency: 2
    rate_limit: 120
    timeout: 5
    side_effects: {country_info: write}
    allow: [country_info]
    values: {currency_code: [EUR, JPY], country: Japan}
  - url: http://127.0.0.1:8000/mcp
    auth_headers: {Authorization: REMOTE_TOKEN}
  - openapi: specs/shop.yaml
    base_url: http://127.0.0.1:9000
    auth_headers: {X-API-Key: SHOP_KEY}
"""


@pytest.mark.parametrize("suffix,text", [(".toml", TOML), (".yaml", YAML), (".yml", YAML)])
def test_toml_and_yaml_name_the_same_toolsets(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    config = build_config(path, {})
    local, remote, shop = config.toolset_entries()
    assert (local.kind, remote.kind, shop.kind) == ("mcp", "url", "openapi")
    assert local.name == "local" and local.concurrency == 2 and local.rate_limit == 120 and local.timeout == 5
    assert local.side_effects == {"country_info": "write"} and local.allow == ["country_info"]
    assert local.values == {"currency_code": ["EUR", "JPY"], "country": ["Japan"]}  # a scalar is a list of one
    assert remote.auth_headers == {"Authorization": "REMOTE_TOKEN"} and remote.concurrency is None
    assert shop.base_url == "http://127.0.0.1:9000"
    # Env var names are stored, never values.
    assert config.redacted()["toolsets"][2]["auth_headers"] == {"X-API-Key": "SHOP_KEY"}
    assert not config.uses_embedded_toolsets


def test_legacy_keys_and_flags_become_entries(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('mcp = ["python -m mcp_server_time"]\n[[openapi]]\nspec = "a.json"\nname = "a"\n'
                    '[[toolsets]]\nurl = "http://127.0.0.1:1/mcp"\n')
    config = build_config(path, {"toolsets": [{"url": "http://127.0.0.1:2/mcp"}]})
    entries = config.toolset_entries()
    assert [(e.kind, e.mcp or e.url or e.openapi) for e in entries] == [
        ("mcp", "python -m mcp_server_time"), ("openapi", "a.json"),
        ("url", "http://127.0.0.1:1/mcp"), ("url", "http://127.0.0.1:2/mcp"),
    ]
    assert entries[1].name == "a"
    embedded = RunConfig().toolset_entries()
    assert [e.mcp for e in embedded] == [BUILTIN_CMD, TIME_CMD]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("tolsets = []", "unknown key 'tolsets'; did you mean 'toolsets'?"),
        ('[[toolsets]]\nmcp = "x"\nconcurency = 2', "unknown key 'toolsets.0.concurency'; did you mean 'concurrency'?"),
        ('[[toolsets]]\nmcp = "x"\n[toolsets.limits]\nrpm = 3', "unknown key 'toolsets.0.limits'"),
        ('[[toolsets]]\nname = "x"', "toolsets.0: a toolset needs exactly one of mcp, url or openapi (got none)"),
        ('[[toolsets]]\nmcp = "x"\nurl = "http://h/mcp"', "exactly one of mcp, url or openapi (got mcp and url)"),
        ('[[toolsets]]\nurl = "h/mcp"', "url 'h/mcp' must start with http:// or https://"),
        ('[[toolsets]]\nmcp = "x"\nbase_url = "http://h"', "base_url applies only to an openapi toolset"),
        ('[[toolsets]]\nmcp = "x"\nauth_headers = {A = "B"}', "auth_headers apply to url and openapi toolsets"),
        ('[[toolsets]]\nmcp = "  "', "mcp is empty"),
        ('[[toolsets]]\nmcp = "x"\nrate_limit = 0', "toolsets.0.rate_limit: Input should be greater than 0"),
        ('[[toolsets]]\nmcp = "x"\nside_effects = {t = "safe"}', "toolsets.0.side_effects.t: Input should be"),
    ],
)
def test_config_errors_are_one_line_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        build_config(path, {})
    message = str(info.value)
    assert message.startswith(f"config {path}: ") and expected in message and "\n" not in message


def test_unknown_key_in_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("toolsets:\n  - url: http://h/mcp\n    header: {A: B}\n")
    with pytest.raises(ConfigError, match=rf"config {path}: unknown key 'toolsets.0.header'; did you mean"):
        build_config(path, {})


def test_open_wraps_every_toolset_with_its_limits() -> None:
    port = _free_port()
    server = _serve([*BUILTIN_CMD, "--http", str(port)], port)
    url = next(server)
    try:
        config = RunConfig(
            concurrency=3, call_timeout=20, max_calls=10, allow=["convert_time"],
            toolsets=[
                ToolsetConfig(mcp=BUILTIN_CMD, name="local", concurrency=2, rate_limit=120, timeout=5,
                              side_effects={"country_info": "write"}, allow=["country_info"]),
                ToolsetConfig(url=url, name="remote", concurrency=6),
                ToolsetConfig(mcp=TIME_CMD, values={"time": ["09:30"]}),
            ],
        )

        async def go() -> tuple[dict[str, Any], RunConfig, dict[str, Any], list[str]]:
            async with AsyncExitStack() as stack:
                opened = await _open_configured(config, stack)
                limited = {ts.name: ts for _, ts in opened}
                assert all(isinstance(ts, LimitedToolset) for ts in limited.values())
                limits = {n: (ts.concurrency, ts.rate_limit_per_min, ts.timeout) for n, ts in limited.items()}
                stage = _stage_config(config, opened)
                catalog = await _stages.list_tools(limited, stage)
                skipped = sorted(f"{s.toolset}.{s.tool}" for s in catalog.skipped)
                return limits, stage, _toolset_values(config, opened), skipped

        limits, stage, values, skipped = asyncio.run(go())
    finally:
        server.close()
    assert limits == {"local": (2, 120, 5), "remote": (6, None, 20), "mcp-time": (3, None, 20)}
    assert stage.concurrency == 6
    # Backstop, the widest of: local 5 s * (1 + 10 calls / 2) + 10 calls at 2 a second = 35,
    # remote 20 s * (1 + ceil(10 / 6)) = 60, mcp-time 20 s * (1 + ceil(10 / 3)) = 100.
    assert stage.call_timeout == pytest.approx(100.0)
    assert stage.allow == ["convert_time", "local.country_info"]
    assert values == {"mcp-time": {"time": ["09:30"]}}
    # country_info is write by override but allowed for `local`; `remote`'s stays read.
    assert skipped == []
    assert config.allow == ["convert_time"] and config.call_timeout == 20  # the stored config is the user's


def test_two_toolsets_with_one_name_are_refused() -> None:
    config = RunConfig(toolsets=[ToolsetConfig(mcp=BUILTIN_CMD), ToolsetConfig(mcp=BUILTIN_CMD)])

    async def go() -> None:
        async with AsyncExitStack() as stack:
            await _open_toolsets(config, stack)

    with pytest.raises(ToolsetError, match="two toolsets are named 'backchain-builtin'"):
        asyncio.run(go())


def test_toolset_values_reach_only_that_toolsets_tools() -> None:
    def lookup(code: str) -> dict[str, str]:
        """Look a code up."""
        return {"seen": code}

    toolsets = {
        name: LimitedToolset(PythonToolset([lookup], name=name, side_effects={"lookup": "read"}))
        for name in ("alpha", "beta")
    }
    config = RunConfig(max_calls=20, rounds=2, values={"code": ["G1"]})

    async def go() -> dict[str, set[str]]:
        tools = [t for ts in toolsets.values() for t in await ts.list_tools()]
        allowed, skipped = select_tools(tools)
        catalog = _stages.ToolCatalog(tools, allowed, skipped)
        calls = (await _stages.explore(toolsets, catalog, config, config.values,
                                       toolset_values={"alpha": {"code": ["A1", "A2", "G1"]}})).calls
        seen: dict[str, set[str]] = {}
        for c in calls:
            seen.setdefault(c.observation.toolset, set()).add(c.observation.arguments["code"])
        return seen

    seen = asyncio.run(go())
    assert seen["alpha"] == {"G1", "A1", "A2"}
    assert seen["beta"] == {"G1"}


def test_cli_flag_adds_an_http_toolset(tmp_path: Path) -> None:
    config = build_config(None, {"toolsets": [{"url": "http://127.0.0.1:5/mcp"}], "mcp": [f"{sys.executable} -m x"]})
    assert [e.kind for e in config.toolset_entries()] == ["mcp", "url"]
