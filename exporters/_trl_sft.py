"""TRL SFTTrainer rows: conversational language modelling with tools.

Row shape (``schemas.TrlSftRow``, schemas/json/export-trl-sft.json)::

    {"messages": [
        {"role": "user", "content": <task.user_request>},
        {"role": "assistant", "tool_calls": [{"type": "function",
                                              "function": {"name": ..., "arguments": {...}}}]},
        {"role": "tool", "name": ..., "content": <output: a string as-is, else compact JSON>},
        ... one call/result pair per step ...
        {"role": "assistant", "content": <task.final_message>}],
     "tools": [{"type": "function", "function": {"name", "description", "parameters"}}, ...]}

Parallel calls share one assistant turn (several ``tool_calls``); multi_turn tasks
carry their dialogue turns before the calls; a no_call task has no tool calls.

How the heterogeneous JSON is stored
------------------------------------
Messages differ in their keys (user: role+content; assistant: role+tool_calls; tool:
role+name+content), tool arguments differ per tool, and every tool's ``parameters`` is a
different JSON Schema. Arrow structs would align all of them to one union of keys and fill the
gaps with nulls, so a trainer would see ``"content": None`` on tool-call turns and
``{"country": "France", "latitude": None, ...}`` as arguments. TRL's dataset-format docs (tool
calling section, huggingface/trl PR #5307, "Suggest the Json() type for tool calling dataset
format") recommend datasets' ``Json`` feature for this (datasets >= 4.7); TRL's trainers also
accept ``tools`` as a JSON string (PR #5118, ``json.loads(tools) if isinstance(tools, str)`` in
``SFTTrainer``), but ``messages`` must load as a list of dicts. We therefore write

    features = {"messages": List(Json()), "tools": List(Json())}

i.e. each message and each tool definition is one JSON value (the same features datasets itself
uses for agent traces, ``AGENT_TRACES_FEATURES``). ``load_dataset("parquet")`` restores the
features from the file's metadata and hands back exactly the dicts that were written, key for key,
so ``SFTTrainer`` and ``trl.apply_chat_template`` take the rows unmodified. The JSON text of every
value is written by the standard library, so the parquet file holds exact numbers.

One caveat, measured and reported rather than hidden: datasets decodes ``Json`` values with
pandas' ujson, which is not round-trip exact for some floats (``-0.7`` loads as
``-0.7000000000000001``; loading JSON Lines also rounds to 10 decimals first; see
huggingface/datasets PR #8652). The exporter lists every such value in the manifest's
``load_drift``; readers that parse the JSON text themselves (pyarrow, DuckDB, ``json.loads``)
get the exact value.

A parquet export of this format usually never calls ``row``: the store keeps each example's
rendering (``schemas.render_example``: exactly these two lists as JSON texts, checked against
this row's schema) and exporters/_fast.py copies it, writing the same bytes.
"""

from __future__ import annotations

from typing import Any

from datasets import Features, Json, List

from schemas import Example, VersionInfo

from ._base import DEFAULT_OPTIONS, NO_TURN_MASK, ExportFormat, ExportOptions, conversation, function_tools


class TrlSftFormat(ExportFormat):
    """``trl-sft``: rows for TRL's SFTTrainer (``messages`` + ``tools``)."""

    name = "trl-sft"
    schema_name = "export-trl-sft"
    features = Features({"messages": List(Json()), "tools": List(Json())})
    usage = "TRL SFTTrainer: load_dataset on {file} (messages + tools)." + NO_TURN_MASK

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        return {"messages": conversation(example), "tools": function_tools(example)}
