"""Back-chaining: write the user's task from a trace that already ran.

The answer is chosen first, as a JSON pointer into the last step's recorded
output, so it is right by construction. Then the request is written so that
everything the calls need and no earlier output provides is in the user's
words: those are the user-supplied values.

Two writers:
- `template_task`: deterministic sentences built by `Phraser` from the tools'
  descriptions, types and units (see `_phrasing`): several phrasings per kind,
  chosen by a seed; values as people write them; no field name, JSON pointer,
  list index or tool name. Always available.
- `LLMWriter` (`_writer.py`): a model rewrites the request and the final answer,
  grounded on the recorded values; the checks prove it kept them.

Which field is asked for matters as much as how: `answer_candidates` drops
booleans, ids, flags, fields that echo an argument and fields whose value never
changes across the tool's observations (`FieldStats`), and prefers fields whose
meaning reads well.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from collections.abc import Sequence

from schemas import Answer, Task, Tool, Trace, value_hint

from ._answers import answer_candidates, choose_answer
from ._phraser import Phraser, _zone_of_the_place
from ._phrasing import (
    join,
    label,
    ordinal,
    words_of,
)
from ._roles import _names_item, _tidy, item_noun
from ._trace_values import FieldStats, render_value, resolve_pointer, user_values

__all__ = [
    "FieldStats",
    "Phraser",
    "answer_candidates",
    "choose_answer",
    "label",
    "render_value",
    "resolve_pointer",
    "template_task",
    "user_values",
]





# --- the template writer -----------------------------------------------------------------------------

def _date_stated(trace: Trace) -> bool:
    return any(value_hint(p, {}) == "date" or "date" in words_of(p) for s in trace.steps for p in s.arguments)


def template_task(trace: Trace, answer: Answer, *, withheld: str | None = None,
                  tools: Sequence[Tool] | None = None, seed: int | str | None = None) -> Task:
    """The deterministic draft: every user value stated, the answer asked for, no tool named.

    ``withheld`` names a user-supplied parameter left out of the first request
    ("for a country"); the caller adds the turns in which the user supplies it.
    The phrasing (one of several per kind) is chosen by ``seed`` (default: the trace).
    """
    phraser = Phraser(tools, withheld=withheld)
    rng = random.Random(f"{seed if seed is not None else trace.trace_id}:{answer.pointers[0].pointer}")
    last = len(trace.steps) - 1
    pointer = answer.pointers[0].pointer
    meaning = phraser.field(trace.steps[last], pointer, answer.value)
    item = phraser.item(trace.steps[last], pointer)
    if item is not None and _names_item(meaning, item.noun):
        meaning = dataclasses.replace(meaning, noun=item.phrase().removeprefix("the "), count_of=None)
    elif item is not None:
        noun = item_noun(meaning.noun, item.phrase())
        count_of = noun if meaning.count_of and re.search(r"\bit\b", meaning.noun) else meaning.count_of
        if count_of and not re.search(r"\bit\b", meaning.noun):
            count_of = f"{count_of} for {item.phrase()}"
        meaning = dataclasses.replace(meaning, noun=noun, count_of=count_of)
    sourced = [(s.step, s.pointer) for p, s in trace.steps[last].sources.items()
               if s.origin == "step" and s.step is not None and s.pointer is not None
               and not _zone_of_the_place(trace, last, p)]  # an implied local time zone is not a step to say
    sequential = last > 0 and bool(sourced) and rng.random() < 0.5
    if last == 0 or not sequential:
        subject = phraser.subject(trace, last, withheld=withheld)
        request = phraser.question(meaning, subject, rng)
    else:
        deixis: dict[tuple[int, str], str] = {}
        intro = []
        by_step: dict[int, list[str]] = {}
        for k, p in dict.fromkeys(sourced):
            deixis[(k, p)] = phraser.deictic(trace, k, p)
            by_step.setdefault(k, []).append(p)
        for k, pointers in by_step.items():
            intro.append(phraser.intro(trace, k, pointers))
        # two values pointed at the same way: "the first time zone", "the second time zone"
        seen = Counter(deixis.values())
        counts: Counter[str] = Counter()
        for key, text in list(deixis.items()):
            if seen[text] > 1 and text != "that place":
                deixis[key] = f"the {ordinal(counts[text])} {text.removeprefix('that ')}"
                counts[text] += 1
        if "that place" in deixis.values():
            places = [key for key, text in deixis.items() if text == "that place"]
            if len({k for k, _ in places}) > 1:
                for n, key in enumerate(places):
                    deixis[key] = f"the {ordinal(n // 2)} place"
        subject = phraser.subject(trace, last, withheld=withheld, deixis=deixis)
        opener = rng.choice(["First, find {x}.", "Start by finding {x}.", "Look up {x} first."])
        request = _tidy(opener.format(x=join(intro))) + " " + phraser.question(meaning, subject, rng)
    subject_final = Phraser(tools).subject(trace, last)
    final = phraser.statement(meaning, subject_final if last == 0 else "", answer.value, rng,
                              date_known=_date_stated(trace))
    return Task(
        kind="single" if last == 0 else "multi_step",
        user_request=request,
        user_values=user_values(trace),
        answer=answer,
        final_message=final,
        writer="template",
    )
