"""TRL GRPOTrainer rows, and the reward function module written beside them.

Row shape (``schemas.TrlGrpoRow``, schemas/json/export-trl-grpo.json)::

    {"prompt": [{"role": "user", "content": <request>}, ... dialogue of a multi_turn task ...],
     "tools": [{"type": "function", "function": {"name", "description", "parameters"}}, ...],
     "kind": "multi_step",
     "ground_truth": "{\"answer\":...,\"answer_values\":[...],\"expected_calls\":[...],...}",
     "example_id": "...",
     "example": "<the Example record as JSON text>"}

TRL's contract (GRPOTrainer docs, ``trl/trainer/grpo_trainer.py`` ``_calculate_rewards``): a
``prompt`` column (conversational: a list of messages), and every other column is handed to
each reward function as a keyword argument, one value per completion:
``f(prompts, completions, completion_ids, **columns) -> list[float | None]`` (None: this
reward does not apply to the row). So the row carries exactly what a reward reads:
``ground_truth`` (the same JSON as verl's ``reward_model.ground_truth``) and ``kind`` for the
answer checker, ``example`` for a rubric reward that asks judge leaves
(``validators.trl_reward``), ``tools`` for an environment or a chat template.

``prompt`` holds the user's turns only. GRPOTrainer renders prompts with the tools given to
the trainer itself (``tools=`` callables, or an ``environment_factory`` whose methods are the
tools; an offline one answers from ``<stem>.replay.parquet``), not with a column, so no system
message repeats the tool list here; ``tools`` gives each task's offered functions as JSON
Schemas (``Json`` feature, as in the trl-sft export).

Beside the data: ``<stem>.reward.py``, the answer checker as a reward function
(``exporters/_grpo_reward.py`` with the source of ``schemas/_text.py`` inlined; standard
library and python-dateutil only), plus the RL sidecars every RL format gets:
``<stem>.reward_spec.json`` and ``<stem>.replay.parquet``.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Any

from datasets import Features, Json, List, Value

from schemas import ExportError, VersionInfo

from . import _grpo_reward
from ._base import (
    DEFAULT_OPTIONS,
    ExportFormat,
    ExportOptions,
    ExtraFile,
    FinishContext,
    compact_json,
    function_tools,
    ground_truth,
)

_BACKCHAIN_PACKAGES = ("schemas", "validators", "generators", "store", "exporters", "flows")


class TrlGrpoFormat(ExportFormat):
    """``trl-grpo``: prompt-only rows for GRPOTrainer plus the reward columns and module."""

    name = "trl-grpo"
    schema_name = "export-trl-grpo"
    features = Features(
        {
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "tools": List(Json()),
            "kind": Value("string"),
            "ground_truth": Value("string"),
            "example_id": Value("string"),
            "example": Value("string"),
        }
    )
    rl = True
    usage = (
        "from datasets import load_dataset; from importlib.util import spec_from_file_location, "
        "module_from_spec; ds = load_dataset('{loader}', data_files='{file}', split='train'); "
        "spec = spec_from_file_location('backchain_reward', '{stem}.reward.py'); "
        "reward = module_from_spec(spec); spec.loader.exec_module(reward); "
        "GRPOTrainer(model, reward_funcs=reward.reward, train_dataset=ds, ...). "
        "{stem}.reward_spec.json is the rubric tree and judge settings, {stem}.replay.parquet the "
        "recorded calls for an offline tool environment."
    )

    def row(
        self, example: Any, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        return {
            "prompt": example.task.opening(),
            "tools": function_tools(example),
            "kind": example.task.kind,
            "ground_truth": compact_json(ground_truth(example), sort_keys=True),
            "example_id": example.example_id,
            "example": example.model_dump_json(),
        }

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        source = reward_module_source(ctx.version)
        return [ExtraFile(f"{ctx.stem}.reward.py", source.encode("utf-8"), "reward_module")]


def reward_module_source(version: VersionInfo | None = None) -> str:
    """The self-contained reward module: the checker's source, then the reward function's."""
    checker_path = Path(_text_module_file())
    checker = checker_path.read_text(encoding="utf-8")
    template = Path(_grpo_reward.__file__).read_text(encoding="utf-8")
    checker_body = _strip(checker, "schemas/_text.py", drop_backchain_imports=True)
    reward_body = _strip(template, "exporters/_grpo_reward.py", drop_backchain_imports=True)
    digest = hashlib.sha256(checker.encode("utf-8")).hexdigest()
    made_for = f" for {version.dataset}@{version.version}" if version is not None else ""
    header = (
        f'"""backchain reward for TRL GRPOTrainer{made_for}: reward(prompts, completions, '
        "completion_ids=None, **columns).\n\n"
        "Generated by `backchain export --format trl-grpo`. Reads the ground_truth and kind columns;\n"
        "1.0 when the final answer states every expected value, 0.0 when not; a no_call task is\n"
        "solved by answering without calling a tool; None for a row it cannot read.\n\n"
        f"The answer checker below is backchain's schemas/_text.py, verbatim (sha256 {digest}),\n"
        "without its import of backchain's record classes (only used in annotations).\n"
        '"""\n\nfrom __future__ import annotations\n\n'
    )
    source = (
        header
        + "# ---- the answer checker: backchain schemas/_text.py " + "-" * 33 + "\n\n"
        + checker_body.strip() + "\n\n\n"
        + "# ---- the reward: backchain exporters/_grpo_reward.py " + "-" * 31 + "\n\n"
        + reward_body.strip() + "\n"
    )
    try:
        compile(source, "reward.py", "exec")
    except SyntaxError as exc:  # pragma: no cover - the pieces are valid modules
        raise ExportError(f"the generated reward module does not compile: {exc}") from exc
    return source


def _text_module_file() -> str:
    from schemas import _text

    return str(_text.__file__)


def _strip(source: str, name: str, *, drop_backchain_imports: bool) -> str:
    """``source`` without its docstring, its ``from __future__`` import and backchain imports.

    A backchain import the generated module could not do without (any but record classes
    used in annotations) is an ExportError: the module must stay self-contained.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        drop |= set(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            drop |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and drop_backchain_imports:
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and module.split(".")[0] in _BACKCHAIN_PACKAGES:
                # the record classes (annotations only) and the checker itself (inlined above)
                allowed = module in ("schemas", "schemas._records", "schemas._text")
                if not allowed:
                    raise ExportError(
                        f"{name} imports {module}; the trl-grpo reward module must be self-contained"
                    )
                drop |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "".join(line for i, line in enumerate(lines, start=1) if i not in drop)
