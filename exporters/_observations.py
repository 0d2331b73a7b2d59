"""``--format trl-sft --observations``: observation-prediction rows (ECHO), one per tool output.

ECHO's finding: a next-token loss on the environment's responses, not only on the agent's
actions, roughly doubled pass rates. These rows train exactly that: given the conversation up
to a tool call, predict what the tool returned, the recorded output.

Row shape (``schemas.TrlSftObservationRow``, schemas/json/export-trl-sft-observations.json),
TRL's conversational prompt-completion format::

    {"prompt": [{"role": "user", ...}, ..., {"role": "assistant", "tool_calls": [...]},
                ...the earlier tool messages of the same turn...],
     "completion": [{"role": "tool", "name": "country_info", "content": <recorded output>}],
     "tools": [{"type": "function", "function": {...}}, ...]}

One row per tool message of the example's conversation (``schemas.chat_messages``, the same
rendering as the trl-sft rows, so the texts match byte for byte); parallel calls give one row
per result, each seeing the results before it; a no_call task gives none. A failed call's
error text is an observation like any other. Columns use datasets' ``Json`` feature, as the
trl-sft export does.

How TRL trains on them (trl/trainer/sft_trainer.py, 1.16): for a conversational
prompt-completion row it renders ``prompt`` (with the generation prompt) and
``prompt + completion`` with the row's ``tools``, and puts the loss on the tokens where the
two differ: the tool message as the chat template renders it (with Qwen-style templates,
``<tool_response>...</tool_response>``). TRL logs once that the rendered prompt is not a prefix
(the generation prompt opens an assistant turn, the tool's turn follows instead); the loss
still falls on the tool's reply only.
"""

from __future__ import annotations

from typing import Any

from datasets import Features, Json, List

from schemas import Example, VersionInfo

from ._base import DEFAULT_OPTIONS, ExportFormat, ExportOptions, conversation, function_tools


class TrlSftObservationsFormat(ExportFormat):
    """``trl-sft --observations``: prompt-completion rows whose completion is a tool's output."""

    name = "trl-sft"
    schema_name = "export-trl-sft-observations"
    features = Features({"prompt": List(Json()), "completion": List(Json()), "tools": List(Json())})
    usage = (
        "from datasets import load_dataset; ds = load_dataset('{loader}', data_files='{file}', split='train'); "
        "SFTTrainer(model, train_dataset=ds, ...): prompt-completion rows, the loss on the tool's "
        "recorded output (observation prediction)."
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        rows = self.rows(example, score, split, index, version, options)
        if not rows:
            raise ValueError("the example has no tool output to predict")
        return rows[0]

    def rows(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> list[dict[str, Any]]:
        messages = conversation(example)
        tools = function_tools(example)
        return [
            {"prompt": messages[:k], "completion": [message], "tools": tools}
            for k, message in enumerate(messages)
            if message["role"] == "tool"
        ]
