"""Run configuration: one model for the config file, the CLI flags and the flow parameters.

A config file (TOML or YAML) and flags merge into one `RunConfig`; flags win.
Unknown keys are errors, so a typo fails instead of being ignored. Secrets are
never part of it: endpoints and auth headers name environment variables.

Toolsets: ``toolsets`` is a list of `ToolsetConfig` entries, each with exactly
one of ``mcp`` (a stdio command), ``url`` (an MCP server over streamable HTTP)
or ``openapi`` (a spec), and its own limits (concurrency, timeout, requests per
minute), seeded values, side-effect overrides and allowed tools. The older
top-level ``mcp`` and ``openapi`` keys (and the ``--mcp``/``--openapi`` flags)
stay: `RunConfig.toolset_entries` turns them into entries with the run's
defaults, so everything downstream sees one list.
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from generators import DEFAULT_MIX, KINDS
from schemas import ConfigError, SideEffect

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


class JudgeEndpointConfig(EndpointConfig):
    """The judge's server, and more replicas of the same model used round-robin."""

    replicas: list[str] = Field(
        default_factory=list, description="More base URLs serving the same model; requests go round-robin."
    )

    @field_validator("replicas")
    @classmethod
    def _http_all(cls, v: list[str]) -> list[str]:
        return [EndpointConfig._http(u) for u in v]

    @property
    def urls(self) -> list[str]:
        return [self.url, *(u for u in self.replicas if u != self.url)]


class OpenAPISource(_Model):
    spec: str = Field(description="Path or URL of an OpenAPI 3 document (JSON or YAML).")
    base_url: str | None = None
    name: str | None = None
    auth_headers: dict[str, str] = Field(
        default_factory=dict, description="Header name -> env var holding its value."
    )


def _as_lists(values: Any) -> Any:
    """``{name: value}`` or ``{name: [values]}``: a single seeded value is a list of one."""
    if isinstance(values, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in values.items()}
    return values


class ToolsetConfig(_Model):
    """One toolset and its own limits: exactly one of ``mcp``, ``url`` or ``openapi``."""

    name: str | None = Field(default=None, description="Name in stored rows (default: the server's or spec's).")
    mcp: str | list[str] | None = Field(default=None, description="MCP server command (stdio): a string or argv list.")
    url: str | None = Field(default=None, description="MCP server URL (streamable HTTP), e.g. http://host:8000/mcp.")
    openapi: str | None = Field(default=None, description="Path or URL of an OpenAPI 3 document (JSON or YAML).")
    base_url: str | None = Field(default=None, description="openapi only: the API's base URL, if not the spec's.")
    auth_headers: dict[str, str] = Field(
        default_factory=dict, description="url and openapi: header name -> env var holding its value."
    )
    concurrency: int | None = Field(default=None, gt=0, le=256, description="Calls in flight at once (default: the run's).")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per call (default: the run's call_timeout).")
    rate_limit: float | None = Field(default=None, gt=0, description="Requests per minute, evenly spaced.")
    values: dict[str, list[Any]] = Field(
        default_factory=dict, description="Seeded values for this toolset's tools only, added to the run's."
    )
    side_effects: dict[str, SideEffect] = Field(
        default_factory=dict, description="Tool name -> read, write or destructive (overrides the toolset's)."
    )
    allow: list[str] = Field(default_factory=list, description="Tools of this toolset to call whatever their class.")

    _normalise_values = field_validator("values", mode="before")(_as_lists)

    @model_validator(mode="after")
    def _one_source(self) -> ToolsetConfig:
        given = [key for key in ("mcp", "url", "openapi") if getattr(self, key) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(f"a toolset needs exactly one of mcp, url or openapi ({got})")
        if self.mcp is not None and not (self.mcp.strip() if isinstance(self.mcp, str) else self.mcp):
            raise ValueError("mcp is empty; give the server command, e.g. 'python -m my_server'")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        if self.base_url is not None and self.openapi is None:
            raise ValueError("base_url applies only to an openapi toolset")
        if self.auth_headers and self.mcp is not None:
            raise ValueError("auth_headers apply to url and openapi toolsets, not to a stdio mcp command")
        return self

    @property
    def kind(self) -> str:
        """'mcp' (stdio), 'url' (streamable HTTP) or 'openapi'."""
        return "mcp" if self.mcp is not None else "url" if self.url is not None else "openapi"


class RunConfig(_Model):
    """Everything one `backchain run` needs."""

    dataset: str = Field(default="default", pattern=DATASET_PATTERN)
    examples: int = Field(default=12, gt=0, le=100_000, description="Traces to write tasks for.")
    seed: int = 0
    mcp: list[str] = Field(default_factory=list, description="MCP server commands (stdio).")
    openapi: list[OpenAPISource] = Field(default_factory=list)
    toolsets: list[ToolsetConfig] = Field(
        default_factory=list, description="Toolsets with their own limits, values and overrides."
    )
    values: dict[str, list[Any]] = Field(default_factory=dict, description="Seeded user values.")
    allow_writes: bool = False
    allow: list[str] = Field(default_factory=list, description="Tools allowed whatever their class.")
    allow_likely_readonly: bool = Field(
        default=False,
        description="Also call MCP tools without annotations whose name and description read as read-only "
        "(see `backchain tools --mcp CMD`); one that reads as a write is never called on this hint.",
    )
    llm: EndpointConfig | None = None
    judge: JudgeEndpointConfig | None = None
    judge_concurrency: int = Field(default=4, gt=0, le=256, description="Judge requests in flight per judge URL.")
    judge_rate_limit: float | None = Field(
        default=None, gt=0, description="Judge requests per minute per judge URL, evenly spaced (retries count)."
    )
    llm_concurrency: int | None = Field(
        default=None, gt=0, le=256, description="Writer requests in flight (default: concurrency)."
    )
    llm_rate_limit: float | None = Field(
        default=None, gt=0, description="Writer requests per minute, evenly spaced (retries count)."
    )
    max_error_rate: float = Field(
        default=0.5, ge=0, le=1,
        description="Circuit breaker: stop the run when more than this share of the last error_window "
        "calls to one toolset or model endpoint failed (no answer, timeout, 5xx, 429 after retries); "
        "1 turns it off.",
    )
    error_window: int = Field(default=20, gt=0, le=10_000, description="Circuit breaker: calls per source it looks back on.")
    error_min_calls: int = Field(
        default=10, gt=0, le=10_000, description="Circuit breaker: calls to a source before it may open."
    )
    model_timeout: float | None = Field(
        default=None, gt=0,
        description="Seconds one model request may take (default: 120 for an endpoint you name; 900 for the "
        "bundled model, which answers one request at a time on the CPU).",
    )
    min_coverage: float = Field(
        default=0.5, ge=0, le=1,
        description="A judge leaf whose yes+no probability mass is below this is asked again as a "
        "constrained yes/no, three samples, majority wins.",
    )
    no_model: bool = Field(
        default=False, description="No model at all: template writer only, judge leaves skipped."
    )
    local_model: str | None = Field(
        default=None,
        description="The bundled model started when no endpoint is named: tiny (SmolLM2-135M, plumbing), "
        "small (Qwen2.5-Coder-0.5B), base (Qwen2.5-Coder-1.5B), or a .gguf path "
        "(default: $BACKCHAIN_LOCAL_MODEL, else base).",
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
    propose_values: bool = Field(
        default=False, description="Ask the writer model for values of parameters nothing else fills."
    )
    dedup_threshold: float = Field(
        default=0.92, ge=0, le=1,
        description="Cosine similarity at which two requests with the same user values are near "
        "duplicates (the later one is stored as rejected); 0 turns dedup off.",
    )
    refresh: bool = Field(
        default=False,
        description="Read no cached tool call or model reply (every call is made again); "
        "the new results are still recorded and replace the cached ones.",
    )

    task_runner: Literal["local", "dask"] = Field(
        default="local",
        description="Where the model-bound stages (back-chain writing, judging) run: 'local' in the "
        "flow's process; 'dask' in batches on Dask workers (a LocalCluster, or dask_address).",
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler of a running Dask cluster (tcp://host:8786); default: a LocalCluster."
    )
    dask_workers: int = Field(default=2, gt=0, le=1024, description="LocalCluster worker processes.")
    batch_size: int = Field(
        default=32, gt=0, le=100_000, description="Drafts or examples per batch on a scale-out task runner."
    )
    scratch_dir: str | None = Field(
        default=None,
        description="Where batches read the model-reply cache snapshot; must be readable by every worker "
        "(default: a directory beside the database).",
    )

    @model_validator(mode="after")
    def _breaker_can_open(self) -> RunConfig:
        if self.error_min_calls > self.error_window:
            raise ValueError(f"error_min_calls ({self.error_min_calls}) is larger than error_window "
                             f"({self.error_window}): the circuit breaker could never open")
        if self.dask_address is not None and self.task_runner != "dask":
            raise ValueError("dask_address is set but task_runner is 'local': set task_runner = 'dask'")
        return self

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown task kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("kind weights must be >= 0 and at least one > 0")
        return v

    _normalise_values = field_validator("values", mode="before")(_as_lists)

    @property
    def uses_embedded_toolsets(self) -> bool:
        return not self.mcp and not self.openapi and not self.toolsets

    def toolset_entries(self) -> list[ToolsetConfig]:
        """Every toolset of the run, legacy keys first; the embedded default when none is named."""
        if self.uses_embedded_toolsets:
            return [ToolsetConfig(mcp=cmd) for cmd in embedded_mcp_commands()]
        entries = [ToolsetConfig(mcp=cmd) for cmd in self.mcp]
        entries += [
            ToolsetConfig(openapi=src.spec, base_url=src.base_url, name=src.name, auth_headers=src.auth_headers)
            for src in self.openapi
        ]
        return entries + list(self.toolsets)

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


def env_seconds(name: str) -> float | None:
    """A number of seconds from the environment variable ``name`` (None when unset); a bad value is one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r}: expected a number of seconds above 0")
    return value


def endpoint_from(url: str | None, model: str | None, what: str, env_prefix: str) -> EndpointConfig | None:
    url = url or os.environ.get(f"{env_prefix}_URL")
    model = model or os.environ.get(f"{env_prefix}_MODEL")
    if not url and not model:
        return None
    if not url or not model:
        flag = what.lower()
        raise ConfigError(f"--{flag}-url and --{flag}-model go together (or {env_prefix}_URL and {env_prefix}_MODEL)")
    return EndpointConfig(url=url, model=model, api_key_env=os.environ.get(f"{env_prefix}_API_KEY_ENV"))


def judge_endpoint_from(urls: list[str], model: str | None) -> JudgeEndpointConfig | None:
    """--judge-url (repeatable) and --judge-model, else $BACKCHAIN_JUDGE_URL (comma-separated) and _MODEL."""
    given = [u.strip() for u in urls if u.strip()]
    if not given:
        given = [u.strip() for u in os.environ.get("BACKCHAIN_JUDGE_URL", "").split(",") if u.strip()]
    first = endpoint_from(given[0] if given else None, model, "Judge", "BACKCHAIN_JUDGE")
    if first is None:
        return None
    return JudgeEndpointConfig(**first.model_dump(), replicas=given[1:])


_ALL_KEYS = sorted({
    key for model in (RunConfig, ToolsetConfig, OpenAPISource, JudgeEndpointConfig) for key in model.model_fields
})


def build_config(file: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Merge a config file with flag overrides (flags given win) and validate.

    ``values`` merge by name; ``toolsets`` from flags (``--mcp-url``) are added
    to the file's.
    """
    data = load_config_file(file) if file else {}
    data.pop("schedules", None)  # read by `backchain serve`, not part of one run
    for key, value in overrides.items():
        if value is None or value == [] or value == {}:
            continue
        if key == "values":
            merged = dict(data.get("values") or {})
            merged.update(value)
            value = merged
        elif key == "toolsets":
            value = [*(data.get("toolsets") or []), *value]
        data[key] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line_error(exc, f"config {file}" if file else "options")) from exc


def _one_line_error(exc: ValidationError, source: str) -> str:
    """The first problem, naming the key: 'config run.toml: unknown key toolsets.0.concurency (...)'."""
    first = exc.errors()[0]
    # A union's member type is noise in a path ('mcp.str'); a list index is not.
    loc = [str(p) for p in first["loc"] if not (isinstance(p, str) and p in ("str", "list[str]"))]
    where = ".".join(loc) or "config"
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], _ALL_KEYS, n=1) if loc else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{source}: unknown key {where!r}{hint}"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{source}: {where}: {message}"
