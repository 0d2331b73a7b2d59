"""The shapes of exported training rows, one model per target format, plus the export manifest.

    TrlSftRow   {messages: [Chat*Message], tools: [ChatFunctionTool]}        TRL SFTTrainer
    VerlRow     {data_source, prompt: [Chat*Message], ability,
                 reward_model: VerlRewardModel, extra_info: VerlExtraInfo}   verl RL parquet
    ExportManifest                                                           <out>.manifest.json

Chat messages follow the OpenAI / Hugging Face chat-template convention that TRL documents for
tool calling: an assistant turn carries either ``content`` or ``tool_calls`` (whose
``function.arguments`` is a JSON *object*, not a string), and a ``tool`` turn carries the tool's
``name`` and its output as text. Keys that a message does not use are absent, never null: a chat
template tests ``message.content is defined`` and must not see a null it was not given.

The message list is a union discriminated by ``role``; exporters rely on that to name the
failing field precisely when a row does not validate.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema


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
        description="JSON text of {answer, normaliser, expected_calls}; the reward parses it."
    )


class VerlExtraInfo(_Row):
    split: str = Field(min_length=1)
    index: int = Field(ge=0, description="Position of the row in the exported file.")
    example_id: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    version: int = Field(ge=0)


class VerlRow(_Row):
    """A verl RL parquet row: the prompt to roll out from and what the reward checks."""

    data_source: str = Field(pattern=r"^backchain/.+", description="'backchain/<dataset>'.")
    prompt: list[PromptMessage] = Field(min_length=1)
    ability: Literal["tool_use"]
    reward_model: VerlRewardModel
    extra_info: VerlExtraInfo


class LoadDrift(_Row):
    """A value that ``datasets.load_dataset`` returns differently from what the file holds."""

    example_id: str
    field: str = Field(description="Slash-separated path inside the row, e.g. messages/1/...")
    written: Any
    loaded: Any


class ExportManifest(_Row):
    """Written next to every export as ``<out>.manifest.json``."""

    version_id: str
    dataset: str
    version: int
    content_hash: str
    format: str
    file: str = Field(description="File name of the export, in the manifest's directory.")
    row_count: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_by: Literal["backchain export"]
    load_drift: list[LoadDrift] = Field(
        description="Values that datasets' JSON decoding changes on load (float digits); "
        "the file itself holds the exact values.",
    )
