"""Generators: toolsets, exploration, chains and back-chaining. They return records; they never open the database."""

from ._base import CallOutcome, Toolset
from ._side_effects import classify_http, classify_mcp

__all__ = ["CallOutcome", "Toolset", "classify_http", "classify_mcp"]
