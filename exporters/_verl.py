"""verl RL parquet rows: the prompt to roll out from, and what a rule reward checks.

Row shape (``schemas.VerlRow``, schemas/json/export-verl.json), the columns of verl's data
preparation scripts (``data_source``, ``prompt``, ``ability``, ``reward_model``, ``extra_info``)::

    {"data_source": "backchain/<dataset>",
     "prompt": [{"role": "system", "content": <the tools, one JSON definition a line>},
                {"role": "user", "content": <task.user_request>}],
     "ability": "tool_use",
     "reward_model": {"style": "rule", "ground_truth": <JSON text>},
     "extra_info": {"split", "index", "example_id", "dataset", "version", "example"}}

``ground_truth`` is compact JSON text, keys sorted, of ``exporters._base.ground_truth``:
``{"kind", "answer", "answer_values", "normaliser": {"kind", "tolerance"}, "expected_calls"}``.
verl hands it unchanged to ``compute_score(data_source, solution_str, ground_truth,
extra_info)``, which ``json.loads`` it. ``extra_info.example`` is the Example record as JSON text:
what a rubric reward needs to re-run construction checks and ask judge leaves about the row.

Every column has one fixed shape (the heterogeneous parts, tool schemas and arguments, travel as
text inside ``prompt`` and ``ground_truth``), so the file uses plain Arrow types, no ``Json``
feature, and loads exactly with ``datasets``, pandas or pyarrow. ``index`` is the row's position
in its file.

An RL format: the export also writes ``<stem>.reward_spec.json`` (the rubric tree and judge
settings) and ``<stem>.replay.parquet`` (the recorded calls, for an offline tool environment).
"""

from __future__ import annotations

from typing import Any

from datasets import Features, List, Value

from schemas import Example, VersionInfo

from ._base import DEFAULT_OPTIONS, ExportFormat, ExportOptions, compact_json, function_tools, ground_truth

SYSTEM_PROMPT = (
    "You can call the following tools. Each line is one function definition as JSON:\n"
    "{tools}\n"
    "Call a tool by naming the function and giving its arguments as a JSON object. "
    "When you have what the user asked for, answer in plain text."
)


class VerlFormat(ExportFormat):
    """``verl``: RL rows for verl's RLHFDataset, with a rule-based ground truth."""

    name = "verl"
    schema_name = "export-verl"
    rl = True
    usage = (
        "verl: data.train_files={file} (RLHFDataset: data_source, prompt, ability, reward_model, "
        "extra_info); the reward reads reward_model.ground_truth (JSON) and extra_info.example; "
        "{stem}.reward_spec.json is the rubric tree and judge settings, {stem}.replay.parquet the "
        "recorded calls (generators.ReplaySimulator.from_parquet)."
    )
    features = Features(
        {
            "data_source": Value("string"),
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "ability": Value("string"),
            "reward_model": {"style": Value("string"), "ground_truth": Value("string")},
            "extra_info": {
                "split": Value("string"),
                "index": Value("int64"),
                "example_id": Value("string"),
                "dataset": Value("string"),
                "version": Value("int64"),
                "example": Value("string"),
            },
        }
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        tools = "\n".join(compact_json(tool) for tool in function_tools(example))
        reward_model = {"style": "rule", "ground_truth": compact_json(ground_truth(example), sort_keys=True)}
        return {
            "data_source": f"backchain/{version.dataset}",
            "prompt": [
                {"role": "system", "content": SYSTEM_PROMPT.format(tools=tools)},
                *example.task.opening(),
            ],
            "ability": "tool_use",
            "reward_model": reward_model,
            "extra_info": {
                "split": split,
                "index": index,
                "example_id": example.example_id,
                "dataset": version.dataset,
                "version": version.version,
                "example": example.model_dump_json(),
            },
        }
