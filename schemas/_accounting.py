"""What a run spent: model requests, wall time per stage, tool calls per toolset.

generators/ and validators/ count (a `ChatClient` logs one `ModelRequest` per
chat request); flows/ collects them per stage and store/ stores them, per run.
"""

from __future__ import annotations

import datetime as _dt

from pydantic import BaseModel, ConfigDict, Field


class _Accounting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRequest(_Accounting):
    """One chat request as the client saw it: tokens from the reply's ``usage``, and latency."""

    endpoint: str = Field(description="The endpoint's base URL.")
    model: str
    key: str = Field(description="The request's cache key (hash of scope and request body).")
    started_at: _dt.datetime
    latency_ms: float = Field(
        ge=0, description="From the client's call to the reply: waiting for a slot and retries included.")
    tokens_in: int = Field(default=0, ge=0, description="Prompt tokens the server reported.")
    tokens_out: int = Field(default=0, ge=0, description="Completion tokens the server reported.")
    cached: bool = Field(
        default=False,
        description="Answered from the reply cache: no request was sent, tokens_in/out are the cached reply's.")
    error: str | None = Field(default=None, description="Why the request failed (no reply), else None.")
    stage: str = Field(default="", description="The run stage that made it; flows/ sets it.")


class StageTiming(_Accounting):
    """Wall time of one stage of a run."""

    stage: str
    started_at: _dt.datetime
    seconds: float = Field(ge=0)


class ToolCallCount(_Accounting):
    """Tool calls one stage of a run made to one toolset, how many failed, and how many the cache answered."""

    stage: str
    toolset: str
    calls: int = Field(ge=0, description="Calls executed (sent to the tool).")
    errors: int = Field(ge=0, description="Executed calls that failed or got the tool's error reply.")
    cached: int = Field(
        default=0, ge=0,
        description="Calls answered from the call cache: not executed, not in calls or errors.")
