"""Rows of the RL environment exports (issue 19) and the observation-prediction rows.

    VerlToolAgentRow       verl --multi-turn: a VerlRow plus ``agent_name`` and the tool agent
                           loop's ``extra_info`` keys (tools_kwargs, tool_selection,
                           interaction_kwargs, need_tools_kwargs)
    VerifiersRow           verifiers: {prompt, answer, info (JSON text with tool_defs), kind,
                           ground_truth, example}
    TrlSftObservationRow   trl-sft --observations: {prompt, completion: [the tool message], tools}

Field names are the consumers' own (verl/utils/dataset/rl_dataset.py ``__getitem__`` and
verl/experimental/agent_loop/tool_agent_loop.py for verl 0.9.1; verifiers.legacy's
Environment ``init_state`` for verifiers 0.3.1; TRL's prompt-completion conversational format).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._export_rows import (
    ChatFunctionTool,
    ChatMessage,
    ChatToolMessage,
    PromptMessage,
    PromptTurn,
    VerlExtraInfo,
    VerlRewardModel,
    _Row,
)
from ._records import TaskKind


class VerlCreateKwargs(_Row):
    """What verl hands ``BaseTool.create(create_kwargs=...)``: the row's example."""

    example_id: str = Field(min_length=1)


class VerlToolKwargs(_Row):
    create_kwargs: VerlCreateKwargs


class VerlInteractionKwargs(_Row):
    """The user's recorded replies of a multi_turn task, for an interaction that plays the user."""

    name: Literal["backchain_user"]
    example_id: str = Field(min_length=1)
    query: str = Field(min_length=1, description="The user's first request.")
    replies: list[str] = Field(min_length=1, description="The user's later turns, in order.")


class VerlToolAgentExtraInfo(VerlExtraInfo):
    need_tools_kwargs: Literal[True]
    tools_kwargs: dict[str, VerlToolKwargs] = Field(
        description="Tool name -> {create_kwargs}; one entry per tool the row offers (a Json column)."
    )
    tool_selection: list[str] = Field(description="The tools this row offers (verl's per-sample tool selection).")
    interaction_kwargs: VerlInteractionKwargs | None = Field(
        description="Present where a multi_turn task has a user reply; null otherwise."
    )


class VerlToolAgentRow(_Row):
    """A verl row for the tool agent loop (``agent_name: tool_agent``)."""

    data_source: str = Field(pattern=r"^backchain/.+", description="'backchain/<dataset>'.")
    agent_name: Literal["tool_agent"]
    prompt: list[PromptMessage] = Field(min_length=1)
    ability: Literal["tool_use"]
    reward_model: VerlRewardModel
    extra_info: VerlToolAgentExtraInfo


class VerifiersRow(_Row):
    """A row of a verifiers environment package's dataset."""

    prompt: list[PromptTurn] = Field(min_length=1)
    answer: str = Field(description="The expected answer as text (for reading; the rubric checks ground_truth).")
    info: str = Field(pattern=r"^\{", description="JSON text: {example_id, kind, tool_defs: [{name, "
                      "description, parameters}]}; verifiers parses it and offers the row's tool_defs.")
    kind: TaskKind
    ground_truth: str = Field(pattern=r"^\{", description="As trl-grpo's ground_truth.")
    example: str = Field(pattern=r"^\{", description="The Example record as JSON text.")


class TrlSftObservationRow(_Row):
    """An observation-prediction row: the conversation up to a call, and the tool's recorded reply."""

    prompt: list[ChatMessage] = Field(min_length=2)
    completion: list[ChatToolMessage] = Field(min_length=1, max_length=1)
    tools: list[ChatFunctionTool]
