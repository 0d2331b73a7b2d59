"""Back-chaining: write the user's task from a trace that already ran.

The answer is chosen first, as a JSON pointer into the last step's recorded
output, so it is right by construction. Then the request is written so that
everything the calls need and no earlier output provides is in the user's
words: those are the user-supplied values.

Two writers:
- `template_task`: deterministic, from parameter and output field names
  (never copying tool names or descriptions). Always available.
- `LLMWriter`: asks a model (JSON-constrained) to rewrite the draft naturally.
  Its reply is recorded as-is; an unusable reply sets ``writer_error`` and the
  flow falls back to the draft. What the writer saw is hashed into
  ``writer_prompt_hash``; the judge never sees the writer's prompt.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import Answer, AnswerPointer, Normaliser, Task, Trace, content_hash

from ._llm import ChatClient


def label(name: str) -> str:
    """'source_timezone' -> 'source timezone'; 'dayLength' -> 'day length'."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return re.sub(r"[_\-]+", " ", spaced).strip().lower()


def render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup; raises KeyError when the pointer does not resolve."""
    if pointer == "":
        return document
    current = document
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                raise KeyError(pointer)
            current = current[int(token)]
        elif isinstance(current, dict):
            if token not in current:
                raise KeyError(pointer)
            current = current[token]
        else:
            raise KeyError(pointer)
    return current


def _pointer_label(pointer: str) -> str:
    """'/timezone' -> 'timezone'; '/holidays/0/date' -> 'date of holidays item 1'."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.strip("/").split("/") if t]
    for i in reversed(range(len(tokens))):
        if tokens[i].isdigit():
            continue
        text = label(tokens[i])
        if i >= 2 and tokens[i - 1].isdigit():
            text += f" of {label(tokens[i - 2])} item {int(tokens[i - 1]) + 1}"
        elif i + 1 < len(tokens):
            text += f" item {int(tokens[i + 1]) + 1}"
        return text
    return "result"


def user_values(trace: Trace) -> dict[str, Any]:
    """Arguments the user must state, by parameter name (``name@k`` when names repeat)."""
    values: dict[str, Any] = {}
    for k, step in enumerate(trace.steps):
        for param, value in step.arguments.items():
            source = step.sources.get(param)
            if source is not None and source.origin == "step":
                continue
            key = param if param not in values or values[param] == value else f"{param}@{k}"
            values[key] = value
    return values


def _as_text_forms(value: Any) -> set[str]:
    return {render_value(value).casefold()}


def answer_candidates(trace: Trace) -> list[AnswerPointer]:
    """Scalar fields of the last output that the request does not already contain."""
    from ._explore import iter_scalars

    last = trace.steps[-1]
    if last.is_error:
        return []
    given: set[str] = set()
    for step in trace.steps:
        for v in step.arguments.values():
            given |= _as_text_forms(v)
    out = []
    for pointer, key, value in iter_scalars(last.output):
        if not key or isinstance(value, bool):
            continue
        text = render_value(value).casefold()
        if not text.strip() or len(text) > 80 or text in given:
            continue
        out.append(AnswerPointer(step=len(trace.steps) - 1, pointer=pointer))
    return out


def choose_answer(trace: Trace) -> Answer | None:
    """A deterministic pick (seeded by the trace) among top-level-first candidates."""
    candidates = answer_candidates(trace)
    if not candidates:
        return None
    shallow = [c for c in candidates if c.pointer.count("/") == 1] or candidates
    rng = random.Random(trace.trace_id)
    pick = rng.choice(shallow)
    value = resolve_pointer(trace.steps[pick.step].output, pick.pointer)
    if isinstance(value, (int, float)):
        normaliser = Normaliser(kind="number", tolerance=1e-6)
    elif isinstance(value, str) and _ISO_WHEN.match(value):
        normaliser = Normaliser(kind="date")
    else:
        normaliser = Normaliser(kind="casefold")
    return Answer(pointers=[pick], value=value, normaliser=normaliser)


_ISO_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _indefinite(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def template_task(trace: Trace, answer: Answer, *, withheld: str | None = None) -> Task:
    """The deterministic draft: every user value stated, the answer asked for, no tool named.

    ``withheld`` names a user-supplied parameter left out of the first request
    ("for a country"); the caller adds the turns in which the user supplies it.
    """
    values = user_values(trace)
    last = len(trace.steps) - 1
    consumed: dict[int, list[str]] = {}
    for step in trace.steps:
        for source in step.sources.values():
            if source.origin == "step" and source.step is not None and source.pointer is not None:
                words = consumed.setdefault(source.step, [])
                lbl = _pointer_label(source.pointer)
                if lbl not in words:
                    words.append(lbl)

    def given(k: int) -> str:
        step = trace.steps[k]
        parts = [
            _indefinite(label(p)) if p == withheld else f"{label(p)} {render_value(v)}"
            for p, v in step.arguments.items()
            if step.sources.get(p) is None or step.sources[p].origin != "step"
        ]
        return _join(parts)

    answer_label = _pointer_label(answer.pointers[0].pointer)
    if last == 0:
        g = given(0)
        request = f"For {g}, what is the {answer_label}?" if g else f"What is the {answer_label}?"
    else:
        clauses = []
        for k in range(last):
            what = _join(consumed.get(k, ["details"]))
            g = given(k)
            clauses.append(f"look up the {what}" + (f" for {g}" if g else ""))
        g_last = given(last)
        final = f"use that to find the {answer_label}" + (f" with {g_last}" if g_last else "")
        text = ", then ".join(clauses + [final])
        request = text[0].upper() + text[1:] + f". What is the {answer_label}?"
    return Task(
        kind="single" if last == 0 else "multi_step",
        user_request=request,
        user_values=values,
        answer=answer,
        final_message=f"The {answer_label} is {render_value(answer.value)}.",
        writer="template",
    )


_REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"request": {"type": "string", "minLength": 1}},
    "required": ["request"],
}

_SYSTEM = (
    "You rewrite a draft into the message a real user would send to an assistant that "
    "can use tools. Keep every listed value exactly as written. Never name a tool or "
    "function, and never state the answer. Reply only with JSON: {\"request\": \"...\"}."
)

# One worked example per task kind: what changes is what the rewrite must keep.
_FEW_SHOT: dict[str, tuple[str, str, str]] = {
    "single": (
        "For country France, what is the capital?", "France",
        "What's the capital city of France?"),
    "multi_step": (
        "Look up the latitude and longitude for country Japan, then use that to find the timezone. "
        "What is the timezone?", "Japan",
        "Which time zone is Japan's capital in? Work it out from its coordinates."),
    "parallel": (
        "For faa JFK, what is the timezone? Also, for currency code EUR, what is the name?", "JFK, EUR",
        "Two quick questions: which time zone is JFK airport in, and what is the currency EUR called?"),
    "multi_turn": (
        "For a country, what is the capital?", "(none: the user names the country later)",
        "Can you tell me the capital of a country? I'll say which one."),
    "error_recovery": (
        "For date 2013-07-04 and origin JFK, what is the temp f?", "2013-07-04, JFK",
        "How warm was it at JFK on 2013-07-04, in Fahrenheit?"),
    "no_call": (
        "Without looking anything up: if one flights is 12 and one seats is 30, what do the two numbers "
        "add up to?", "12, 30",
        "Quick sum, no need to look anything up: what's 12 plus 30?"),
}


class LLMWriter:
    """Rewrites template drafts with a model; records the model and a hash of its prompt."""

    def __init__(self, client: ChatClient, *, temperature: float = 0.0, max_tokens: int = 160) -> None:
        self.client = client
        self.temperature = temperature
        self.max_tokens = max_tokens

    def messages(self, draft: Task) -> list[dict[str, str]]:
        """System rules, one worked example for the draft's kind, then the draft."""
        said = draft.user_request.casefold()
        values = "\n".join(
            f"- {render_value(v)}" for v in draft.user_values.values() if render_value(v).casefold() in said
        ) or "- (none)"
        example_draft, example_values, example_reply = _FEW_SHOT[draft.kind]
        return [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"Draft: {example_draft}\nValues to keep verbatim: {example_values}"},
            {"role": "assistant", "content": json.dumps({"request": example_reply})},
            {"role": "user", "content": f"Draft: {draft.user_request}\nValues to keep verbatim:\n{values}"},
        ]

    async def rewrite(self, draft: Task, *, seed: int = 0, temperature: float | None = None) -> Task:
        """One rewrite of the first user message; the dialogue turns stay as drafted."""
        messages = self.messages(draft)
        reply = await self.client.chat(
            messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            seed=seed,
            json_schema=_REWRITE_SCHEMA,
        )
        request, error = _parse_rewrite(reply.text)
        return draft.model_copy(
            update={
                "user_request": request or reply.text.strip() or "(empty reply)",
                "writer": "llm",
                "writer_model": self.client.endpoint.model,
                "writer_prompt_hash": content_hash(messages),
                "writer_error": error,
            }
        )


def _parse_rewrite(text: str) -> tuple[str | None, str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"reply is not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(data, Mapping) or not isinstance(data.get("request"), str):
        return None, "reply JSON has no string field 'request'"
    request = data["request"].strip()
    if not request:
        return None, "reply JSON has an empty 'request'"
    return request, None
