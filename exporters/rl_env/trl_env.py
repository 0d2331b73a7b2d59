"""What the generated TRL tools module (``<stem>.tools.py``) runs: replayed calls and the reward.

The module ``backchain export ... --format trl-grpo --tools-module`` writes holds one typed
function per tool (``tools=`` of GRPOTrainer), an ``environment_factory`` class whose methods
are the same tools, and a reward function. Each of them is a line or two that calls in here:

    ReplaySession(replay)       one rollout's state: the row (its example id and offered tools)
                                and every call made, answered from the replay table
    session.call(tool, args)    the recorded output as text; OMITTED arguments are left out
    rubric_reward(spec_path)    a TRL reward function: the rubric tree of the reward spec

TRL's contracts (trl/trainer/grpo_trainer.py, 1.16): a tool is called as ``fn(**arguments)``
and looked up by ``fn.__name__``; with ``environment_factory`` every public method but
``reset``/``get_reward`` is a tool, ``reset(**row)`` gets the dataset row before each rollout
(returning None leaves the prompt as it is), and reward functions get
``prompts, completions, completion_ids`` plus every other column (and ``environments``)
as keyword arguments, returning one float or None per completion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._replay import MISS_PREFIX, ReplayTools, ToolAnswer
from ._reward import RolloutReward


class _Omitted:
    """The default of an optional tool argument: not sent (a recorded call that left it out)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OMITTED"

    def __bool__(self) -> bool:
        return False


OMITTED: Any = _Omitted()


@dataclass
class ReplayCall:
    """One call a rollout made, and the answer it got."""

    tool: str
    arguments: dict[str, Any]
    answer: ToolAnswer


@dataclass
class ReplaySession:
    """One rollout's tool state: which row, which tools it offers, the calls made so far.

    A fresh session (or ``reset()`` without a row) answers every tool of the export, as the
    module-level functions do; after ``reset(example_id, offered)`` a tool the row does not
    offer answers an error text instead of a recorded output.
    """

    replay: ReplayTools | Callable[[], ReplayTools]
    example_id: str | None = None
    offered: frozenset[str] | None = None
    calls: list[ReplayCall] = field(default_factory=list)

    def reset(self, example_id: str | None = None, offered: Iterable[str] | None = None) -> None:
        self.example_id = example_id
        self.offered = frozenset(offered) if offered is not None else None
        self.calls = []

    def reset_from_row(self, row: Mapping[str, Any]) -> None:
        """``reset`` from a trl-grpo dataset row (its ``example_id`` and ``tools`` columns)."""
        tools = row.get("tools")
        offered = None
        if isinstance(tools, Sequence) and not isinstance(tools, str):
            parsed = [json.loads(t) if isinstance(t, str) else t for t in tools]  # Json text as pyarrow reads it
            offered = [t["function"]["name"] for t in parsed if isinstance(t, Mapping) and "function" in t]
        self.reset(row.get("example_id"), offered)

    def call(self, tool: str, arguments: Mapping[str, Any]) -> str:
        """The answer to ``tool(arguments)`` as the model reads it; OMITTED arguments are not sent."""
        sent = {k: v for k, v in arguments.items() if v is not OMITTED}
        if self.offered is not None and tool not in self.offered:
            answer = ToolAnswer(f"{MISS_PREFIX}tool {tool!r} is not offered for this task", True, "miss")
        else:
            replay = self.replay if isinstance(self.replay, ReplayTools) else self.replay()
            answer = replay.answer(tool, sent)
        self.calls.append(ReplayCall(tool, sent, answer))
        return answer.text


def lazy_replay(path: str | Path) -> Callable[[], ReplayTools]:
    """The replay table at ``path``, read on the first call and kept (no file check per call)."""
    loaded: list[ReplayTools] = []

    def replay() -> ReplayTools:
        if not loaded:
            loaded.append(ReplayTools.load(path))
        return loaded[0]

    return replay


def rubric_reward(spec_path: str | Path | None) -> Callable[..., list[float | None]]:
    """A TRL reward function: the rubric tree of ``spec_path`` (see ``RolloutReward``).

    Reads the ``ground_truth`` and ``example`` columns; None for a completion the judge could
    not score and for a row without ``ground_truth`` (another dataset mixed in).
    """
    holder: dict[str, RolloutReward] = {}

    def backchain_rubric(prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                         **columns: Any) -> list[float | None]:
        truths = columns.get("ground_truth")
        if truths is None:
            return [None] * len(completions)
        if "reward" not in holder:
            holder["reward"] = RolloutReward(spec_path)
        examples = columns.get("example") or [None] * len(completions)
        rows = [(t, c, e) for t, c, e in zip(truths, completions, examples, strict=True) if t is not None]
        scores = iter(holder["reward"].scores(rows))
        return [next(scores) if t is not None else None for t in truths]

    return backchain_rubric
