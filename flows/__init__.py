"""Flows: the Prefect flow that wires the stages together, and the CLI. Nothing imports flows/.

The public names load on first use (PEP 562), so the console script can print
its first line before the pipeline's imports (Prefect, the MCP SDK, DuckDB) are paid.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._prefect_env import configure_prefect_env, home_dir

configure_prefect_env()

if TYPE_CHECKING:
    from ._config import EndpointConfig, OpenAPISource, RunConfig
    from ._generate import generate_flow, run_pipeline
    from ._report import Reporter, render_summary
    from ._summary import RunSummary

_LAZY = {
    "EndpointConfig": "._config", "OpenAPISource": "._config", "RunConfig": "._config",
    "RunSummary": "._summary", "generate_flow": "._generate", "run_pipeline": "._generate",
    "Reporter": "._report", "render_summary": "._report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flows' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "EndpointConfig",
    "OpenAPISource",
    "Reporter",
    "RunConfig",
    "RunSummary",
    "configure_prefect_env",
    "generate_flow",
    "home_dir",
    "render_summary",
    "run_pipeline",
]
