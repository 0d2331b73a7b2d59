"""JSON Schemas generated from the pydantic models, written to schemas/json/.

The files are committed so that non-Python consumers can validate rows; a test
fails when they drift from the models (regenerate with ``python -m schemas``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._export_rows import (
    BfclPossibleAnswer,
    BfclQuestion,
    ExportManifest,
    HfRow,
    OpenAIRow,
    ShareGptRow,
    TrlGrpoRow,
    TrlSftRow,
    VerlRow,
    VerlSftRow,
)
from ._records import (
    Example,
    Judgement,
    Observation,
    Rubric,
    TaskDifficulty,
    Tool,
    ToolEdge,
    Trace,
    VersionInfo,
    VolatileField,
)
from ._reward_spec import RewardSpec
from ._rl_rows import TrlSftObservationRow, VerifiersRow, VerlToolAgentRow

SCHEMA_DIR = Path(__file__).parent / "json"

RECORD_MODELS: dict[str, type[BaseModel]] = {
    "example": Example,
    "export-bfcl-answer": BfclPossibleAnswer,
    "export-bfcl-question": BfclQuestion,
    "export-hf": HfRow,
    "export-manifest": ExportManifest,
    "export-openai": OpenAIRow,
    "export-sharegpt": ShareGptRow,
    "export-trl-grpo": TrlGrpoRow,
    "export-trl-sft": TrlSftRow,
    "export-trl-sft-observations": TrlSftObservationRow,
    "export-verifiers": VerifiersRow,
    "export-verl": VerlRow,
    "export-verl-sft": VerlSftRow,
    "export-verl-tool-agent": VerlToolAgentRow,
    "judgement": Judgement,
    "task-difficulty": TaskDifficulty,
    "tool-edge": ToolEdge,
    "observation": Observation,
    "reward-spec": RewardSpec,
    "rubric": Rubric,
    "tool": Tool,
    "trace": Trace,
    "version": VersionInfo,
    "volatile-field": VolatileField,
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of record ``name`` as validators should apply it to stored JSON."""
    return RECORD_MODELS[name].model_json_schema(mode="serialization")


def _render(name: str) -> str:
    return json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n"


def write_json_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RECORD_MODELS:
        path = directory / f"{name}.json"
        path.write_text(_render(name), encoding="utf-8")
        written.append(path)
    return written


def stale_json_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names whose committed file differs from what the models generate."""
    stale = []
    for name in RECORD_MODELS:
        path = directory / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != _render(name):
            stale.append(name)
    return stale
