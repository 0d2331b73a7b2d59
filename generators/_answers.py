"""Which field of the last output a task asks for: the answer, chosen before the request is written."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from schemas import Answer, AnswerPointer, Normaliser, Tool, Trace

from ._phraser import Phraser
from ._pool import iter_scalars
from ._trace_values import FieldStats, already_given, field_of, is_echo, render_value, resolve_pointer

_ASK_KINDS = {"number": 3, "count": 3, "date": 3, "datetime": 3, "name": 2, "text": 1, "code": 1, "duration": 2,
              "time": 2, "unit": 0, "flag": -9, "id": -9}


def answer_candidates(trace: Trace, tools: Sequence[Tool] | None = None,
                      stats: FieldStats | None = None) -> list[AnswerPointer]:
    """Fields of the last output worth asking for, best first.

    Dropped: booleans, ids and flags, values an argument already holds (echo), values an
    earlier step's output already gives (the last call would not be needed), fields constant across the tool's observations, empty and long strings, and
    anything the request already contains.
    """
    last = trace.steps[-1]
    if last.is_error:
        return []
    phraser = Phraser(tools)
    scored: list[tuple[int, int, AnswerPointer]] = []
    for pointer, key, value in iter_scalars(last.output):
        if not key or isinstance(value, bool):
            continue
        text = render_value(value)
        if not text.strip() or len(text) > 80 or is_echo(trace, value):
            continue
        if already_given(trace, len(trace.steps) - 1, pointer, value) is not None:
            continue  # an earlier output already answers it: the last call would not be needed
        if stats is not None and (stats.is_constant(last.toolset, last.tool, pointer) or (last.toolset, last.tool, field_of(pointer)) in stats.volatile):
            continue
        meaning = phraser.field(last, pointer, value)
        score = _ASK_KINDS.get(meaning.kind, 0)
        if score < 0:
            continue
        score += (1 if pointer.count("/") == 1 else 0) + (1 if meaning.described else -1)
        scored.append((score, len(scored), AnswerPointer(step=len(trace.steps) - 1, pointer=pointer)))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [p for _, _, p in scored]


def normaliser_for(value: Any) -> Normaliser:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Normaliser(kind="number", tolerance=1e-6)
    if isinstance(value, str) and _ISO_WHEN.match(value):
        return Normaliser(kind="date")
    return Normaliser(kind="casefold")


def choose_answer(trace: Trace, tools: Sequence[Tool] | None = None, stats: FieldStats | None = None,
                  avoid: Iterable[str] = ()) -> Answer | None:
    """A deterministic pick (seeded by the trace) among the best-scored candidates.

    ``avoid``: fields (``/a/*/b``) already asked in the same task.
    """
    avoided = set(avoid)
    candidates = [c for c in answer_candidates(trace, tools, stats) if field_of(c.pointer) not in avoided]
    if not candidates:
        return None
    phraser = Phraser(tools)
    last = trace.steps[-1]
    def score(c: AnswerPointer) -> int:
        m = phraser.field(last, c.pointer)
        return _ASK_KINDS.get(m.kind, 0) + (1 if m.described else -1)

    best = score(candidates[0])
    top = [c for c in candidates if score(c) >= best - 1]
    shallow = [c for c in top if c.pointer.count("/") == 1] or top
    rng = random.Random(trace.trace_id)
    pick = rng.choice(shallow)
    value = resolve_pointer(trace.steps[pick.step].output, pick.pointer)
    return Answer(pointers=[pick], value=value, normaliser=normaliser_for(value))


_ISO_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
