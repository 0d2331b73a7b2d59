"""The LLM writer: a model rewrites a template draft's request and final answer.

Built for small real models (the embedded Qwen2.5-Coder, or a vLLM endpoint):

- per-kind instructions (what each kind must keep: a chain's dependency, both
  questions of a parallel task, the value a multi_turn request leaves out, a
  no_call result) and one worked example per kind, deliberately unlike the
  built-in tools' data, so a copied example is easy to catch (`copied_example`);
- a persona and a tone sampled per seed, for variety across ``--variants``;
- JSON-constrained output ``{"request": ..., "answer": ...}``;
- grounding: the prompt lists the user's values and the answer values with
  their meaning and unit; the checks then prove the rewrite kept every user
  value, gave away no answer, stated every answer value and no number that is
  in neither the recorded outputs nor the user's words (validators' checks
  ``provenance``, ``leakage``, ``answer_stated``, ``grounded``);
- the information barrier: the prompt is hashed into ``writer_prompt_hash``;
  the judge sees the task, tools and trace, never this prompt.

An unusable reply sets ``writer_error``; the flow then keeps the template draft.
"""

from __future__ import annotations

import difflib
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import Task, Tool, Trace, bare, canonical_unit, code_kind, content_hash, standard_name

from ._llm import ChatClient
from ._phraser import Phraser
from ._phrasing import value_text
from ._trace_values import render_value

_REWRITE_SCHEMA = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "minLength": 8, "maxLength": 400},
        "answer": {"type": "string", "minLength": 2, "maxLength": 400},
    },
    "required": ["request", "answer"],
}

_SYSTEM = (
    "Rewrite this as real people write. JSON {\"request\": user's message, \"answer\": assistant's final "
    "reply}. Keep USER VALUES exactly; no ANSWER value in the request; no tool or field names; the answer "
    "states each ANSWER value (with unit) and no other number."
)

# What each kind must keep, said once.
_KIND_RULE: dict[str, str] = {
    "single": "",
    "multi_step": "The user only gives the starting values and describes what to look up from them; "
                  "keep that dependency.",
    "parallel": "The user asks both questions in one message; the answer gives both values.",
    "multi_turn": "The request deliberately leaves one detail out (the user says which when asked); "
                  "keep it out.",
    "error_recovery": "",
    "no_call": "Every number is in the request, no lookup is needed; the answer gives the result.",
}

# One worked example per kind, on purpose about nothing the built-in tools know.
EXAMPLES: dict[str, tuple[str, str, str, str, str]] = {
    # kind: (draft request, draft answer, user values, answer values, rewrite as JSON)
    "single": (
        "What is the boiling point for substance ethanol, in degrees Celsius?",
        "The boiling point for substance ethanol is 78.37 °C.", "ethanol", "78.37 °C",
        json.dumps({"request": "At what temperature does ethanol boil, in Celsius?",
                    "answer": "Ethanol boils at 78.37 °C."}),
    ),
    "multi_step": (
        "First, find the author of the book Dune. How many novels are there for that author?",
        "There are 23 novels.", "Dune", "23",
        json.dumps({"request": "Who wrote Dune? I'd like to know how many novels that author published.",
                    "answer": "The author of Dune published 23 novels."}),
    ),
    "parallel": (
        "What is the height of mountain Denali? Also, what is the length of river Volga?",
        "The height of mountain Denali is 6190 metres. The length of river Volga is 3531 km.",
        "Denali; Volga", "6190 metres; 3531 km",
        json.dumps({"request": "Two quick ones: how tall is Denali, and how long is the Volga?",
                    "answer": "Denali rises 6190 metres, and the Volga runs 3531 km."}),
    ),
    "multi_turn": (
        "What is the opening year for the museum I have in mind?", "The opening year is 1793.", "(none yet)", "1793",
        json.dumps({"request": "Do you know what year the museum I have in mind opened?",
                    "answer": "It opened in 1793."}),
    ),
    "error_recovery": (
        "What is the melting point for metal tin, in degrees Celsius?",
        "The melting point for metal tin is 231.93 °C.", "tin", "231.93 °C",
        json.dumps({"request": "What's the melting point of tin in Celsius?",
                    "answer": "Tin melts at 231.93 °C."}),
    ),
    "no_call": (
        "The depth of lake Baikal is 1642 metres and of lake Tanganyika it is 1470 metres. What's the "
        "difference?", "The difference is 172 metres (1642 - 1470).", "1642; 1470", "172 metres",
        json.dumps({"request": "Baikal is 1642 m deep and Tanganyika 1470 m. How much deeper is Baikal?",
                    "answer": "Baikal is 172 metres deeper (1642 - 1470 = 172)."}),
    ),
}

PERSONAS = ("a traveller planning a trip", "a data analyst", "a student", "a journalist checking a fact",
            "a small-business owner", "a curious retiree", "a teacher preparing a lesson", "a developer")
TONES = ("casual", "brief", "polite", "direct", "friendly")


def copied_example(task: Task, threshold: float = 0.75) -> str | None:
    """The worked example a rewrite copies (similar text), or None."""
    mine = [task.user_request.casefold(), task.final_message.casefold()]
    for example in EXAMPLES.values():
        shown: dict[str, str] = json.loads(example[4])
        for theirs in (shown["request"].casefold(), shown["answer"].casefold()):
            for text in mine:
                if difflib.SequenceMatcher(None, text, theirs).ratio() >= threshold:
                    return shown["request"] if theirs == shown["request"].casefold() else shown["answer"]
    return None


def _facts(draft: Task, trace: Trace | None, tools: Sequence[Tool] | None) -> tuple[str, str]:
    """The user's values as written in the draft, and the answer values with their meaning and unit."""
    # Only what the request itself says: a multi_turn request leaves one value for a later turn, and
    # listing it here would invite the writer to put it back.
    said = draft.user_request.casefold()
    user = [_said_as(p, v) for p, v in draft.user_values.items()]
    user = [u for u in user if u.casefold() in said] or (
        [] if draft.kind == "multi_turn" else [_said_as(p, v) for p, v in draft.user_values.items()])
    if draft.answer is None or trace is None:
        return "; ".join(dict.fromkeys(user)) or "(none)", draft.final_message
    phraser = Phraser(tools)
    answers = []
    for ptr, value in zip(draft.answer.pointers, draft.answer.values()):
        if ptr.step >= len(trace.steps):
            continue
        meaning = phraser.field(trace.steps[ptr.step], ptr.pointer, value)
        answers.append(value_text(value, meaning))
    return "; ".join(dict.fromkeys(user)) or "(none)", "; ".join(answers) or draft.final_message


def _said_as(param: str, value: Any) -> str:
    """A user value as the draft says it: a standard country or currency code by its name."""
    kind = code_kind(param.split("@")[0])
    name = standard_name(kind, value) if kind is not None and isinstance(value, str) else None
    return bare(name) if name is not None else render_value(value)


class LLMWriter:
    """Rewrites template drafts with a model; records the model and a hash of its prompt."""

    def __init__(self, client: ChatClient, *, temperature: float = 0.0, max_tokens: int = 160) -> None:
        self.client = client
        self.temperature = temperature
        self.max_tokens = max_tokens

    def messages(self, draft: Task, *, trace: Trace | None = None, tools: Sequence[Tool] | None = None,
                 seed: int = 0) -> list[dict[str, str]]:
        """System rules for the draft's kind, its worked example, then the draft and its facts."""
        rng = random.Random(seed)
        rule = _KIND_RULE.get(draft.kind, "")
        system = _SYSTEM + (f" {rule}" if rule else "")
        ex_request, ex_answer, ex_user, ex_values, ex_reply = EXAMPLES[draft.kind]
        user_values, answer_values = _facts(draft, trace, tools)
        persona = f"User: {rng.choice(PERSONAS)}; tone: {rng.choice(TONES)}."
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": _prompt(ex_request, ex_answer, ex_user, ex_values, "User: a student; tone: casual.")},
            {"role": "assistant", "content": ex_reply},
            # A multi_turn draft's later value is not shown: a small model told it puts it back in the request
            # (the 1.5B did in 3 of 7 rewrites); the template's answer, which names it, is kept instead.
            {"role": "user", "content": _prompt(draft.user_request, draft.final_message, user_values,
                                                answer_values, persona)},
        ]

    async def rewrite(self, draft: Task, *, seed: int = 0, temperature: float | None = None,
                      trace: Trace | None = None, tools: Sequence[Tool] | None = None) -> Task:
        """One rewrite of the request and the final answer; dialogue turns stay as drafted."""
        messages = self.messages(draft, trace=trace, tools=tools, seed=seed)
        reply = await self.client.chat(
            messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            seed=seed,
            json_schema=_REWRITE_SCHEMA,
        )
        request, answer, error = parse_rewrite(reply.text)
        note = None
        if answer is not None and _bare_answer(answer, draft):
            # "+14 hours" states the value but not what it is: keep the draft's sentence
            answer, note = None, "answer kept from the template: the rewrite's answer is not a sentence"
        elif answer is not None and (unnamed := _unnamed_turn_value(answer, draft)) is not None:
            # "The numeric code for a currency is 356": the user said which currency two turns ago
            answer, note = None, f"answer kept from the template: the rewrite's answer does not name {unnamed!r}"
        return draft.model_copy(
            update={
                "user_request": request or reply.text.strip() or "(empty reply)",
                "final_message": answer or draft.final_message,
                "writer": "llm",
                "writer_model": self.client.endpoint.model,
                "writer_prompt_hash": content_hash(messages),
                "writer_error": error,
                "writer_note": note,
            }
        )


def _bare_answer(answer: str, draft: Task) -> bool:
    """An answer that is little more than the value ("+14 hours", "Juneteenth National Independence Day")."""
    rest = answer.casefold()
    for value in draft.answer.values() if draft.answer is not None else []:
        rest = rest.replace(str(value).casefold(), " ")
    words = [w for w in rest.replace("(", " ").replace(")", " ").split() if any(c.isalpha() for c in w)
             and canonical_unit(w.strip(".,;:")) is None and w.strip(".,;:") != "per"]  # "+9 hours; 89.06 °F" is bare
    return len(words) < 3


def _told_later(draft: Task) -> list[str]:
    """Values the user gives in a later turn (multi_turn), as the draft says them."""
    told = " ".join(t.content for t in draft.dialogue if t.role == "user").casefold()
    said = (_said_as(p, v) for p, v in draft.user_values.items())
    return [s for s in said if s.casefold() in told and s.casefold() not in draft.user_request.casefold()]


def _unnamed_turn_value(answer: str, draft: Task) -> str | None:
    """A value the user gave in a later turn (multi_turn) that the final answer does not name, or None."""
    for said in _told_later(draft):
        if said.casefold() not in answer.casefold() and said.casefold() in draft.final_message.casefold():
            return said
    return None


def _prompt(request: str, answer: str, user_values: str, answer_values: str, persona: str) -> str:
    # The draft answer is left out: the draft request says what is asked, ANSWER gives the value (issue 18's
    # token budget: better data at most 1.5x the writer tokens per row).
    return f"{persona}\nDraft: {request}\nUSER VALUES: {user_values}\nANSWER: {answer_values}"


def parse_rewrite(text: str) -> tuple[str | None, str | None, str | None]:
    """(request, answer, error) from a writer reply; the error names what was wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, None, f"reply is not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(data, Mapping) or not isinstance(data.get("request"), str):
        return None, None, "reply JSON has no string field 'request'"
    request = data["request"].strip()
    if not request:
        return None, None, "reply JSON has an empty 'request'"
    answer = data.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return request, None, "reply JSON has no string field 'answer'"
    return request, answer.strip(), None
