"""Exporters: sealed dataset versions out to the formats training frameworks load.

    export_rows(rows, fmt=..., out=..., version=...) -> ExportResult
        rows: (Example, score, split) in the order to write, read from a sealed version
        fmt:  a key of FORMATS ("trl-sft", "verl")
        out:  <name>.parquet or <name>.jsonl; <out>.manifest.json is written beside it

    export_replay_table(store, version, out) -> ExportResult
        the observations behind a version's examples, one row per call, as parquet
        (``--format replay``; load with generators.ReplaySimulator.from_parquet)

One module per format (``_trl_sft``, ``_verl``), each subclassing ``ExportFormat``; the row
shapes live in ``schemas`` (``TrlSftRow``, ``VerlRow``) with their JSON Schemas in
schemas/json/, and every row is checked against its schema before it is written. Exporters read
what store/ hands them and never call tools or models.
"""

from ._base import ExportFormat
from ._export import FORMATS, ExportResult, export_rows
from ._replay_table import REPLAY_FORMAT, REPLAY_SCHEMA, export_replay_table

__all__ = [
    "ExportFormat",
    "ExportResult",
    "FORMATS",
    "REPLAY_FORMAT",
    "REPLAY_SCHEMA",
    "export_replay_table",
    "export_rows",
]
