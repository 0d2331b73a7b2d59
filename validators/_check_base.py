"""What every check shares: its result, its context, and the helpers that read an example.

A check takes an example (and a ``CheckContext``) and returns a ``CheckResult``: passed, and
why not. The checks themselves are in ``_construction`` (the facts the recorded observations
decide) and ``_gates`` (what is worth asking); ``_checks`` names them all in ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from generators import FieldStats, Phraser, is_clock_hour
from schemas import Example, Step, code_name_aliases, standard_code_aliases, value_hint

from ._replay import ReplayReport


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    reason: str = ""


@dataclass
class CheckContext:
    """What checks may consult beyond the example itself.

    ``decided``: checks that are not run but taken as passed, check name ->
    why. The RL reward uses it for facts the filter decided when the row was
    accepted and that a rollout cannot change (replay needs live tools).
    """

    replay: ReplayReport | None = None
    toolset_versions: dict[str, str | None] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)
    #: Values each output field took across the run's observations (constant fields); None: not known.
    fields: FieldStats | None = None


Check = Callable[[Example, CheckContext], CheckResult]


def _where(example: Example, k: int) -> str:
    return f"step {k + 1} ({example.trace.steps[k].tool})"


def _param_hint(example: Example, step: Step, param: str) -> str | None:
    tool = next((t for t in example.tools if t.toolset == step.toolset and t.name == step.tool), None)
    props = (tool.input_schema.get("properties") or {}) if tool else {}
    schema = props.get(param) if isinstance(props.get(param), dict) else {}
    return value_hint(param, schema)


def _aliases(example: Example) -> dict[str, set[str]]:
    """Codes and names that mean one thing: pairs the recorded outputs give, and the standard
    country and currency codes among the user's arguments ('FR' is France)."""
    aliases = code_name_aliases(s.output for s in example.trace.steps if not s.is_error)
    arguments = [(p, v) for s in example.trace.steps for p, v in s.arguments.items()]
    for key, names in standard_code_aliases(arguments).items():
        aliases.setdefault(key, set()).update(names)
    return aliases


def _answer_unit_and_hint(example: Example, k: int, pointer: str) -> tuple[str | None, str | None]:
    """The unit the answer was recorded in (from the output's schema, its field name or a sibling unit),
    and its hint: 'hour' for an hour of the day, which a person says as "2 p.m."."""
    steps = example.trace.steps
    if not 0 <= k < len(steps):
        return None, None
    try:
        meaning = Phraser(example.tools).field(steps[k], pointer)
    except (KeyError, ValueError, IndexError):
        return None, None
    return meaning.unit, "hour" if is_clock_hour(meaning) else None
