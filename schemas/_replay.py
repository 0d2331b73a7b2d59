"""The replay table's shape, shared by the side that writes it and every side that reads it.

``exporters`` writes it (``backchain export ... --format replay``, and beside every RL export);
``generators.ReplaySimulator`` answers tool calls from it; ``exporters.rl_env.ReplayTools``
answers a rollout's calls from it inside a trainer. They must agree on the columns, on where the
tools travel and on what makes two calls the same, so those are defined once, here:

* ``REPLAY_COLUMNS``: the table's columns, in file order; ``TOOLS_METADATA_KEY``: the parquet
  key-value metadata key holding the tools the examples offer (a JSON list of ``Tool``).
* ``RecordedCall``: one row, as readers index it; ``read_replay_table`` reads a file into them.
* ``ReplayIndex``: recorded calls by match key, earliest first (``recorded()``).

Matching. A call matches a recorded one when toolset, tool and *normalised* arguments are
equal. ``normalise_arguments`` decides what "equal" means:

* objects: keys sorted (canonical JSON), each key NFC-normalised (not stripped);
* strings: Unicode NFC, then leading and trailing whitespace stripped (``" Paris"`` matches
  ``"Paris"``); case is kept;
* numbers: an integral float is the integer (``2.0`` matches ``2``, ``-0.0`` matches ``0``);
  other floats compare exactly; booleans are not numbers (``true`` never matches ``1``);
* lists keep their order; ``null`` is a value, so ``{"a": null}`` does not match ``{}``.

The toolset's version is not part of the match: a table recorded against server 1.2 still
answers calls after the server moved to 1.3. ``normalised_key`` is the hash of
``[toolset, tool, normalised arguments]``; the replay table stores it for SQL users, and
readers recompute it (the rules of this code decide what matches).

Volatile tools. The same call recorded with different outcomes (``get_current_time``) keeps
every outcome; ``recorded()`` returns them all, earliest (by ``started_at``, then observation
id) first, so the earliest answers and replay is deterministic.

Reading needs pyarrow (imported when a table is read); nothing here calls a tool.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from ._hashing import content_hash
from ._records import Observation, Tool

#: Parquet key-value metadata key holding the replay table's tools (a JSON list of Tool).
TOOLS_METADATA_KEY = b"backchain.tools"
#: The replay table's columns, in file order.
REPLAY_COLUMNS = (
    "toolset", "toolset_version", "tool", "arguments_json", "normalised_key", "output_json",
    "is_error", "error", "observation_id", "started_at",
)


def normalise_value(value: Any) -> Any:
    """One JSON value under the matching rules (see the module docstring)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} is not a string")
            name = unicodedata.normalize("NFC", key)
            if name in out:
                raise TypeError(f"object keys collide after NFC normalisation: {key!r}")
            out[name] = normalise_value(item)
        return out
    if isinstance(value, list | tuple):
        return [normalise_value(item) for item in value]
    raise TypeError(f"value of type {type(value).__name__} is not JSON")


def normalise_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A call's arguments under the matching rules; TypeError when they are not JSON."""
    if not isinstance(arguments, Mapping):
        raise TypeError(f"arguments must be a JSON object, not {type(arguments).__name__}")
    result: dict[str, Any] = normalise_value(arguments)
    return result


def normalised_key(toolset: str, tool: str, arguments: Mapping[str, Any]) -> str:
    """The match key: hash of [toolset, tool, normalised arguments]."""
    return content_hash([toolset, tool, normalise_arguments(arguments)])


@dataclass(frozen=True)
class RecordedCall:
    """One recorded observation as readers index it (a replay-table row)."""

    toolset: str
    toolset_version: str | None
    tool: str
    arguments: dict[str, Any]
    output: Any
    is_error: bool
    error: str | None
    observation_id: str
    started_at: _dt.datetime
    normalised_key: str

    @classmethod
    def from_observation(cls, obs: Observation) -> RecordedCall:
        return cls(
            toolset=obs.toolset, toolset_version=obs.toolset_version, tool=obs.tool,
            arguments=dict(obs.arguments), output=obs.output, is_error=obs.is_error,
            error=obs.error, observation_id=obs.observation_id, started_at=obs.started_at,
            normalised_key=normalised_key(obs.toolset, obs.tool, obs.arguments),
        )


def read_replay_table(path: str | Path) -> tuple[list[RecordedCall], list[Tool]]:
    """The recorded calls and the offered tools of a replay table; ConfigError when unreadable."""
    import pyarrow.parquet as pq

    where = Path(path)
    hint = "export one with: backchain export DATASET@REF --format replay --out FILE.parquet"
    try:
        parquet = pq.ParquetFile(where)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"replay table {where}: cannot read it ({exc}); {hint}") from exc
    with parquet:
        missing = [c for c in REPLAY_COLUMNS if c not in parquet.schema_arrow.names]
        if missing:
            raise ConfigError(f"replay table {where}: missing columns {', '.join(missing)}; {hint}")
        metadata = parquet.metadata.metadata or {}  # the file's key-value metadata
        tools = [Tool.model_validate(t) for t in json.loads(metadata.get(TOOLS_METADATA_KEY, b"[]"))]
        calls: list[RecordedCall] = []
        for batch in parquet.iter_batches(batch_size=4096, columns=list(REPLAY_COLUMNS)):
            for row in batch.to_pylist():
                arguments = json.loads(row["arguments_json"])
                calls.append(RecordedCall(
                    toolset=row["toolset"], toolset_version=row["toolset_version"],
                    tool=row["tool"], arguments=arguments,
                    output=json.loads(row["output_json"]), is_error=bool(row["is_error"]),
                    error=row["error"], observation_id=row["observation_id"],
                    started_at=row["started_at"],
                    # recomputed, not read: the rules of this code decide what matches
                    normalised_key=normalised_key(row["toolset"], row["tool"], arguments),
                ))
    return calls, tools


def _utc(value: _dt.datetime) -> _dt.datetime:
    """Naive times are taken to be UTC (as the store does), so any two can be ordered."""
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value


class ReplayIndex:
    """Recorded calls indexed for lookup: by match key, by tool, and each tool's toolsets.

    ``calls``: every call once (the same observation twice keeps the earliest), earliest first
    (by ``started_at``, then observation id). ``tools``: the offered tools by (toolset, name),
    the first of each kept.
    """

    def __init__(self, calls: Iterable[RecordedCall], tools: Iterable[Tool] = ()) -> None:
        self.tools: dict[tuple[str, str], Tool] = {}
        for tool in tools:
            self.tools.setdefault((tool.toolset, tool.name), tool)
        unique: dict[str, RecordedCall] = {}
        for call in sorted(calls, key=lambda c: (_utc(c.started_at), c.observation_id)):
            unique.setdefault(call.observation_id, call)  # the same content twice: keep the earliest
        self.calls = list(unique.values())
        self.by_key: dict[str, list[RecordedCall]] = {}
        self.by_tool: dict[tuple[str, str], list[RecordedCall]] = {}
        for call in self.calls:
            self.by_key.setdefault(call.normalised_key, []).append(call)
            self.by_tool.setdefault((call.toolset, call.tool), []).append(call)
        self.homes: dict[str, set[str]] = {}
        """Tool name -> the toolsets that recorded or offer a tool of that name."""
        for toolset, tool_name in [*self.by_tool, *self.tools]:
            self.homes.setdefault(tool_name, set()).add(toolset)

    def recorded(self, tool: str, arguments: Mapping[str, Any], *, toolset: str | None = None) -> list[RecordedCall]:
        """Every recorded outcome of this exact call, earliest first (several: a volatile tool).

        Without ``toolset``, every toolset that has a tool of that name is searched.
        TypeError when the arguments are not JSON.
        """
        homes = [toolset] if toolset is not None else sorted(self.homes.get(tool, ()))
        found: list[RecordedCall] = []
        for home in homes:
            found.extend(self.by_key.get(normalised_key(home, tool, arguments), []))
        return found
