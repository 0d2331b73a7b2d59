"""MCP over streamable HTTP against real server processes on 127.0.0.1.

The built-in toolset served with `python -m generators.builtin --http PORT`, and
a small server that refuses requests without an API key (auth header from an
env var, never stored, redacted when echoed).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generators import MCPHTTPToolset, MCPToolset
from schemas import ConfigError, ToolsetStartError, ToolsetUnreachable
from tests.conftest import BUILTIN_CMD

AUTH_SERVER = Path(__file__).parent / "servers" / "http_auth_server.py"
KEY = "mcp-http-key-7d41c0a9"
ENV = "BACKCHAIN_TEST_MCP_KEY"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a server process until its port accepts connections; yield its MCP URL."""
    import os

    proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not listen within 30 s") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def builtin_url() -> Iterator[str]:
    port = _free_port()
    yield from _serve([*BUILTIN_CMD, "--http", str(port)], port)


@pytest.fixture(scope="module")
def auth_url() -> Iterator[str]:
    port = _free_port()
    yield from _serve([sys.executable, str(AUTH_SERVER), str(port)], port, {"EXPECTED_KEY": KEY})


def test_builtin_over_http_matches_stdio(builtin_url: str) -> None:
    async def go() -> None:
        async with MCPHTTPToolset(builtin_url) as remote, MCPToolset(BUILTIN_CMD) as local:
            assert remote.name == local.name == "backchain-builtin"
            assert remote.version == local.version
            assert await remote.list_tools() == await local.list_tools()
            args = {"country": "Japan"}
            got, want = await remote.call("country_info", args), await local.call("country_info", args)
            assert not got.is_error and got.output == want.output and got.output["currency_code"] == "JPY"
            bad = await remote.call("country_info", {"country": "Atlantis"})
            assert bad.is_error and bad.error
            unknown = await remote.call("no_such_tool", {})
            assert unknown.is_error and "no_such_tool" in (unknown.error or "")
            # Concurrent calls share one HTTP session.
            many = await asyncio.gather(*(remote.call("currency_info", {"currency_code": c})
                                          for c in ("EUR", "USD", "JPY", "GBP")))
            assert [m.output["currency_code"] for m in many] == ["EUR", "USD", "JPY", "GBP"]

    asyncio.run(go())


def test_given_name_wins_over_the_servers(builtin_url: str) -> None:
    async def go() -> str:
        async with MCPHTTPToolset(builtin_url, name="remote-builtin") as ts:
            return {t.toolset for t in await ts.list_tools()}.pop()

    assert asyncio.run(go()) == "remote-builtin"


def test_auth_header_comes_from_env_and_is_redacted(auth_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)

    async def go() -> tuple[object, object, str]:
        async with MCPHTTPToolset(auth_url, auth_headers={"X-API-Key": ENV}) as ts:
            return await ts.call("whoami", {}), await ts.call("echo_key", {}), repr(ts)

    whoami, echoed, text = asyncio.run(go())
    assert whoami.output == {"auth_ok": True}  # type: ignore[attr-defined]
    assert echoed.output == {"you_sent": "[REDACTED]", "note": "key=[REDACTED]"}  # type: ignore[attr-defined]
    assert KEY not in text


def test_server_refusing_the_request_is_one_line_error(auth_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "wrong-key-0000")

    async def go() -> None:
        async with MCPHTTPToolset(auth_url, auth_headers={"X-API-Key": ENV}, start_timeout=10):
            pass

    with pytest.raises(ToolsetStartError) as info:
        asyncio.run(go())
    message = str(info.value)
    assert auth_url in message and "did not start" in message and "\n" not in message
    assert "wrong-key-0000" not in message


def test_missing_env_var_is_a_config_error(auth_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)

    async def go() -> None:
        async with MCPHTTPToolset(auth_url, auth_headers={"X-API-Key": ENV}):
            pass

    with pytest.raises(ConfigError, match=ENV):
        asyncio.run(go())


def test_nothing_listening_is_unreachable() -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp"

    async def go() -> None:
        async with MCPHTTPToolset(url, start_timeout=10):
            pass

    t0 = time.monotonic()
    with pytest.raises(ToolsetUnreachable) as info:
        asyncio.run(go())
    assert url in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - t0 < 10


def test_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http://"):
        MCPHTTPToolset("ftp://example.org/mcp")
