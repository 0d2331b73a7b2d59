"""Exporters: sealed dataset versions out to the formats training frameworks load.

    export_version(store, version, fmt=..., out=..., filters=ExportFilters(...), options=...)
        the CLI's path: select rows (min score, kinds, tools, pass-rate band, dedup, a seeded
        split by trace), write the format, RL sidecars, <out>.manifest.json
    export_rows(rows, fmt=..., out=..., version=...) -> ExportResult
        rows: (Example, score, split) already chosen, written in the order given
    export_replay_table(store, version, out)
        the recorded calls behind a version, one row per call (``--format replay``)
    bfcl_check(ground_truth, calls) -> (ok, reason)
        BFCL's AST check of a model's calls against a possible answer

Formats (``FORMATS``), one module each: ``trl-sft``, ``trl-grpo`` (+ reward module), ``verl``
(RL), ``verl-sft``, ``openai``, ``sharegpt`` (+ dataset_info.json), ``hf`` (DatasetDict +
card), ``bfcl`` (questions + possible answers), ``verifiers`` (an environment package). Row
shapes live in ``schemas`` with their JSON Schemas in schemas/json/export-*.json; every row is
checked against its schema before it is written. Exporters read what store/ hands them and
never call tools or models.

RL environments (issue 19), chosen by ``ExportOptions``: ``verl`` with ``multi_turn`` (rows for
verl's tool agent loop + ``<stem>.tools.yaml``, exporters/_verl_tool_agent.py), ``trl-grpo`` with
``tools_module`` (``<stem>.tools.py``: typed replay-backed tool functions and an
``environment_factory`` class, exporters/_trl_tools.py), ``verifiers`` (exporters/_verifiers.py);
``trl-sft`` with ``observations`` writes observation-prediction rows (exporters/_observations.py).
What those files run at training time, answering tool calls from the replay table and scoring
with the rubric tree of the reward spec, is ``exporters.rl_env``.

Rows go out in the order the store holds the examples. A trl-sft parquet export without
``--dedup`` copies the chat renderings the store keeps per example (exporters/_fast.py: no body
parsed, no row built in Python); every other export builds each row in Python. Both write the
same bytes for the same rows.
"""

from ._base import ExportFormat, ExportOptions, conversation, function_tools, ground_truth
from ._bfcl import bfcl_check
from ._filters import SelectionCounts, parse_band, parse_names, parse_split, select_rows, split_of
from ._formats import FORMATS
from ._manifest import MANIFEST_SUFFIX, ExportResult
from ._pipeline import export_rows, export_version
from ._replay_table import REPLAY_FORMAT, REPLAY_SCHEMA, export_replay_table
from ._reward_spec import build_reward_spec
from ._trl_grpo import reward_module_source

__all__ = [
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "FORMATS",
    "MANIFEST_SUFFIX",
    "REPLAY_FORMAT",
    "REPLAY_SCHEMA",
    "SelectionCounts",
    "bfcl_check",
    "build_reward_spec",
    "conversation",
    "export_replay_table",
    "export_rows",
    "export_version",
    "function_tools",
    "ground_truth",
    "parse_band",
    "parse_names",
    "parse_split",
    "reward_module_source",
    "select_rows",
    "split_of",
]
