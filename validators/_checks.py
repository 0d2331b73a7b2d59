"""Deterministic checks: the facts the recorded observations decide.

Each check takes an example (and the run's replay report) and returns
(passed, reason). They run before any judge question, cheapest first, and a
judge never overrules them. A rubric leaf names a check by its key in `CHECKS`.

The checks live by family: ``_construction`` (what construction guarantees: schemas,
provenance, leakage, answer pointers, replay) and ``_gates`` (whether the task is worth
asking); what they share is in ``_check_base``.
"""

from __future__ import annotations

from ._check_base import Check, CheckContext, CheckResult
from ._construction import (
    check_answer_pointers,
    check_answer_stated,
    check_arguments_schema,
    check_calls_succeeded,
    check_leakage,
    check_no_tool_names,
    check_provenance,
    check_record_schema,
    check_replay,
    check_writer,
)
from ._gates import (
    check_answer_named,
    check_constant_field,
    check_direction_kept,
    check_echo_field,
    check_every_call_needed,
    check_grounded,
    check_intermediate_hidden,
    check_link_named,
    check_no_call_arithmetic,
    check_not_copied,
    check_plain_words,
    check_question_fits,
    check_same_field_twice,
    check_unit_kept,
    check_withheld_hidden,
    check_worth_asking,
)

__all__ = ["CHECKS", "COMPLETION_CHECKS", "Check", "CheckContext", "CheckResult"]

# Checks that read only the final message: on a rollout they judge the completion.
COMPLETION_CHECKS = frozenset({"answer_stated"})


CHECKS: dict[str, Check] = {
    "answer_named": check_answer_named,
    "answer_pointers": check_answer_pointers,
    "answer_stated": check_answer_stated,
    "arguments_schema": check_arguments_schema,
    "calls_succeeded": check_calls_succeeded,
    "constant_field": check_constant_field,
    "direction_kept": check_direction_kept,
    "link_named": check_link_named,
    "echo_field": check_echo_field,
    "every_call_needed": check_every_call_needed,
    "grounded": check_grounded,
    "intermediate_hidden": check_intermediate_hidden,
    "leakage": check_leakage,
    "no_call_arithmetic": check_no_call_arithmetic,
    "no_tool_names": check_no_tool_names,
    "not_copied": check_not_copied,
    "plain_words": check_plain_words,
    "provenance": check_provenance,
    "question_fits": check_question_fits,
    "record_schema": check_record_schema,
    "replay": check_replay,
    "same_field_twice": check_same_field_twice,
    "unit_kept": check_unit_kept,
    "withheld_hidden": check_withheld_hidden,
    "worth_asking": check_worth_asking,
    "writer": check_writer,
}
