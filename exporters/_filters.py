"""Which rows of a version an export keeps, and which split each goes to.

    select_rows(store, version, filters, counts)  ->  (example, score, split), streamed

Filters apply in this order, each counted in the manifest's ``selection.dropped``:

    min_score       score >= MIN (a row without a score is dropped)
    kinds           task kind in the list
    tools           the trace calls at least one of the listed tools
    pass_rate_band  LO <= pass rate <= HI, from the ``difficulty`` view; the attempts and passes
                    of every solver that measured the task are pooled. A row with no
                    measurement is dropped and counted as ``not_measured``. Of the rows the
                    band drops, those measured at exactly 0 or 1 are also counted as
                    ``zero_variance``: every attempt got the same reward, so an RL prompt that
                    teaches nothing (RAGEN-2; DAPO's dynamic sampling drops them too).
    dedup           the first row (in export order) of each normalised request (NFKC, case
                    folded, whitespace collapsed: ``validators.normalise_text``) is kept

Then, with ``split``, each row's split is drawn from a hash of the seed and its trace id
(``sha256("<seed>:<trace id>")`` as a number in [0, 1), against the cumulative fractions in the
order given), so every variant of one trace (same ``trace.trace_id``) lands in the same split,
a row's split never depends on which other rows are exported, and the same seed always gives
the same split. Fractions are therefore expected shares, not exact counts. A no_call task has
an empty trace, shared by all of them; it is grouped by its user values instead (the variants
of one no_call draft share them (``schemas.variant_key``). Without ``split`` the split the version
stores is kept.

Order and streaming: rows come in the order the store holds the examples (the order they were
first stored; ``Store.iter_version_examples``), one batch of bodies at a time; pass rates are
looked up per batch (one query over the ``difficulty`` view for the batch's ids). Dedup keeps
one 64-bit hash per kept request, not the rows. ``Store.export_keys`` applies the same filters,
except dedup, in SQL, for the fast trl-sft export (exporters/_fast.py); the two must agree, and
tests/exporters/test_fast_export.py checks that they write the same files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas import (
    ConfigError,
    Example,
    ExportFilters,
    ExportSelection,
    StoreError,
    VersionInfo,
    variant_key,
)

from ._export import Row
from ._staging import closing

if TYPE_CHECKING:
    from store import Store

DROP_REASONS = ("min_score", "kinds", "tools", "not_measured", "pass_rate_band", "dedup")

_PASS_RATES_SQL = (
    "SELECT example_id, sum(passes)::DOUBLE / sum(attempts) FROM difficulty "
    "WHERE attempts > 0 AND example_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) GROUP BY example_id"
)


@dataclass
class SelectionCounts:
    """What the filters did, filled in as rows stream past."""

    read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    zero_variance: int = 0
    """Of the rows the pass-rate band dropped, those measured at 0 or 1: no reward variance."""

    def model(self) -> ExportSelection:
        return ExportSelection(rows_in_version=self.read, rows_kept=self.kept, dropped=dict(self.dropped),
                               zero_variance=self.zero_variance)


# -- parsing CLI values -------------------------------------------------------------------------


def parse_split(text: str) -> dict[str, float]:
    """``train=0.8,validation=0.1,test=0.1`` -> {"train": 0.8, ...} (validated by ExportFilters)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--split {text!r}: write NAME=FRACTION pairs, e.g. train=0.8,test=0.2")
        if name.strip() in out:
            raise ConfigError(f"--split {text!r}: {name.strip()!r} is given twice")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--split {text!r}: {value!r} is not a number") from None
    return out


def parse_band(text: str) -> tuple[float, float]:
    """``0.1,0.9`` -> (0.1, 0.9)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--pass-rate-band {text!r}: write LO,HI, e.g. 0.1,0.9") from None
    return lo, hi


def parse_names(text: str) -> list[str]:
    """``a, b,c`` -> ["a", "b", "c"]."""
    return [p.strip() for p in text.split(",") if p.strip()]


# -- the selection -------------------------------------------------------------------------------


def split_of(example: Example, fractions: dict[str, float], seed: int) -> str:
    """The split a row goes to: by its trace (variants together), seeded."""
    digest = hashlib.sha256(f"{seed}:{variant_key(example)}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = 0.0
    names = list(fractions)
    for name in names:
        total += fractions[name]
        if u < total:
            return name
    return names[-1]


def _request_key(example: Example) -> int:
    from schemas import normalise_text

    text = normalise_text(example.task.user_request)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def select_rows(
    store: Store,
    version: VersionInfo,
    filters: ExportFilters,
    counts: SelectionCounts | None = None,
    *,
    batch_size: int = 1000,
) -> Iterator[Row]:
    """The version's rows that pass ``filters``, each with its split, in the order the store
    holds them (``Store.iter_version_examples``, the order ``Store.export_keys`` gives)."""
    counts = counts if counts is not None else SelectionCounts()
    kinds: set[str] | None = set(filters.kinds) if filters.kinds else None
    tools = set(filters.tools) if filters.tools else None
    seen: set[int] = set()
    rows = store.iter_version_examples(version.version_id, batch_size=batch_size)
    with closing(rows):
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) == batch_size:
                yield from _filter_batch(store, batch, filters, kinds, tools, seen, counts)
                batch = []
        if batch:
            yield from _filter_batch(store, batch, filters, kinds, tools, seen, counts)


def _filter_batch(
    store: Store, batch: list[Row], filters: ExportFilters, kinds: set[str] | None,
    tools: set[str] | None, seen: set[int], counts: SelectionCounts,
) -> Iterator[Row]:
    rates = _pass_rates(store, [ex.example_id for ex, _, _ in batch]) if filters.pass_rate_band else {}
    for example, score, split in batch:
        counts.read += 1
        reason = _reason(example, score, filters, kinds, tools, rates)
        if reason is None and filters.dedup:
            key = _request_key(example)
            if key in seen:
                reason = "dedup"
            else:
                seen.add(key)
        if reason is not None:
            counts.dropped[reason] += 1
            if reason == "pass_rate_band" and rates[example.example_id] in (0.0, 1.0):
                counts.zero_variance += 1
            continue
        if filters.split:
            split = split_of(example, filters.split, filters.split_seed)
        counts.kept += 1
        yield example, score, split


def _reason(
    example: Example, score: float | None, filters: ExportFilters, kinds: set[str] | None,
    tools: set[str] | None, rates: dict[str, float],
) -> str | None:
    if filters.min_score is not None and (score is None or score < filters.min_score):
        return "min_score"
    if kinds is not None and example.task.kind not in kinds:
        return "kinds"
    if tools is not None and not any(step.tool in tools for step in example.trace.steps):
        return "tools"
    if filters.pass_rate_band is not None:
        rate = rates.get(example.example_id)
        if rate is None:
            return "not_measured"
        lo, hi = filters.pass_rate_band
        if not lo <= rate <= hi:
            return "pass_rate_band"
    return None


def _pass_rates(store: Store, ids: list[str]) -> dict[str, float]:
    try:
        _columns, found = store.query(_PASS_RATES_SQL, [ids])
    except StoreError as exc:
        raise ConfigError(
            f"--pass-rate-band needs the difficulty view, which {store.path} cannot answer ({exc}); "
            "open it with the current backchain (migrations add it) and run `backchain difficulty`"
        ) from exc
    return {example_id: float(rate) for example_id, rate in found}
