"""The reward function a trl-grpo export ships: backchain's answer checker as a TRL reward.

This module is the template of ``<stem>.reward.py``, written next to every trl-grpo export.
In the written file the import of ``answer_in_text`` below is replaced by the source of
``schemas/_text.py`` itself (the checker that scores a version's difficulty), so the file
needs nothing but the standard library and python-dateutil (which pandas, and so datasets,
already depends on): a training job does not install backchain to use it. The written file
records the checker's sha256. tests/exporters check that it scores completions exactly as
``validators.attempt_reward`` scores solver attempts.

    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("backchain_reward", "out/train.reward.py")
    module = module_from_spec(spec); spec.loader.exec_module(module)
    trainer = GRPOTrainer(..., reward_funcs=module.reward, train_dataset=dataset)

``reward(prompts, completions, completion_ids=None, **columns)`` follows TRL's reward function
contract: every dataset column but ``prompt`` arrives as a keyword argument, one value per
completion. It reads two of them:

    ground_truth  JSON text {"kind", "answer", "answer_values": [...], "normaliser", ...}
    kind          the task kind

and returns per completion 1.0 when the final answer states every expected value (one per
answer pointer) under the task's normaliser, 0.0 when it does not; for a no_call task, 1.0 when
the completion answers without calling any tool. ``None`` (TRL: this reward does not apply) for
a row without a readable ``ground_truth``, e.g. another dataset mixed into the run.

A completion is TRL's: a string (standard format) or a list of messages (conversational; with
tools, the assistant turns, tool results and the final answer). The final answer is the last
assistant message with text; a call is any ``tool_calls`` or ``tool`` message, or, in a
string, a ``<tool_call>`` tag (Hermes / Qwen style).
"""

from __future__ import annotations

import json
from typing import Any

from schemas._text import answer_in_text  # backchain: the checker's source replaces this line


class _Normaliser:
    """What the checker reads of a normaliser: ``kind`` and ``tolerance``."""

    __slots__ = ("kind", "tolerance")

    def __init__(self, kind: str = "casefold", tolerance: float = 0.0) -> None:
        self.kind = kind
        self.tolerance = float(tolerance)


class _Answer:
    """What the checker reads of an answer: ``value`` and ``normaliser``."""

    __slots__ = ("normaliser", "value")

    def __init__(self, value: Any, normaliser: _Normaliser) -> None:
        self.value = value
        self.normaliser = normaliser


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def final_text_and_calls(completion: Any) -> tuple[str, bool]:
    """(the final answer's text, whether the completion called a tool)."""
    if isinstance(completion, str):
        return completion, "<tool_call>" in completion
    messages = [completion] if isinstance(completion, dict) else list(completion or [])
    called = any(isinstance(m, dict) and (m.get("tool_calls") or m.get("role") == "tool") for m in messages)
    final = ""
    for message in messages:
        if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            text = _text_of(message.get("content"))
            if text.strip():
                final = text
    return final, called


def score(completion: Any, ground_truth: Any, kind: Any = None) -> float | None:
    """The reward of one completion, given its row's ``ground_truth`` and ``kind`` columns."""
    if ground_truth is None:
        return None
    try:
        truth = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else ground_truth
    except ValueError:
        return None
    if not isinstance(truth, dict):
        return None
    kind = kind if kind is not None else truth.get("kind")
    final, called = final_text_and_calls(completion)
    if kind == "no_call" or truth.get("answer") is None:
        return 1.0 if not called and final.strip() else 0.0
    values = truth.get("answer_values")
    if not isinstance(values, list):
        values = [truth["answer"]]
    normaliser = _Normaliser(**(truth.get("normaliser") or {}))
    for value in values:
        if not answer_in_text(_Answer(value, normaliser), final):  # type: ignore[arg-type]
            return 0.0
    return 1.0


def reward(
    prompts: list[Any], completions: list[Any], completion_ids: list[Any] | None = None, **columns: Any
) -> list[float | None]:
    """TRL reward function: 1.0 / 0.0 per completion by backchain's answer checker."""
    truths = columns.get("ground_truth")
    if truths is None:
        return [None] * len(completions)
    kinds = columns.get("kind") or [None] * len(completions)
    return [score(c, t, k) for c, t, k in zip(completions, truths, kinds, strict=True)]
