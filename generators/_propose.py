"""Argument values proposed by a model, for parameters nothing else can fill.

Off by default (`--propose-values`). A parameter with no seeded value, no
schema enum/default/example and nothing matching in the value pool would make
its tool wait forever; a model that reads the tool's description can suggest
realistic values ("a city name", "an ISO currency code"). Each proposal is
validated against the parameter's schema and recorded with how="llm", so the
task writer must state it in the request like any user-supplied value, and a
wrong guess simply produces a real error observation.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from schemas import ModelError, Tool

from ._llm import ChatClient

_SYSTEM = (
    "You suggest realistic argument values for calling a tool. Reply only with JSON: "
    '{"values": [...]} holding distinct values that match the parameter\'s JSON Schema.'
)


class ValueProposer:
    """Asks a model for up to n values of one parameter of one tool (once per parameter)."""

    def __init__(self, client: ChatClient, *, n: int = 3, max_tokens: int = 120) -> None:
        self.client = client
        self.n = n
        self.max_tokens = max_tokens
        self.asked = 0
        self.accepted = 0

    async def propose(self, tool: Tool, param: str, schema: dict[str, Any]) -> list[Any]:
        """Schema-valid proposals; [] when the model fails or suggests nothing usable."""
        item_schema = {k: v for k, v in schema.items() if k in ("type", "enum", "minimum", "maximum", "pattern", "format")}
        reply_schema = {
            "type": "object",
            "properties": {"values": {"type": "array", "items": item_schema or {}, "maxItems": self.n}},
            "required": ["values"],
        }
        prompt = (
            f"Tool: {tool.name}\nDescription: {tool.description}\nParameter: {param}\n"
            f"Parameter schema: {json.dumps(schema, ensure_ascii=False)}\n"
            f"Suggest up to {self.n} realistic values."
        )
        self.asked += 1
        try:
            reply = await self.client.chat(
                [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                max_tokens=self.max_tokens, temperature=0.0, json_schema=reply_schema,
            )
            values = json.loads(reply.text).get("values", [])
        except (ModelError, ValueError, AttributeError):
            return []
        validator = Draft202012Validator(schema)
        out: list[Any] = []
        for v in values if isinstance(values, list) else []:
            if validator.is_valid(v) and v not in out and v not in ("", None):
                out.append(v)
        self.accepted += len(out)
        return out
