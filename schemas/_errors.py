"""The exception hierarchy. Every error a user can cause or meet is one of these.

    BackchainError
    ├── ConfigError            bad flags, config file, --value, rubric file
    ├── ToolsetError           a toolset cannot be used at all
    │   ├── ToolsetStartError  the server command did not start / speak MCP
    │   ├── SpecError          an OpenAPI document that does not parse
    │   └── ToolsetUnreachable a base URL that does not answer
    ├── ModelError             a model endpoint cannot be used
    │   ├── ModelUnavailable   not reachable, or failed after retries
    │   │   └── ModelRequestRejected  a 4xx for this request (too long, bad parameters)
    │   └── ModelReplyError    a reply that is not what was asked for
    ├── ErrorRateExceeded      too many calls to one toolset or endpoint failed: the run stopped
    ├── StoreError             the database refused
    │   ├── SealedVersionError a write to a sealed version
    │   ├── VersionNotFound    a DATASET@REF that names nothing
    │   ├── ReadOnlyQueryError a write statement given to `backchain sql`
    │   └── SchemaVersionError a database file from another schema version
    └── ExportError            an export that cannot be written

Messages name the object and the next step; the CLI prints them on one line.
"""

from __future__ import annotations


class BackchainError(Exception):
    """Root of every error backchain raises on purpose."""


class ConfigError(BackchainError):
    """A flag, config file, seeded value or rubric file is wrong."""


class ToolsetError(BackchainError):
    """A toolset cannot be used at all."""


class ToolsetStartError(ToolsetError):
    """A toolset's server command did not start or did not speak MCP."""


class SpecError(ToolsetError):
    """An OpenAPI document could not be read or parsed."""


class ToolsetUnreachable(ToolsetError):
    """A toolset's base URL does not answer."""


class ModelError(BackchainError):
    """A model endpoint cannot be used."""


class ModelUnavailable(ModelError):
    """A model endpoint is unreachable or kept failing after retries."""


class ModelRequestRejected(ModelUnavailable):
    """The endpoint refused this particular request (HTTP 4xx), e.g. a prompt over its context."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ModelReplyError(ModelError):
    """A model replied, but not with what was asked for."""


class ErrorRateExceeded(BackchainError):
    """The circuit breaker stopped a run: too many recent calls to one toolset or endpoint failed."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


class StoreError(BackchainError):
    """The store refused an operation."""


class SealedVersionError(StoreError):
    """An attempt to change a sealed (immutable) version."""


class VersionNotFound(StoreError):
    """A DATASET@REF names no version."""


class ReadOnlyQueryError(StoreError):
    """A write statement was given where only reads are allowed."""


class SchemaVersionError(StoreError):
    """The database file has a schema version this code cannot use."""


class ExportError(BackchainError):
    """An export could not be written."""
