"""Flows: the Prefect flow that wires the stages together, and the CLI. Nothing imports flows/."""

from ._prefect_env import configure_prefect_env, home_dir

configure_prefect_env()

from ._config import EndpointConfig, OpenAPISource, RunConfig  # noqa: E402
from ._generate import RunSummary, generate_flow, run_pipeline  # noqa: E402
from ._report import Reporter, render_summary  # noqa: E402

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
