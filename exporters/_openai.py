"""OpenAI chat fine-tuning JSONL with tools.

Row shape (``schemas.OpenAIRow``, schemas/json/export-openai.json), one JSON object a line::

    {"messages": [
        {"role": "user", "content": <task.user_request>},
        ... dialogue turns of a multi_turn task ...
        {"role": "assistant", "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "country_info", "arguments": "{\"country\":\"France\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": <output text>},
        ...
        {"role": "assistant", "content": <task.final_message>}],
     "tools": [{"type": "function", "function": {"name", "description", "parameters"}}],
     "parallel_tool_calls": <true when a turn makes several calls>}

Where OpenAI differs from TRL (sources: OpenAI's fine-tuning guide and the
``FineTuneChatRequestInput`` schema of its OpenAPI spec):

* ``arguments`` is a JSON *string* (compact JSON of the recorded arguments object), as the
  Chat Completions API returns it, not an object.
* Every tool call has an ``id`` and its tool message answers it with ``tool_call_id``; ids are
  ``call_<step>`` (the step's index in the trace), unique within a conversation and the same on
  every export.
* ``weight`` on an assistant message: "The allowed values for weight are currently 0 or 1";
  0 means the message is context, not a target. The failed first attempt of an error_recovery
  task gets ``weight: 0`` (its tool message, the error, stays in the context so that the
  correction that follows makes sense). No other message carries a weight, so the file is the
  default "train on every assistant message".
* ``parallel_tool_calls`` is true when the example makes several calls in one turn.

``--train-on-tool-outputs W`` (off by default) puts ``"weight": W`` on every tool message, so
that a trainer honouring per-message weights includes observation tokens in the loss (teaching
the model what tools return). This is a backchain extension: OpenAI's hosted fine-tuning
accepts ``weight`` only on assistant messages and would reject such a file; the manifest
records the option.
"""

from __future__ import annotations

from typing import Any

from datasets import Features, Json, List, Value

from schemas import Example, VersionInfo

from ._base import (
    DEFAULT_OPTIONS,
    ExportFormat,
    ExportOptions,
    compact_json,
    failed_turns,
    function_tools,
    tool_output_text,
)


class OpenAIFormat(ExportFormat):
    """``openai``: OpenAI fine-tuning JSONL with tools (arguments as JSON strings)."""

    name = "openai"
    schema_name = "export-openai"
    features = Features(
        {"messages": List(Json()), "tools": List(Json()), "parallel_tool_calls": Value("bool")}
    )
    file_types = (".jsonl",)
    tool_weights = True
    usage = (
        "Upload {file} as a fine-tuning file (purpose 'fine-tune') and start a job on it; "
        "or datasets.load_dataset('json', data_files='{file}'). Each line is one chat with "
        "'messages', 'tools' and 'parallel_tool_calls'."
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        messages = example.task.opening()
        steps = example.trace.steps
        untrained = failed_turns(example)
        turns = example.trace.turns()
        for k, turn in enumerate(turns):
            calls = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": steps[i].tool, "arguments": compact_json(steps[i].arguments)}}
                for i in turn
            ]
            assistant: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
            if k in untrained:
                assistant["weight"] = 0
            messages.append(assistant)
            for i in turn:
                tool: dict[str, Any] = {"role": "tool", "tool_call_id": f"call_{i}",
                                        "content": tool_output_text(steps[i])}
                if options.train_on_tool_outputs is not None:
                    tool["weight"] = options.train_on_tool_outputs
                messages.append(tool)
        messages.append({"role": "assistant", "content": example.task.final_message})
        return {
            "messages": messages,
            "tools": function_tools(example),
            "parallel_tool_calls": any(len(turn) > 1 for turn in turns),
        }
