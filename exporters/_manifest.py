"""The manifest written beside every export (``<out>.manifest.json``, ``schemas.ExportManifest``):
which version, format, filters and selection, every file with its role, sha256, size and rows,
and the values ``datasets`` will load back changed. Staged last, so it lands last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from schemas import ExportedFile, ExportFilters, ExportManifest, ExportSelection, LoadDrift, VersionInfo

from ._base import DataFile, ExportOptions
from ._drift import DriftLog
from ._staging import Staging, sha256_of

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    format: str
    path: Path
    row_count: int
    sha256: str | None
    """sha256 of the data file when the export is one data file, else None (see ``files``)."""
    manifest_path: Path
    load_drift: tuple[LoadDrift, ...] = field(default=())
    """Values ``datasets.load_dataset`` will return changed (see the manifest's ``load_drift``)."""
    files: tuple[ExportedFile, ...] = field(default=())
    splits: tuple[tuple[str, int], ...] = field(default=())


def file_entry(stage: Staging, rel: str, role: str, rows: int | None = None,
               split: str | None = None) -> ExportedFile:
    path = stage.staged(rel)
    return ExportedFile(path=rel, role=role, sha256=sha256_of(path), bytes=path.stat().st_size,  # type: ignore[arg-type]
                        rows=rows, split=split)


def write_manifest(
    stage: Staging,
    out: Path,
    *,
    fmt_name: str,
    usage: str,
    version: VersionInfo,
    files: list[ExportedFile],
    data: list[DataFile],
    drift: list[LoadDrift],
    filters: ExportFilters | None,
    selection: ExportSelection | None,
    options: ExportOptions,
) -> tuple[str, ExportManifest]:
    """Stage ``<out>.manifest.json``; return its relative path and the manifest."""
    data_entries = [f for f in files if f.role == "data"]
    single = data_entries[0].sha256 if len(data_entries) == 1 else None
    splits: dict[str, int] = {}
    for d in data:
        if d.split is not None:
            splits[d.split] = splits.get(d.split, 0) + d.rows
    manifest = ExportManifest(
        version_id=version.version_id,
        dataset=version.dataset,
        version=version.version,
        content_hash=version.content_hash,
        format=fmt_name,
        file=out.name,
        row_count=sum(d.rows for d in data),
        sha256=single,
        files=files,
        splits=splits,
        filters=filters or ExportFilters(),
        selection=selection,
        train_on_tool_outputs=options.train_on_tool_outputs,
        multi_turn=options.multi_turn,
        tools_module=options.tools_module,
        observations=options.observations,
        usage=usage,
        created_by="backchain export",
        load_drift=list(drift),
        load_drift_total=drift.total if isinstance(drift, DriftLog) else len(drift),
    )
    rel = out.name + MANIFEST_SUFFIX
    stage.path(rel).write_text(
        json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return rel, manifest
