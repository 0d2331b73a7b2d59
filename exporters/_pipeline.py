"""export_rows and export_version: rows (or a sealed version) in, files plus a manifest out.

    export_version(store, version, fmt=..., out=..., filters=..., options=...)
        select_rows (filters, split) ─> export_rows ─> data files, extra files, RL sidecars,
                                                       <out>.manifest.json

``export_rows`` takes rows that are already chosen (example, score, split), as a test or a
caller with its own selection has them; ``export_version`` reads a sealed version from the
store, applies the filters, and for RL formats (verl, trl-grpo, verifiers) adds the reward spec
(``<stem>.reward_spec.json``) and the replay table of the exported rows
(``<stem>.replay.parquet``, a second streaming pass over the same selection; a verifiers
package keeps both inside itself: ``ExportFormat.sidecar_paths``). ``format_for`` picks the
variant an option asks for (verl ``multi_turn``, trl-grpo ``tools_module``, trl-sft
``observations``), a fresh instance per export.

Every file goes through one ``Staging``: nothing appears at the target until all of them,
and the manifest last, are complete.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import datasets

from schemas import ConfigError, ExportError, ExportFilters, ExportSelection, LoadDrift, VersionInfo

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions, FinishContext
from ._export import Row, write_rows
from ._fast import plan_fast_export
from ._filters import SelectionCounts, select_rows, split_of
from ._formats import FORMATS
from ._manifest import MANIFEST_SUFFIX, ExportResult, file_entry, write_manifest
from ._observations import TrlSftObservationsFormat
from ._replay_table import write_replay_table
from ._reward_spec import build_reward_spec, reward_spec_json
from ._sharegpt import DATASET_INFO, dataset_name
from ._staging import Staging, closing
from ._trl_tools import TrlGrpoToolsFormat
from ._verifiers import env_id
from ._verl_tool_agent import VerlToolAgentFormat

if TYPE_CHECKING:
    from store import Store

Sidecars = Callable[[Staging, str], list[tuple[str, str, int | None]]]
Extra = tuple[str, str, int | None, str | None]
"""A non-data file a format's ``write_data`` staged: (path, role, rows, split)."""
_UPDATED_IN_PLACE = (DATASET_INFO,)


def export_rows(
    rows: Iterable[Row],
    *,
    fmt: str,
    out: Path,
    version: VersionInfo,
    options: ExportOptions | None = None,
    filters: ExportFilters | None = None,
    selection: ExportSelection | Callable[[], ExportSelection] | None = None,
    sidecars: Sidecars | None = None,
    provenance: dict[str, Any] | None = None,
) -> ExportResult:
    """Write ``rows`` (example, score, split), in the order given, as format ``fmt`` to ``out``.

    The file type follows the extension of ``out`` (see each format's ``file_types``; ``hf``
    writes a directory). With ``filters.split``, each row's split is drawn as ``select_rows``
    draws it (by trace, seeded) and goes to the file of its split (``<stem>-<split><suffix>``);
    the other filters choose rows from a store and are ``export_version``'s (here they are only
    recorded in the manifest). A manifest is written to ``out`` +
    ``.manifest.json``. Every row is checked against the format's JSON Schema first. Raises
    ConfigError for an unknown format, extension or option, ExportError for a row that fails
    its schema or a path that cannot be written.
    """
    options = options or DEFAULT_OPTIONS
    writer = format_for(fmt, options)
    out = Path(out)
    check_target(writer, out)
    check_options(writer, options)
    split_names = list(filters.split) if filters is not None and filters.split else None
    if filters is not None and filters.split:
        rows = _assign_splits(rows, filters.split, filters.split_seed)

    def write_data(stage: Staging) -> tuple[list[DataFile], list[LoadDrift], list[Extra]]:
        write = getattr(writer, "write_data", None)
        if write is not None:
            return write(rows, stage, out, version, options, split_names, provenance, filters)  # type: ignore[no-any-return]
        data, drift = write_rows(rows, writer, stage, out, version, options, split_names)
        return data, drift, []

    with closing(rows):
        return _export(writer, out, version, options, filters, selection, sidecars, write_data)


def _export(
    writer: ExportFormat,
    out: Path,
    version: VersionInfo,
    options: ExportOptions,
    filters: ExportFilters | None,
    selection: ExportSelection | Callable[[], ExportSelection] | None,
    sidecars: Sidecars | None,
    write_data: Callable[[Staging], tuple[list[DataFile], list[LoadDrift], list[Extra]]],
) -> ExportResult:
    """Stage the data (``write_data``), the format's extra files, the sidecars and the manifest;
    then move them into place, the manifest last."""
    stem = out.stem if out.suffix else out.name
    with Staging(out) as stage, _quiet_progress():
        data, drift, extra = write_data(stage)
        files = [file_entry(stage, d.path, "data", d.rows, d.split) for d in data]
        files += [file_entry(stage, rel, role, n, split) for rel, role, n, split in extra]
        existing = {name: (out.parent / name).read_bytes() for name in _UPDATED_IN_PLACE
                    if (out.parent / name).is_file()}
        context = FinishContext(version, data, options, stem, existing, target_dir=out.parent.resolve())
        for made in writer.extra_files(context):
            stage.path(made.path).write_bytes(made.content)
            files.append(file_entry(stage, made.path, made.role))
        if sidecars is not None:
            for rel, role, n in sidecars(stage, stem):
                files.append(file_entry(stage, rel, role, n))
        chosen = selection() if callable(selection) else selection
        manifest_rel, manifest = write_manifest(
            stage, out, fmt_name=writer.name, usage=_usage(writer, data, stem, version, out),
            version=version, files=files, data=data, drift=drift, filters=filters,
            selection=chosen, options=options,
        )
        stage.commit(last=manifest_rel)
    return ExportResult(
        format=writer.name,
        path=out,
        row_count=manifest.row_count,
        sha256=manifest.sha256,
        manifest_path=out.parent / manifest_rel,
        load_drift=tuple(drift),
        files=tuple(files),
        splits=tuple(manifest.splits.items()),
    )


def export_version(
    store: Store,
    version: VersionInfo,
    *,
    fmt: str,
    out: Path,
    filters: ExportFilters | None = None,
    options: ExportOptions | None = None,
    rubric: str | None = None,
    batch_size: int = 1000,
) -> ExportResult:
    """Export a sealed version: select rows by ``filters``, write ``fmt`` to ``out``.

    Rows go out in the order the store holds them (see ``Store.export_keys``). A trl-sft parquet
    export without ``--dedup`` copies the renderings the store keeps (exporters/_fast.py); any
    other goes through ``export_rows``. Both write the same bytes for the same rows.
    RL formats also get ``<stem>.reward_spec.json`` (``rubric`` overrides the run's tree) and
    ``<stem>.replay.parquet``. The manifest records the filters and what each dropped.
    """
    out, options = Path(out), options or DEFAULT_OPTIONS
    writer = format_for(fmt, options)
    filters = filters or ExportFilters()
    if rubric is not None and not writer.rl:
        rl = ", ".join(sorted(n for n, f in FORMATS.items() if f.rl))
        raise ConfigError(f"--rubric is for RL formats ({rl}); {writer.name} writes no reward spec")
    counts = SelectionCounts()
    sidecars: Sidecars | None = None
    if writer.rl:
        spec = build_reward_spec(store, version, rubric)  # before writing anything: fail fast

        def sidecars(stage: Staging, stem: str) -> list[tuple[str, str, int | None]]:
            spec_rel, replay_rel = writer.sidecar_paths(stem)
            stage.path(spec_rel).write_bytes(reward_spec_json(spec))
            again = (ex for ex, _, _ in select_rows(store, version, filters, batch_size=batch_size))
            n = write_replay_table(store, again, stage.path(replay_rel), version)
            return [(spec_rel, "reward_spec", None), (replay_rel, "replay", n)]

    check_target(writer, out)
    check_options(writer, options)
    fast = plan_fast_export(store, version, writer, out, filters, options)
    if fast is not None:  # the same files, from the stored renderings (exporters/_fast.py)
        return _export(writer, out, version, options, filters, fast.selection, sidecars, fast.write)
    rows = select_rows(store, version, filters, counts, batch_size=batch_size)
    return export_rows(
        rows, fmt=fmt, out=out, version=version, options=options, filters=filters,
        selection=counts.model, sidecars=sidecars,
        provenance=store.describe(version.dataset, version.version),
    )


def _assign_splits(rows: Iterable[Row], fractions: dict[str, float], seed: int) -> Iterator[Row]:
    with closing(rows):
        for example, score, _split in rows:
            yield example, score, split_of(example, fractions, seed)


def format_for(fmt: str, options: ExportOptions) -> ExportFormat:
    """The writer of ``fmt`` under ``options``: a fresh instance of a variant that keeps state
    over one export (the tools its rows offer), or the shared one."""
    writer = format_named(fmt)
    if options.multi_turn and writer.name == "verl":
        return VerlToolAgentFormat()
    if options.tools_module and writer.name == "trl-grpo":
        return TrlGrpoToolsFormat()
    if options.observations and writer.name == "trl-sft":
        return TrlSftObservationsFormat()
    return writer


def format_named(fmt: str) -> ExportFormat:
    try:
        return FORMATS[fmt]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(f"unknown export format {fmt!r}; known formats: {known}") from None


def check_target(writer: ExportFormat, out: Path) -> None:
    """The extension fits the format; the path is not a directory where a file goes."""
    if writer.file_types == ("",):  # a directory
        if out.is_file():
            raise ExportError(f"{out} is a file; {writer.name} writes a directory, give a directory path")
        marker = writer.directory_marker
        if out.is_dir() and any(out.iterdir()) and not (marker and (out / marker).is_file()):
            raise ExportError(
                f"{out} is a directory holding other files; give a new directory for the {writer.name} export"
            )
        return
    suffix = out.suffix.lower()
    if suffix not in writer.file_types:
        names = " or ".join(f"*{t}" for t in writer.file_types)
        raise ConfigError(f"cannot tell which file type to write for {out}: {writer.name} writes {names}")
    if out.is_dir():
        raise ExportError(f"{out} is a directory; give a file path such as {out / ('train' + suffix)}")


_OPTION_FORMATS = (("multi_turn", "--multi-turn", "verl"), ("tools_module", "--tools-module", "trl-grpo"),
                   ("observations", "--observations", "trl-sft"))


def check_options(writer: ExportFormat, options: ExportOptions) -> None:
    for option, flag, fmt in _OPTION_FORMATS:
        if getattr(options, option) and writer.name != fmt:
            raise ConfigError(f"{flag} is for --format {fmt}, not {writer.name}")
    if options.observations and options.train_on_tool_outputs is not None:
        raise ConfigError("--observations rows train on tool outputs already; leave out --train-on-tool-outputs")
    weight = options.train_on_tool_outputs
    if weight is None:
        return
    if not writer.tool_weights:
        with_weights = ", ".join(sorted(n for n, f in FORMATS.items() if f.tool_weights))
        raise ConfigError(
            f"--train-on-tool-outputs needs per-message weights, which {writer.name} has not; "
            f"formats that have them: {with_weights}"
        )
    if not math.isfinite(weight) or weight <= 0:
        raise ConfigError(f"--train-on-tool-outputs {weight}: the weight must be a number above 0")


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _usage(writer: ExportFormat, data: list[Any], stem: str, version: VersionInfo, out: Path) -> str:
    first = data[0] if data else None
    file = out.name if writer.file_types == ("",) else (first.path if first else out.name)
    return writer.usage.format_map(_Keep(
        file=file, stem=stem, loader="parquet" if out.suffix.lower() == ".parquet" else "json",
        dataset=dataset_name(version, first.split if first else None), env_id=env_id(out.name),
    ))


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """No tqdm bars from datasets while exporting: the CLI reports the result itself."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


__all__ = ["MANIFEST_SUFFIX", "export_rows", "export_version", "format_for", "format_named"]
