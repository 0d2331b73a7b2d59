"""The export formats by name (``--format``), one module each."""

from __future__ import annotations

from ._base import ExportFormat
from ._bfcl import BfclFormat
from ._hf import HfFormat
from ._openai import OpenAIFormat
from ._sharegpt import ShareGptFormat
from ._trl_grpo import TrlGrpoFormat
from ._trl_sft import TrlSftFormat
from ._verifiers import VerifiersFormat
from ._verl import VerlFormat
from ._verl_sft import VerlSftFormat

FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in sorted(
        (BfclFormat(), HfFormat(), OpenAIFormat(), ShareGptFormat(), TrlGrpoFormat(), TrlSftFormat(),
         VerifiersFormat(), VerlFormat(), VerlSftFormat()),
        key=lambda f: f.name,
    )
}
"""Export formats by name (``--format``); ``replay`` is separate (one row per call). Options pick
a variant of some (``_pipeline.format_for``): verl ``--multi-turn``, trl-grpo ``--tools-module``,
trl-sft ``--observations``."""
