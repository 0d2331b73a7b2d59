"""Generators: toolsets, exploration, chains, back-chaining and the model client.

They return records; they never open the database.

``REPLAY_COLUMNS``, ``TOOLS_METADATA_KEY``, ``RecordedCall``, ``normalise_arguments`` and
``normalised_key`` are the replay table's shape, defined in schemas/ (exporters write and read
the table too) and kept importable from here.
"""

from schemas import REPLAY_COLUMNS, TOOLS_METADATA_KEY, RecordedCall, normalise_arguments, normalised_key

from ._backchain import (
    FieldStats,
    Phraser,
    answer_candidates,
    choose_answer,
    resolve_pointer,
    template_task,
    user_values,
)
from ._base import CallOutcome, Toolset
from ._breaker import ErrorRateBreaker
from ._bundled import BUNDLED, BundledModel, resolve_local_model
from ._call_cache import CallCache, CallRecorder, replay_purpose, timeout_error, tool_cache_key
from ._chains import build_traces
from ._explore import (
    ExploreConfig,
    ExploredCall,
    Explorer,
    ExploreReport,
    MissingValue,
    PoolValue,
    SkippedTool,
    iter_leaves,
    select_tools,
)
from ._graph import candidate_edges, observed_edges
from ._limits import LimitedToolset, Pacer
from ._llm import ChatClient, ChatReply, Endpoint, ReplyCache
from ._local_model import LocalModelServer, bundled_gguf
from ._mcp import MCPHTTPToolset, MCPToolset
from ._openapi import OpenAPIToolset
from ._outputs import raw_output, view_as, viewed_outcome
from ._phrasing import is_clock_hour
from ._propose import ValueProposer
from ._python import PythonToolset
from ._retry import RetriesExhausted, RetryPolicy
from ._side_effects import ReadOnlyHint, classify_http, classify_mcp, readonly_hint
from ._simulator import MissPolicy, ReplaySimulator, SimulatedOutcome
from ._solver import Attempt, Solver
from ._task_kinds import DEFAULT_MIX, KINDS, Draft, KindPlan, build_drafts, is_probe
from ._timing import MODEL_CLOCK, TOOL_CLOCK, BusyClock
from ._trace_values import field_of
from ._writer import LLMWriter

__all__ = [
    "Attempt",
    "BUNDLED",
    "BundledModel",
    "BusyClock",
    "CallCache",
    "CallOutcome",
    "CallRecorder",
    "ChatClient",
    "ChatReply",
    "DEFAULT_MIX",
    "Draft",
    "Endpoint",
    "ErrorRateBreaker",
    "ExploreConfig",
    "ExploreReport",
    "ExploredCall",
    "Explorer",
    "FieldStats",
    "KINDS",
    "KindPlan",
    "LLMWriter",
    "LimitedToolset",
    "LocalModelServer",
    "MCPHTTPToolset",
    "MCPToolset",
    "MODEL_CLOCK",
    "MissPolicy",
    "MissingValue",
    "OpenAPIToolset",
    "Pacer",
    "Phraser",
    "PoolValue",
    "PythonToolset",
    "REPLAY_COLUMNS",
    "ReadOnlyHint",
    "RecordedCall",
    "ReplaySimulator",
    "ReplyCache",
    "RetriesExhausted",
    "RetryPolicy",
    "SimulatedOutcome",
    "SkippedTool",
    "Solver",
    "TOOLS_METADATA_KEY",
    "TOOL_CLOCK",
    "Toolset",
    "ValueProposer",
    "answer_candidates",
    "build_drafts",
    "build_traces",
    "bundled_gguf",
    "candidate_edges",
    "choose_answer",
    "classify_http",
    "classify_mcp",
    "field_of",
    "is_clock_hour",
    "is_probe",
    "iter_leaves",
    "normalise_arguments",
    "normalised_key",
    "observed_edges",
    "raw_output",
    "readonly_hint",
    "replay_purpose",
    "resolve_local_model",
    "resolve_pointer",
    "select_tools",
    "template_task",
    "timeout_error",
    "tool_cache_key",
    "user_values",
    "view_as",
    "viewed_outcome",
]
