"""An eval split in BFCL's shape: question lines, possible answers, and an AST checker.

    backchain export geo@3 --format bfcl --out eval/BFCL_backchain.json
      eval/BFCL_backchain.json                   {"id", "question", "function"} a line
      eval/possible_answer/BFCL_backchain.json   {"id", "ground_truth"} a line

The layout and shapes of the Berkeley Function Calling Leaderboard (ShishirPatil/gorilla,
berkeley-function-call-leaderboard: ``data/BFCL_v*_<category>.json`` and
``data/possible_answer/`` with the same name; JSON Lines despite the .json name)::

    {"id": "multiple_0",
     "question": [[{"role": "user", "content": "Which time zone ...?"}]],
     "function": [{"name": "country_info", "description": "...",
                   "parameters": {"type": "dict", "properties": {"country": {"type": "string", ...}},
                                  "required": ["country"]}}]}
    {"id": "multiple_0", "ground_truth": [{"country_info": {"country": ["France"]}}]}

Ground truth is what a model can do from the question alone: the *first* assistant turn's
calls (several for parallel calls). Later calls of a chain take arguments from earlier outputs
a single-turn eval never shows, so they are not asked for; the failed first attempt of an
error_recovery task is skipped, and the corrected call is the answer; a multi_turn task's
question holds the dialogue up to the call (request, the assistant's question, the user's
answer). A no_call task has an empty ground truth ("irrelevance": the right answer is no call).

The id's category follows BFCL's: ``simple`` (one function offered, one call), ``multiple``
(several offered, one call), ``parallel`` / ``parallel_multiple`` (several calls in the turn),
``irrelevance``; then ``_<n>``, the row's position in its file.

Functions are converted to BFCL's type names (``object`` -> ``dict``, ``number`` -> ``float``;
a union or nullable type takes its first non-null member; no type -> ``any``), which BFCL's
checker indexes by; ``required`` is always present.

Allowed values per parameter: the value the recorded call used. ``""`` in the list means the
parameter may be omitted: added for an optional parameter whose value is the schema default
(omitting it makes the same call), and ``[default, ""]`` for an optional parameter with a
default that the call left out. An optional parameter without a default that the call did not
use is absent: passing it is an unexpected parameter.

``bfcl_check(ground_truth, calls)`` is the AST check BFCL documents: function name, required
parameters present, no unexpected parameter, types (an int is accepted where a float is
expected, a bool never as a number), values among the allowed ones (strings compared after
BFCL's normalisation: case, spaces and ``,./-_*^`` ignored), and parallel calls matched in any
order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import Features, Json, List, Value

from schemas import Example, LoadDrift, VersionInfo

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions
from ._export import JsonlSink, RowChecker, build_row, split_file_name
from ._staging import Staging

ANSWER_DIR = "possible_answer"
_TYPE_NAMES = {"object": "dict", "number": "float", "integer": "integer", "string": "string",
               "boolean": "boolean", "array": "array"}
_KEEP = ("description", "enum", "default")


# -- the export ---------------------------------------------------------------------------------


def first_turn_calls(example: Example) -> list[int]:
    """Step indices of the calls a model can make from the user's text: the first turn that
    is not a failed attempt. Empty for a no_call task."""
    steps = example.trace.steps
    for turn in example.trace.turns():
        if all(steps[i].is_error for i in turn):
            continue
        for i in turn:
            bad = [p for p, src in steps[i].sources.items() if src.origin != "user"]
            if bad:
                raise ValueError(
                    f"the first call, {steps[i].tool}, takes {bad[0]!r} from an earlier output; "
                    "it cannot be asked from the question alone"
                )
        return list(turn)
    return []


def category(n_calls: int, n_functions: int) -> str:
    if n_calls == 0:
        return "irrelevance"
    if n_calls == 1:
        return "simple" if n_functions == 1 else "multiple"
    return "parallel" if n_functions == 1 else "parallel_multiple"


def bfcl_type(schema: Mapping[str, Any]) -> str:
    """The BFCL type name of a JSON Schema (first non-null member of a union)."""
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None:
        for key in ("anyOf", "oneOf"):
            for branch in schema.get(key, []):
                if isinstance(branch, Mapping) and branch.get("type") not in (None, "null"):
                    return bfcl_type(branch)
        return "any"
    return _TYPE_NAMES.get(str(t), "any")


def bfcl_property(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A parameter's schema with BFCL's type names, recursively for items and properties."""
    out: dict[str, Any] = {"type": bfcl_type(schema)}
    for key in _KEEP:
        if key in schema:
            out[key] = schema[key]
    branch = next((b for key in ("anyOf", "oneOf") for b in schema.get(key, [])
                   if isinstance(b, Mapping) and b.get("type") not in (None, "null")), schema)
    if out["type"] == "array":
        items = branch.get("items")
        out["items"] = bfcl_property(items if isinstance(items, Mapping) else {})
    if out["type"] == "dict" and isinstance(branch.get("properties"), Mapping):
        out["properties"] = {k: bfcl_property(v) for k, v in branch["properties"].items()}
        if "required" in branch:
            out["required"] = list(branch["required"])
    return out


def bfcl_function(name: str, description: str, input_schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = input_schema.get("properties") or {}
    return {
        "name": name,
        "description": description,
        "parameters": {
            "type": "dict",
            "properties": {k: bfcl_property(v) for k, v in properties.items()},
            "required": list(input_schema.get("required") or []),
        },
    }


def _allowed(value: Any) -> list[Any]:
    """A recorded value as BFCL's allowed list (dicts hold a list per key, as BFCL's do)."""
    if isinstance(value, dict):
        return [{k: [v] for k, v in value.items()}]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [[{k: [x] for k, x in v.items()} for v in value]]
    return [value]


def ground_truth_call(example: Example, index: int) -> dict[str, dict[str, list[Any]]]:
    step = example.trace.steps[index]
    tool = next((t for t in example.tools if t.name == step.tool and t.toolset == step.toolset),
                next((t for t in example.tools if t.name == step.tool), None))
    schema = tool.input_schema if tool is not None else {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    params: dict[str, list[Any]] = {}
    for name, value in step.arguments.items():
        allowed = _allowed(value)
        prop = properties.get(name) or {}
        source = step.sources.get(name)
        is_default = "default" in prop and prop["default"] == value and type(prop["default"]) is type(value)
        if name not in required and (is_default or (source is not None and source.how == "schema-default")):
            allowed.append("")
        params[name] = allowed
    for name, prop in properties.items():
        if name not in step.arguments and name not in required and isinstance(prop, Mapping) and "default" in prop:
            params[name] = [prop["default"], ""]
    return {step.tool: params}


class BfclFormat(ExportFormat):
    """``bfcl``: BFCL question and possible_answer files, for AST-checked evals."""

    name = "bfcl"
    schema_name = "export-bfcl-question"
    answer_schema = "export-bfcl-answer"
    features = Features({"id": Value("string"), "question": List(List(Json())), "function": List(Json())})
    file_types = (".json", ".jsonl")
    usage = (
        "BFCL layout: {file} (questions) and possible_answer/{file} (ground truth), JSON Lines. "
        "Score model calls with exporters.bfcl_check(ground_truth, calls) or BFCL's AST checker "
        "(ids carry BFCL's categories)."
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        calls = first_turn_calls(example)
        row_id = f"{category(len(calls), len(example.tools))}_{index}"
        return {
            "id": row_id,
            "question": [example.task.opening()],
            "function": [bfcl_function(t.name, t.description, t.input_schema) for t in example.tools],
        }

    def answer_row(self, example: Example, row_id: str) -> dict[str, Any]:
        return {"id": row_id, "ground_truth": [ground_truth_call(example, i) for i in first_turn_calls(example)]}

    def write_data(
        self,
        rows: Iterable[tuple[Example, float | None, str]],
        stage: Staging,
        out: Path,
        version: VersionInfo,
        options: ExportOptions,
        split_names: list[str] | None,
        provenance: dict[str, Any] | None = None,
        filters: Any = None,
    ) -> tuple[list[DataFile], list[LoadDrift], list[tuple[str, str, int | None, str | None]]]:
        questions = RowChecker(self.schema_name, self.name)
        answers = RowChecker(self.answer_schema, self.name)
        names: list[str | None] = [None] if split_names is None else list(split_names)
        sinks: dict[str | None, tuple[JsonlSink, JsonlSink]] = {}
        counts: dict[str | None, int] = {}
        try:
            for name in names:
                file = split_file_name(out.name, name)
                sinks[name] = (JsonlSink(stage.path(file)), JsonlSink(stage.path(f"{ANSWER_DIR}/{file}")))
                counts[name] = 0
            for example, score, split in rows:
                key = split if split_names is not None else None
                row = build_row(self, example, score, split, counts[key], version, options)
                questions.check(row, example)
                try:
                    answer = self.answer_row(example, row["id"])
                except ValueError as exc:  # pragma: no cover - row() raised it first
                    raise ValueError(str(exc)) from exc
                answers.check(answer, example)
                sinks[key][0].add(row)
                sinks[key][1].add(answer)
                counts[key] += 1
        finally:
            for q, a in sinks.values():
                q.close()
                a.close()
        data = [DataFile(split_file_name(out.name, n), n, counts[n]) for n in names]
        extra: list[tuple[str, str, int | None, str | None]] = [
            (f"{ANSWER_DIR}/{d.path}", "answers", d.rows, d.split) for d in data]
        return data, [], extra


# -- the AST checker ----------------------------------------------------------------------------

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "float": (float,), "boolean": (bool,),
    "array": (list,), "tuple": (list,), "dict": (dict,), "any": (str,),
}


def standardize(text: str) -> str:
    """BFCL's string normalisation: no spaces or ``,./-_*^``, lower case, ' as "."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _calls(calls: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Calls as (name, arguments): {"name", "arguments"} objects or BFCL's {name: arguments}."""
    out = []
    for call in calls:
        if "name" in call and "arguments" in call and isinstance(call["arguments"], Mapping):
            out.append((str(call["name"]), dict(call["arguments"])))
        elif len(call) == 1:
            (name, arguments), = call.items()
            out.append((str(name), dict(arguments) if isinstance(arguments, Mapping) else {}))
        else:
            out.append(("<not a call>", {}))
    return out


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _expected_type(param: str, allowed: list[Any], function: Mapping[str, Any] | None) -> str | None:
    if function is not None:
        prop = (function.get("parameters", {}).get("properties") or {}).get(param)
        if isinstance(prop, Mapping) and prop.get("type") in _PY_TYPES:
            return str(prop["type"])
    given = [a for a in allowed if a != ""]
    return _type_of(given[0]) if given else None


def _same(value: Any, allowed: Any) -> bool:
    if isinstance(value, str) and isinstance(allowed, str):
        return standardize(value) == standardize(allowed)
    if isinstance(value, bool) or isinstance(allowed, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value == allowed
    if isinstance(value, dict) and isinstance(allowed, dict):  # BFCL: a list of allowed values per key
        return value.keys() <= allowed.keys() and all(
            any(_same(v, a) for a in allowed[k] if a != "") for k, v in value.items()
        ) and all(k in value or "" in allowed[k] for k in allowed)
    if isinstance(value, list) and isinstance(allowed, list):
        return len(value) == len(allowed) and all(_same(v, a) for v, a in zip(value, allowed, strict=True))
    return bool(value == allowed)


def _check_one(expected: Mapping[str, Mapping[str, list[Any]]], name: str, args: Mapping[str, Any],
               functions: Sequence[Mapping[str, Any]] | None) -> str:
    """'' when the call matches the expected one, else why not."""
    (want, params), = expected.items()
    if name != want:
        return f"function name {name!r} is not {want!r}"
    function = next((f for f in functions or () if f.get("name") == want), None)
    required = (list(function.get("parameters", {}).get("required") or []) if function is not None
                else [p for p, allowed in params.items() if "" not in allowed])
    for param in required:
        if param not in args:
            return f"missing required parameter {param!r} of {want}"
    for param, value in args.items():
        if param not in params:
            return f"unexpected parameter {param!r} of {want}"
        allowed = list(params[param])
        expected_type = _expected_type(param, allowed, function)
        if expected_type == "float" and _type_of(value) == "integer":
            value = float(value)
        if expected_type is not None and expected_type != "any" and _type_of(value) not in (
                expected_type, "array" if expected_type == "tuple" else expected_type):
            return f"parameter {param!r} of {want}: expected type {expected_type}, got {_type_of(value)}"
        if not any(_same(value, a) for a in allowed if a != ""):
            shown = [a for a in allowed if a != ""]
            return f"parameter {param!r} of {want}: {value!r} is not one of {shown!r}"
    for param, allowed in params.items():
        if param not in args and "" not in allowed:
            return f"missing parameter {param!r} of {want} (not optional here)"
    return ""


def bfcl_check(
    ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]],
    calls: Sequence[Mapping[str, Any]],
    functions: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[bool, str]:
    """BFCL-style AST check of a model's calls against a possible answer's ground truth.

    ``calls``: ``{"name", "arguments"}`` objects or BFCL's ``{name: arguments}``.
    ``functions`` (optional, the question's ``function`` list): types and required
    parameters from the function descriptions instead of the allowed values.
    Returns (ok, reason); reason is '' when ok. Parallel calls may come in any order.
    """
    made = _calls(calls)
    if not ground_truth:
        if made:
            return False, f"expected no call (irrelevance), got {len(made)}: {', '.join(n for n, _ in made)}"
        return True, ""
    if len(made) != len(ground_truth):
        return False, f"wrong number of calls: expected {len(ground_truth)}, got {len(made)}"
    unmatched = list(range(len(made)))
    for expected in ground_truth:
        reasons = []
        for k in unmatched:
            reason = _check_one(expected, made[k][0], made[k][1], functions)
            if not reason:
                unmatched.remove(k)
                break
            reasons.append(reason)
        else:
            want = next(iter(expected))
            return False, f"no call matches the expected {want}: " + "; ".join(reasons)
    return True, ""
