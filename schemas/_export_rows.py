"""The shapes of exported training rows, one model per target format, plus the export manifest.

    TrlSftRow        {messages: [Chat*Message], tools: [ChatFunctionTool]}   TRL SFTTrainer
    TrlGrpoRow       {prompt, tools, kind, answer, example_id}               TRL GRPOTrainer
    VerlRow          {data_source, prompt: [Chat*Message], ability,
                      reward_model: VerlRewardModel, extra_info}             verl RL parquet
    VerlSftRow       {messages: [VerlSft*Message], tools: [VerlSftTool]}     verl multi-turn SFT
    OpenAIRow        {messages: [OpenAI*Message], tools, parallel_tool_calls} OpenAI fine-tuning
    ShareGptRow      {conversations: [ShareGptTurn], tools: <JSON text>}     LLaMA-Factory
    HfRow            {example_id, kind, messages, tools, answer, score,
                      trace_id}                                              a DatasetDict split
    BfclQuestion     {id, question: [[BfclMessage]], function: [BfclFunction]}
    BfclPossibleAnswer {id, ground_truth: [{fn: {param: [allowed values]}}]}  BFCL eval
    ExportManifest   {..., files: [ExportedFile], filters: ExportFilters}    <out>.manifest.json

Chat messages follow the OpenAI / Hugging Face chat-template convention that TRL documents for
tool calling: an assistant turn carries either ``content`` or ``tool_calls`` (whose
``function.arguments`` is a JSON *object*, not a string), and a ``tool`` turn carries the tool's
``name`` and its output as text. Keys that a message does not use are absent, never null: a chat
template tests ``message.content is defined`` and must not see a null it was not given.

The message list is a union discriminated by ``role``; exporters rely on that to name the
failing field precisely when a row does not validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ._records import TaskKind


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatFunctionCall(_Row):
    """The function a tool call names, with its arguments as a JSON object."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(description="The arguments object, exactly as executed.")


class ChatToolCall(_Row):
    """One tool call of an assistant turn."""

    type: Literal["function"]
    function: ChatFunctionCall


class ChatSystemMessage(_Row):
    role: Literal["system"]
    content: str


class ChatUserMessage(_Row):
    role: Literal["user"]
    content: str = Field(min_length=1)


def _content_or_tool_calls(schema: dict[str, Any]) -> None:
    """Both keys are optional but not nullable, and at least one is present."""
    for key in ("content", "tool_calls"):
        schema["properties"][key].pop("default", None)
    schema["anyOf"] = [{"required": ["content"]}, {"required": ["tool_calls"]}]


class ChatAssistantMessage(_Row):
    """An assistant turn: text (``content``), tool calls (``tool_calls``), or both."""

    model_config = ConfigDict(json_schema_extra=_content_or_tool_calls)

    role: Literal["assistant"]
    content: Annotated[str, Field(min_length=1)] | SkipJsonSchema[None] = None
    tool_calls: Annotated[list[ChatToolCall], Field(min_length=1)] | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _content_or_calls(self) -> ChatAssistantMessage:
        if self.content is None and self.tool_calls is None:
            raise ValueError("an assistant message needs 'content' or 'tool_calls'")
        return self


class ChatToolMessage(_Row):
    """A tool's result: strings as returned, other JSON values as compact JSON text."""

    role: Literal["tool"]
    name: str = Field(min_length=1)
    content: str


ChatMessage = Annotated[
    ChatSystemMessage | ChatUserMessage | ChatAssistantMessage | ChatToolMessage,
    Field(discriminator="role"),
]


PromptMessage = Annotated[
    ChatSystemMessage | ChatUserMessage | ChatAssistantMessage, Field(discriminator="role")
]


class ChatFunctionSpec(_Row):
    """A function offered to the model: name, description and its arguments' JSON Schema."""

    name: str = Field(min_length=1)
    description: str
    parameters: dict[str, Any] = Field(description="JSON Schema of the arguments object.")


class ChatFunctionTool(_Row):
    """One entry of the ``tools`` list that chat templates render."""

    type: Literal["function"]
    function: ChatFunctionSpec


class TrlSftRow(_Row):
    """A TRL SFTTrainer row, conversational language modelling with tools."""

    messages: list[ChatMessage] = Field(min_length=2)
    tools: list[ChatFunctionTool]


class VerlRewardModel(_Row):
    style: Literal["rule"]
    ground_truth: str = Field(
        description="JSON text of {kind, answer, answer_values, normaliser, expected_calls}; the "
        "reward parses it."
    )


class VerlExtraInfo(_Row):
    split: str = Field(min_length=1)
    index: int = Field(ge=0, description="Position of the row in the exported file.")
    example_id: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    version: int = Field(ge=0)
    example: str = Field(
        pattern=r"^\{", description="The Example record as JSON text (for rubric rewards and judges)."
    )


class VerlRow(_Row):
    """A verl RL parquet row: the prompt to roll out from and what the reward checks."""

    data_source: str = Field(pattern=r"^backchain/.+", description="'backchain/<dataset>'.")
    prompt: list[PromptMessage] = Field(min_length=1)
    ability: Literal["tool_use"]
    reward_model: VerlRewardModel
    extra_info: VerlExtraInfo


# -- OpenAI fine-tuning JSONL -----------------------------------------------------------------


def _drop_defaults(*keys: str) -> Callable[[dict[str, Any]], None]:
    """json_schema_extra: the keys are optional but never null (absent when unused)."""

    def extra(schema: dict[str, Any]) -> None:
        for key in keys:
            schema["properties"][key].pop("default", None)

    return extra


def _both(*extras: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """json_schema_extra: apply each of ``extras`` in turn."""

    def extra(schema: dict[str, Any]) -> None:
        for apply in extras:
            apply(schema)

    return extra


def _json_object_text(value: str, what: str) -> str:
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON text: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError(f"{what} must be the JSON text of an object")
    return value


class OpenAIFunctionCall(_Row):
    """The function an OpenAI tool call names; ``arguments`` is JSON *text* of an object."""

    name: str = Field(min_length=1)
    arguments: str = Field(
        pattern=r"^\{", description="The arguments object as compact JSON text, as the API returns it."
    )

    @field_validator("arguments")
    @classmethod
    def _object_text(cls, v: str) -> str:
        return _json_object_text(v, "arguments")


class OpenAIToolCall(_Row):
    id: str = Field(min_length=1, description="Unique within the conversation; tool messages cite it.")
    type: Literal["function"]
    function: OpenAIFunctionCall


class OpenAIUserMessage(_Row):
    role: Literal["user"]
    content: str = Field(min_length=1)


class OpenAIAssistantMessage(_Row):
    """An assistant turn; ``weight`` 0 keeps it out of training (OpenAI allows 0 or 1)."""

    model_config = ConfigDict(json_schema_extra=_both(_content_or_tool_calls, _drop_defaults("weight")))

    role: Literal["assistant"]
    content: Annotated[str, Field(min_length=1)] | SkipJsonSchema[None] = None
    tool_calls: Annotated[list[OpenAIToolCall], Field(min_length=1)] | SkipJsonSchema[None] = None
    weight: Literal[0, 1] | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _content_or_calls(self) -> OpenAIAssistantMessage:
        if self.content is None and self.tool_calls is None:
            raise ValueError("an assistant message needs 'content' or 'tool_calls'")
        return self


class OpenAIToolMessage(_Row):
    """A tool result. ``weight`` (a backchain extension, ``--train-on-tool-outputs``) makes it a
    training target; OpenAI's hosted fine-tuning accepts weights on assistant messages only."""

    model_config = ConfigDict(json_schema_extra=_drop_defaults("weight"))

    role: Literal["tool"]
    tool_call_id: str = Field(min_length=1)
    content: str
    weight: Annotated[float, Field(gt=0)] | SkipJsonSchema[None] = None


OpenAIMessage = Annotated[
    ChatSystemMessage | OpenAIUserMessage | OpenAIAssistantMessage | OpenAIToolMessage,
    Field(discriminator="role"),
]


class OpenAIRow(_Row):
    """One line of an OpenAI chat fine-tuning file with tools."""

    messages: list[OpenAIMessage] = Field(min_length=2)
    tools: list[ChatFunctionTool]
    parallel_tool_calls: bool = Field(description="True when a turn of this example makes several calls.")


# -- LLaMA-Factory ShareGPT ---------------------------------------------------------------------

SHAREGPT_ROLES = ("human", "function_call", "observation", "gpt")


class ShareGptTurn(_Row):
    """One turn: human and observation at odd positions (1st, 3rd, ...), gpt and function_call
    at even ones. A function_call value is JSON text of ``{"name", "arguments"}``, or of a list
    of them for parallel calls; the observation after parallel calls is a JSON list of results."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: Literal["human", "function_call", "observation", "gpt"] = Field(alias="from")
    value: str


class ShareGptRow(_Row):
    """A LLaMA-Factory sharegpt-format row with tools (JSON text of the function definitions)."""

    conversations: list[ShareGptTurn] = Field(min_length=2)
    tools: str = Field(pattern=r"^\[", description="JSON text: [{name, description, parameters}, ...].")

    @model_validator(mode="after")
    def _alternates(self) -> ShareGptRow:
        for i, turn in enumerate(self.conversations):
            wanted = ("human", "observation") if i % 2 == 0 else ("gpt", "function_call")
            if turn.from_ not in wanted:
                raise ValueError(f"conversations/{i} is {turn.from_!r}; position {i + 1} takes {' or '.join(wanted)}")
        if self.conversations[-1].from_ != "gpt":
            raise ValueError("the last turn must be gpt")
        return self


# -- verl multi-turn SFT ------------------------------------------------------------------------


class VerlSftFunctionCall(_Row):
    name: str = Field(min_length=1)
    arguments: str = Field(pattern=r"^\{", description="JSON text of the arguments object.")


class VerlSftToolCall(_Row):
    type: Literal["function"]
    function: VerlSftFunctionCall


class VerlSftMessage(_Row):
    """A message as one Arrow struct: every key present, null where the role does not use it."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = Field(description="Null only on an assistant turn that only calls tools.")
    tool_calls: list[VerlSftToolCall] | None = Field(description="Assistant turns that call tools.")
    name: str | None = Field(description="The tool's name, on tool messages.")

    @model_validator(mode="after")
    def _by_role(self) -> VerlSftMessage:
        if self.role == "assistant" and self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        if self.role != "assistant" and (self.content is None or self.tool_calls is not None):
            raise ValueError(f"a {self.role} message has content and no tool_calls")
        return self


class VerlSftFunctionSpec(_Row):
    name: str = Field(min_length=1)
    description: str
    parameters: str = Field(pattern=r"^\{", description="JSON text of the arguments' JSON Schema.")


class VerlSftTool(_Row):
    type: Literal["function"]
    function: VerlSftFunctionSpec


class VerlSftRow(_Row):
    """A verl multi-turn SFT row (``messages``, ``tools``), plain nested Arrow types."""

    messages: list[VerlSftMessage] = Field(min_length=2)
    tools: list[VerlSftTool]


# -- TRL GRPOTrainer ----------------------------------------------------------------------------


class PromptTurn(_Row):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class TrlGrpoRow(_Row):
    """A TRL GRPOTrainer row: the prompt, and the columns the written reward function reads."""

    prompt: list[PromptTurn] = Field(min_length=1)
    tools: list[ChatFunctionTool]
    kind: TaskKind
    ground_truth: str = Field(
        pattern=r"^\{",
        description="JSON text of {kind, answer, answer_values, normaliser, expected_calls}, as in "
        "verl's reward_model.ground_truth; answer null for a no_call task.",
    )
    example_id: str = Field(min_length=1)
    example: str = Field(pattern=r"^\{", description="The Example record as JSON text.")


# -- Hugging Face DatasetDict -------------------------------------------------------------------


class HfRow(_Row):
    """A row of a split of the ``hf`` export: the conversation plus what it was checked against."""

    example_id: str = Field(min_length=1)
    kind: TaskKind
    messages: list[ChatMessage] = Field(min_length=2)
    tools: list[ChatFunctionTool]
    answer: Any = Field(description="The Answer record (pointers, value, normaliser); null for no_call.")
    score: float | None = Field(description="The rubric score the version holds; null when unscored.")
    trace_id: str = Field(min_length=1, description="Variants of one trace share it (and a split).")


# -- BFCL ---------------------------------------------------------------------------------------

BFCL_TYPES = ("string", "integer", "float", "boolean", "array", "dict", "tuple", "any")


class BfclMessage(_Row):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class BfclParameters(_Row):
    type: Literal["dict"]
    properties: dict[str, Any] = Field(description="Each parameter with a BFCL type name.")
    required: list[str]


class BfclFunction(_Row):
    name: str = Field(min_length=1)
    description: str
    parameters: BfclParameters


class BfclQuestion(_Row):
    """A line of a BFCL question file."""

    id: str = Field(pattern=r"^[a-z]+(_[a-z]+)*_\d+$", description="<category>_<n>, e.g. parallel_multiple_3.")
    question: list[list[BfclMessage]] = Field(min_length=1)
    function: list[BfclFunction]


class BfclPossibleAnswer(_Row):
    """A line of a BFCL possible_answer file: per call, each parameter's allowed values ("" = may
    be omitted). An empty list: the right answer is not to call (irrelevance)."""

    id: str = Field(pattern=r"^[a-z]+(_[a-z]+)*_\d+$")
    ground_truth: list[dict[str, dict[str, list[Any]]]]


# -- manifest -----------------------------------------------------------------------------------

_SPLIT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class LoadDrift(_Row):
    """A value that ``datasets.load_dataset`` returns differently from what the file holds."""

    example_id: str
    field: str = Field(description="Slash-separated path inside the row, e.g. messages/1/...")
    written: Any
    loaded: Any


class ExportFilters(_Row):
    """Which rows of the version an export keeps, and how it splits them."""

    min_score: float | None = Field(default=None, description="Keep score >= this; unscored rows are dropped.")
    kinds: list[TaskKind] | None = Field(default=None, description="Keep these task kinds.")
    tools: list[str] | None = Field(default=None, description="Keep examples that call any of these tools.")
    pass_rate_band: tuple[float, float] | None = Field(
        default=None,
        description="Keep lo <= pass rate <= hi (difficulty view, solvers pooled); unmeasured rows dropped.",
    )
    dedup: bool = Field(default=False, description="Drop later rows whose normalised request repeats.")
    split: dict[str, float] | None = Field(
        default=None, description="Split name -> fraction (summing to 1), by trace; None keeps stored splits."
    )
    split_seed: int = Field(default=0, description="Seed of the split assignment.")

    @field_validator("pass_rate_band")
    @classmethod
    def _band(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0.0 <= v[0] <= v[1] <= 1.0:
            raise ValueError(f"pass rate band {v[0]},{v[1]}: need 0 <= LO <= HI <= 1")
        return v

    @field_validator("split")
    @classmethod
    def _fractions(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("a split needs at least one name=fraction")
        for name, fraction in v.items():
            if not re.match(_SPLIT_NAME, name):
                raise ValueError(f"split name {name!r}: use letters, digits, '_', '-' or '.'")
            if not 0.0 < fraction <= 1.0:
                raise ValueError(f"split {name}={fraction}: a fraction is in (0, 1]")
        if abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"split fractions add up to {sum(v.values()):g}, not 1")
        return v

    @field_validator("tools", "kinds")
    @classmethod
    def _non_empty(cls, v: list[Any] | None) -> list[Any] | None:
        if v is not None and not v:
            raise ValueError("give at least one name")
        return v


class ExportSelection(_Row):
    """What the filters did: rows read from the version, kept, and dropped by each filter."""

    rows_in_version: int = Field(ge=0)
    rows_kept: int = Field(ge=0)
    dropped: dict[str, int] = Field(
        description="Filter -> rows it dropped, in the order filters apply: min_score, kinds, tools, "
        "not_measured (no difficulty measurement while a pass-rate band is given), "
        "pass_rate_band, dedup."
    )
    zero_variance: int = Field(
        default=0, ge=0,
        description="Of the rows pass_rate_band dropped, those whose measured pass rate is 0 or 1: every "
        "attempt got the same reward, so an RL prompt with no reward variance (RAGEN-2, DAPO).",
    )


class ExportedFile(_Row):
    """One file an export wrote."""

    path: str = Field(description="Relative to the manifest's directory, '/'-separated.")
    role: Literal["data", "answers", "dataset_info", "reward_module", "reward_spec", "replay",
                  "card", "metadata", "tool_config", "tools_module", "environment"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    rows: int | None = Field(default=None, ge=0)
    split: str | None = None


class ExportManifest(_Row):
    """Written next to every export as ``<out>.manifest.json``."""

    version_id: str
    dataset: str
    version: int
    content_hash: str
    format: str
    file: str = Field(description="The --out name (a file, or the directory of an hf export).")
    row_count: int = Field(ge=0, description="Rows written, all splits together.")
    sha256: str | None = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of the data file when the export is one data file; else null (see files).",
    )
    files: list[ExportedFile] = Field(default_factory=list)
    splits: dict[str, int] = Field(default_factory=dict, description="Rows per split.")
    filters: ExportFilters = Field(default_factory=ExportFilters)
    selection: ExportSelection | None = Field(
        default=None, description="Present when the rows were selected from a store."
    )
    train_on_tool_outputs: float | None = Field(
        default=None, description="Weight given to tool messages (--train-on-tool-outputs), else null."
    )
    multi_turn: bool = Field(default=False, description="verl rows for the tool agent loop (--multi-turn).")
    tools_module: bool = Field(default=False, description="trl-grpo with a replay tools module (--tools-module).")
    observations: bool = Field(
        default=False, description="trl-sft observation-prediction rows (--observations): targets are tool outputs."
    )
    usage: str = Field(default="", description="How to load the export in its consumer.")
    created_by: Literal["backchain export"]
    load_drift: list[LoadDrift] = Field(
        description="Values that datasets' JSON decoding changes on load (float digits); "
        "the file itself holds the exact values. The first 1000; see load_drift_total.",
    )
    load_drift_total: int = Field(default=0, ge=0, description="How many values drift in all.")
