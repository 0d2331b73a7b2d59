"""The store's caches as one run uses them: tool calls and model replies across runs.

`RunCaches` is what flows/ hands the generators and validators: it is both the
`generators.CallCache` the `CallRecorder` reads and writes, and the
`generators.ReplyCache` every `ChatClient` uses. It stamps each recorded call
with the run, hands it to the store's `CallWriter` (committed off the event
loop, a batch per commit) when given one, counts the model replies earlier runs answered (the recorder
counts tool calls), and under ``refresh`` reads nothing an earlier run recorded while still recording
every result, the newest replacing the old, so the run after a refresh reuses
what it found.

`toolset_scope` is the part of a call's cache key that names the server behind
a toolset besides its name and version (see `generators.CallRecorder`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from schemas import content_hash
from store import CallWriter, Store

from ._config import ToolsetConfig


class RunCaches:
    """Tool-call and model-reply caches of one run, over the store (the run's only writer)."""

    def __init__(
        self, store: Store, run_id: str, *, refresh: bool = False, writer: CallWriter | None = None
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.refresh = refresh
        self.writer = writer
        #: Model replies that earlier runs answered.
        self.replies_reused = 0
        #: Calls this run recorded: found again under ``refresh`` too (exploration's volatility
        #: repeats, made ahead under replay's purpose, are not made a third time by replay).
        self._own: set[str] = set()

    # generators.CallCache
    def get_call(self, key: str) -> dict[str, Any] | None:
        if self.refresh and key not in self._own:
            return None
        pending = self.writer.get(key) if self.writer is not None else None
        return pending if pending is not None else self.store.get_call(key)

    def put_call(self, key: str, purpose: str, observation: dict[str, Any]) -> None:
        self._own.add(key)
        if self.writer is not None:
            self.writer.put(key, purpose, observation, self.run_id)
        else:
            self.store.put_call(key, purpose, observation, run_id=self.run_id)

    def flush(self) -> None:
        """Wait until every recorded call is committed."""
        if self.writer is not None:
            self.writer.flush()

    # generators.ReplyCache
    def get_reply(self, key: str) -> dict[str, Any] | None:
        if self.refresh:
            return None
        hit = self.store.get_reply(key)
        self.replies_reused += hit is not None
        return hit

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        if self.refresh:
            self.store.replace_reply(key, endpoint, request, reply)
        else:
            self.store.put_reply(key, endpoint, request, reply)


def toolset_scope(entry: ToolsetConfig) -> str:
    """What identifies a toolset's server besides its name and version, for call cache keys.

    The stdio command, the MCP URL, or the spec and base URL; for url and
    openapi toolsets also a digest of the credential values (read from their
    env vars now), since another account may see other data. Only the digest
    of a secret enters the key, and keys are hashes themselves.
    """
    if entry.mcp is not None:
        where: list[Any] = ["mcp", entry.mcp]
    elif entry.url is not None:
        where = ["url", entry.url]
    else:
        where = ["openapi", entry.openapi, entry.base_url]
    if entry.auth_headers:
        where.append(content_hash({h: os.environ.get(env) for h, env in entry.auth_headers.items()}))
    return content_hash(where)


def toolset_scopes(opened: Mapping[str, ToolsetConfig]) -> dict[str, str]:
    """Toolset name -> its scope."""
    return {name: toolset_scope(entry) for name, entry in opened.items()}
