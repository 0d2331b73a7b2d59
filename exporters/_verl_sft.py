"""verl multi-turn SFT parquet: ``messages`` and ``tools`` for ``MultiTurnSFTDataset``.

Row shape (``schemas.VerlSftRow``, schemas/json/export-verl-sft.json)::

    {"messages": [
        {"role": "user", "content": <request>, "tool_calls": null, "name": null},
        {"role": "assistant", "content": null,
         "tool_calls": [{"type": "function",
                         "function": {"name": "country_info", "arguments": "{\"country\":\"France\"}"}}],
         "name": null},
        {"role": "tool", "content": <output text>, "tool_calls": null, "name": "country_info"},
        ...
        {"role": "assistant", "content": <final answer>, "tool_calls": null, "name": null}],
     "tools": [{"type": "function",
                "function": {"name", "description", "parameters": "<JSON Schema as JSON text>"}}]}

Why this shape (verl's ``verl/utils/dataset/multiturn_sft_dataset.py``): the dataset reads the
file with ``pandas.read_parquet`` and turns numpy arrays back into lists
(``convert_nested_value_to_list_recursive``, verl issue #4112), then renders each message
through the tokenizer's chat template with ``tools`` on the first one, and masks the loss to
assistant messages. So every column must be a *native* nested Arrow type: JSON text per message
(the ``Json`` feature the trl-sft export uses) would reach the template as strings.

Native Arrow structs have one fixed set of keys per column, so:

* every message has all four keys, ``null`` where its role does not use one (chat templates
  test ``message.tool_calls`` / ``message.content`` for truth, so null reads as absent);
* tool-call ``arguments`` and tool ``parameters`` differ per tool, and a struct would give every
  tool the union of all tools' keys filled with nulls (an argument the call never had, a
  schema with properties of other tools). They are JSON text instead: ``arguments`` exactly as
  the OpenAI API carries them (templates such as Qwen3's print a string argument as is), the
  ``parameters`` schema likewise. A template that needs objects gets them with one
  ``json.loads`` per value (see the README's verl-sft loader snippet).

Loss: verl trains on every assistant message, so the failed first call of an error_recovery
task is a target here too (``--kinds`` can leave those tasks out).
"""

from __future__ import annotations

from typing import Any

from datasets import Features, List, Value

from schemas import Example, VersionInfo

from ._base import DEFAULT_OPTIONS, NO_TURN_MASK, ExportFormat, ExportOptions, compact_json, tool_output_text

_CALL = {"type": Value("string"), "function": {"name": Value("string"), "arguments": Value("string")}}
_MESSAGE = {
    "role": Value("string"),
    "content": Value("string"),
    "tool_calls": List(_CALL),
    "name": Value("string"),
}
_TOOL = {
    "type": Value("string"),
    "function": {"name": Value("string"), "description": Value("string"), "parameters": Value("string")},
}


def _message(role: str, content: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
             name: str | None = None) -> dict[str, Any]:
    return {"role": role, "content": content, "tool_calls": tool_calls, "name": name}


class VerlSftFormat(ExportFormat):
    """``verl-sft``: verl multi-turn SFT rows, every column a plain nested Arrow type."""

    name = "verl-sft"
    schema_name = "export-verl-sft"
    features = Features({"messages": List(_MESSAGE), "tools": List(_TOOL)})
    file_types = (".parquet",)
    usage = (
        "verl SFT trainer: data.train_files={file} data.multiturn.enable=true "
        "data.multiturn.messages_key=messages data.multiturn.tools_key=tools." + NO_TURN_MASK
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        messages = [_message(m["role"], m["content"]) for m in example.task.opening()]
        steps = example.trace.steps
        for turn in example.trace.turns():
            calls = [{"type": "function",
                      "function": {"name": steps[i].tool, "arguments": compact_json(steps[i].arguments)}}
                     for i in turn]
            messages.append(_message("assistant", tool_calls=calls))
            messages += [_message("tool", tool_output_text(steps[i]), name=steps[i].tool) for i in turn]
        messages.append(_message("assistant", example.task.final_message))
        tools = [
            {"type": "function",
             "function": {"name": t.name, "description": t.description,
                          "parameters": compact_json(t.input_schema)}}
            for t in example.tools
        ]
        return {"messages": messages, "tools": tools}
