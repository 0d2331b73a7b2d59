"""A real MCP server whose answers depend only on the arguments, and which logs every execution.

Run as ``python atlas_server.py LOG``. Each call appends one JSON line
``{"tool": ..., "arguments": ...}`` to LOG *before* answering, so a test can
count from outside the process exactly which calls were executed, including
one in flight when the client was killed. Each call then sleeps the seconds
written in ``LOG.delay`` (read per call, none if the file is absent), so a test
can slow one run down without changing the server's command, which is part of
every call's cache key. The tools chain: list_cities gives city
names, city_info gives coordinates, forecast takes them; an unknown city is a
real tool error (the material of error_recovery tasks). Every call request is
logged before the server looks at it, so one the server rejects (a typo, a
required argument left out) is logged too: it was executed as far as the
client can tell.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field


class LoggingServer(MCPServer):
    """Logs (and delays) every tools/call request before the server validates its arguments."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        await _executed(name, dict(arguments))
        return await super().call_tool(name, arguments, context)


server = LoggingServer("atlas-fixture", version="1.0")
READ = ToolAnnotations(read_only_hint=True)

CITIES: dict[str, list[tuple[str, float, float, int]]] = {
    "France": [("Paris", 48.8566, 2.3522, 2102650), ("Lyon", 45.764, 4.8357, 522250),
               ("Nantes", 47.2184, -1.5536, 320730)],
    "Japan": [("Tokyo", 35.6762, 139.6503, 13960000), ("Osaka", 34.6937, 135.5023, 2750000),
              ("Sapporo", 43.0618, 141.3545, 1970000)],
    "Peru": [("Lima", -12.0464, -77.0428, 9750000), ("Cusco", -13.532, -71.9675, 428450),
             ("Arequipa", -16.409, -71.5375, 1008290)],
}
BY_NAME = {name: (country, lat, lon, pop) for country, rows in CITIES.items() for name, lat, lon, pop in rows}


async def _executed(tool: str, arguments: dict[str, object]) -> None:
    log = Path(sys.argv[1])
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"tool": tool, "arguments": arguments}, sort_keys=True) + "\n")
    delay = log.with_name(log.name + ".delay")
    await asyncio.sleep(float(delay.read_text()) if delay.exists() else 0.0)


@server.tool(annotations=READ)
async def list_cities(country: Annotated[str, Field(examples=sorted(CITIES))]) -> dict[str, object]:
    """The largest cities of a country."""
    if country not in CITIES:
        raise ValueError(f"unknown country {country!r}")
    return {"country": country, "cities": [{"city": name} for name, *_ in CITIES[country]]}


@server.tool(annotations=READ)
async def city_info(city: str) -> dict[str, object]:
    """Coordinates and population of a city."""
    if city not in BY_NAME:
        raise ValueError(f"unknown city {city!r}")
    country, lat, lon, pop = BY_NAME[city]
    return {"city": city, "country_name": country, "latitude": lat, "longitude": lon, "population": pop}


@server.tool(annotations=READ)
async def forecast(latitude: float, longitude: float) -> dict[str, object]:
    """Tomorrow's forecast at a place (a pure function of the coordinates)."""
    temp = round(20 - abs(latitude) / 3 + (longitude % 7), 1)
    return {"temperature_c": temp, "summary": "rain" if int(abs(latitude * 10)) % 3 == 0 else "sun"}


if __name__ == "__main__":
    server.run("stdio")
