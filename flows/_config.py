"""Run configuration: one model for the config file, the CLI flags and the flow parameters.

A config file (TOML or YAML) and flags merge into one `RunConfig`; flags win.
Unknown keys are errors, so a typo fails instead of being ignored. Secrets are
never part of it: endpoints and OpenAPI auth name environment variables.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from generators import DEFAULT_MIX, KINDS
from schemas import ConfigError

DATASET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointConfig(_Model):
    """An OpenAI-compatible server: base URL (…/v1) and model name."""

    url: str = Field(description="Base URL, e.g. http://127.0.0.1:8000/v1")
    model: str
    api_key_env: str | None = Field(default=None, description="Env var holding the API key.")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"endpoint URL {v!r} must start with http:// or https://")
        return v.rstrip("/")


class OpenAPISource(_Model):
    spec: str = Field(description="Path or URL of an OpenAPI 3 document (JSON or YAML).")
    base_url: str | None = None
    name: str | None = None
    auth_headers: dict[str, str] = Field(
        default_factory=dict, description="Header name -> env var holding its value."
    )


class RunConfig(_Model):
    """Everything one `backchain run` needs."""

    dataset: str = Field(default="default", pattern=DATASET_PATTERN)
    examples: int = Field(default=12, gt=0, le=100_000, description="Traces to write tasks for.")
    seed: int = 0
    mcp: list[str] = Field(default_factory=list, description="MCP server commands (stdio).")
    openapi: list[OpenAPISource] = Field(default_factory=list)
    values: dict[str, list[Any]] = Field(default_factory=dict, description="Seeded user values.")
    allow_writes: bool = False
    allow: list[str] = Field(default_factory=list, description="Tools allowed whatever their class.")
    llm: EndpointConfig | None = None
    judge: EndpointConfig | None = None
    no_model: bool = Field(
        default=False, description="No model at all: template writer only, judge leaves skipped."
    )
    rubric: str = "default"
    max_calls: int = Field(default=120, gt=0)
    rounds: int = Field(default=4, gt=0)
    max_steps: int = Field(default=4, gt=0, le=10)
    concurrency: int = Field(default=4, gt=0, le=256)
    call_timeout: float = Field(default=30.0, gt=0)
    message: str = ""
    kinds: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_MIX), description="Weight of each task kind in the mix."
    )
    variants: int = Field(default=1, gt=0, le=16, description="LLM phrasings per draft (deduplicated).")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown task kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("kind weights must be >= 0 and at least one > 0")
        return v

    @property
    def uses_embedded_toolsets(self) -> bool:
        return not self.mcp and not self.openapi

    def redacted(self) -> dict[str, Any]:
        """The config as stored with the run (it holds env var names, never secrets)."""
        return self.model_dump(mode="json")


def embedded_mcp_commands() -> list[list[str]]:
    """The embedded default: our built-in toolset and mcp-server-time, as real processes."""
    return [
        [sys.executable, "-m", "generators.builtin"],
        [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"],
    ]


# Values a user of the embedded default would naturally supply and no schema offers.
EMBEDDED_VALUES: dict[str, list[Any]] = {"time": ["09:30", "14:00", "18:45"]}


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config {path}: does not parse: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: top level must be a mapping")
    return data


def parse_value_flags(flags: list[str]) -> dict[str, list[Any]]:
    """--value NAME=VALUE (repeatable). A VALUE that is a JSON number stays a number."""
    values: dict[str, list[Any]] = {}
    for flag in flags:
        name, sep, raw = flag.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--value {flag!r}: expected NAME=VALUE")
        value: Any = raw
        try:
            number = float(raw)
            value = int(number) if raw.lstrip("-").isdigit() else number
        except ValueError:
            pass
        values.setdefault(name.strip(), []).append(value)
    return values


def parse_kinds_flag(text: str | None) -> dict[str, float] | None:
    """--kinds 'multi_step=3,parallel=1' -> {"multi_step": 3.0, "parallel": 1.0}; other kinds get 0."""
    if not text:
        return None
    mix: dict[str, float] = {k: 0.0 for k in KINDS}
    for part in text.split(","):
        name, sep, weight = part.strip().partition("=")
        try:
            mix[name.strip()] = float(weight) if sep else 1.0
        except ValueError as exc:
            raise ConfigError(f"--kinds {text!r}: weight of {name.strip()!r} is not a number") from exc
    return mix


def endpoint_from(url: str | None, model: str | None, what: str, env_prefix: str) -> EndpointConfig | None:
    url = url or os.environ.get(f"{env_prefix}_URL")
    model = model or os.environ.get(f"{env_prefix}_MODEL")
    if not url and not model:
        return None
    if not url or not model:
        flag = what.lower()
        raise ConfigError(f"--{flag}-url and --{flag}-model go together (or {env_prefix}_URL and {env_prefix}_MODEL)")
    return EndpointConfig(url=url, model=model, api_key_env=os.environ.get(f"{env_prefix}_API_KEY_ENV"))


def build_config(file: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Merge a config file with flag overrides (flags given win) and validate."""
    data = load_config_file(file) if file else {}
    for key, value in overrides.items():
        if value is None or value == [] or value == {}:
            continue
        if key == "values":
            merged = dict(data.get("values") or {})
            merged.update(value)
            value = merged
        data[key] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        source = f"config {file}" if file else "options"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from exc
