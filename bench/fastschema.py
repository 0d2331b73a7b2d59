"""Benchmark: the export row check, hand-compiled JSON Schema vs libraries that could replace it.

Every exported row is checked against its format's JSON Schema (schemas/json/export-*.json) by
``exporters._export.RowChecker``: a fast yes/no check decides, and only for a row that fails does
``jsonschema`` name the field. This measures the yes/no check on the rows the exporters build
(every format, every task kind: tests/exporters/_examples.py, the rows test_fastschema.py
uses), repeated to ``--rows`` per format, and on mutants of them (one random edit each, as
test_fastschema.py makes them), with these candidates:

* ``hand``          the hand-written compiler schemas/_fastschema.py held until issue 20 (nested
                    Python closures), read from git at HAND_COMMIT (skipped without the history)
* ``shipped``       schemas.compile_schema as it is now: jsonschema-rs (Rust, Draft 2020-12),
                    ``Draft202012Validator(schema, offline=True).is_valid``
* ``fastjsonschema`` fastjsonschema.compile(schema) (generated Python; Draft 4/6/7 only, so
                    2020-12's ``prefixItems`` is not checked): ``f(row)``, invalid = exception
* ``pydantic``      the row model itself: ``TypeAdapter(Model).validate_python(row)`` (lax) and
                    with ``strict=True``. Not the same contract: it is the model, not its JSON
                    Schema (it accepts what the schema refuses where the schema and the model
                    differ, e.g. ``content: null`` on an assistant message), so its
                    disagreements are counted too
* ``jsonschema``    Draft202012Validator(schema).is_valid: the reference, interpreted per row

Printed per format: rows/s of each candidate on valid rows, the ratio to ``hand``, and on the
mutants how often each candidate's verdict differs from ``jsonschema``'s (must be 0 for a
drop-in replacement). Headline: rows/s over all formats' rows (each format the same number of
rows) and the ratio to ``hand``. Measured on 2 busy cores (issue 20): shipped 9.5x hand,
pydantic 2.0x (and not the same verdict), fastjsonschema 0.33x, jsonschema 0.03x.

    .venv/bin/python bench/fastschema.py                  # 20,000 rows per format
    .venv/bin/python bench/fastschema.py --rows 5000
"""

from __future__ import annotations

import argparse
import copy
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from exporters import FORMATS
from exporters._bfcl import BfclFormat
from exporters._observations import TrlSftObservationsFormat
from exporters._trl_tools import TrlGrpoToolsFormat
from exporters._verl_tool_agent import VerlToolAgentFormat
from schemas import RECORD_MODELS, json_schema
from tests.exporters._examples import every_kind, ivory_coast, make_version

try:
    import fastjsonschema
except ImportError:  # optional: measured when installed
    fastjsonschema = None

Check = Callable[[Any], bool]
ROOT = Path(__file__).resolve().parents[1]
HAND_COMMIT = "e9b84a272c86f9c805a513ff743638a31b2f2695"
"""The last commit whose schemas/_fastschema.py is the hand-written compiler."""
EXPORT_SCHEMAS = sorted(n for n in RECORD_MODELS if n.startswith("export-") and n != "export-manifest")


def real_rows() -> dict[str, list[Any]]:
    """Rows of every export schema, from every kind of example (plain JSON values)."""
    rows: dict[str, list[Any]] = {name: [] for name in EXPORT_SCHEMAS}
    version = make_version()
    examples = [*every_kind(), ivory_coast()]
    for fmt in [*FORMATS.values(), VerlToolAgentFormat(), TrlSftObservationsFormat(), TrlGrpoToolsFormat()]:
        for i, example in enumerate(examples):
            for row in fmt.rows(example, 0.5, "train", i, version):
                rows[fmt.schema_name].append(row)
                if isinstance(fmt, BfclFormat):
                    rows["export-bfcl-answer"].append(fmt.answer_row(example, row["id"]))
    return rows


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


_JUNK: list[Any] = [None, True, 0, 1.5, "", "x", [], {}, [1], {"a": 1}, "assistant", "function", -1]


def mutate(row: Any, rng: random.Random) -> Any:
    row = copy.deepcopy(row)
    path = rng.choice(_paths(row)[1:])
    parent = row
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.random()
    if action < 0.6:
        parent[last] = rng.choice(_JUNK)
    elif action < 0.85:
        del parent[last]
    elif isinstance(parent, dict):
        parent["unexpected_key"] = rng.choice(_JUNK)
    else:
        parent.append(rng.choice(_JUNK))
    return row


def hand_compiler() -> Callable[[dict[str, Any]], Check] | None:
    """``compile_schema`` of the hand-written module at HAND_COMMIT, or None without git history."""
    try:
        source = subprocess.run(["git", "show", f"{HAND_COMMIT}:schemas/_fastschema.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("hand_fastschema")
    exec(compile(source, "hand_fastschema.py", "exec"), module.__dict__)
    return module.compile_schema  # type: ignore[no-any-return]


HAND = hand_compiler()


def candidates(name: str) -> dict[str, Check]:
    from schemas import compile_schema

    schema = json_schema(name)
    out: dict[str, Check] = {}
    if HAND is not None:
        out["hand"] = HAND(schema)
    out["shipped"] = compile_schema(schema)
    if fastjsonschema is not None:
        fjs = fastjsonschema.compile(schema)

        def fjs_check(row: Any) -> bool:
            try:
                fjs(row)
            except fastjsonschema.JsonSchemaException:
                return False
            return True

        out["fastjsonschema"] = fjs_check
    adapter = TypeAdapter(RECORD_MODELS[name])

    def pydantic_lax(row: Any) -> bool:
        try:
            adapter.validate_python(row)
        except ValidationError:
            return False
        return True

    def pydantic_strict(row: Any) -> bool:
        try:
            adapter.validate_python(row, strict=True)
        except ValidationError:
            return False
        return True

    out["pydantic"] = pydantic_lax
    out["pydantic_strict"] = pydantic_strict
    out["jsonschema"] = Draft202012Validator(schema).is_valid
    return out


def rate(check: Check, rows: list[Any], budget: float) -> tuple[float, int, int]:
    """rows/s over ``rows`` (stopping early past ``budget`` seconds), rows checked, rows valid."""
    valid = 0
    start = time.perf_counter()
    n = 0
    for row in rows:
        valid += check(row)
        n += 1
        if n % 500 == 0 and time.perf_counter() - start > budget:
            break
    return n / (time.perf_counter() - start), n, valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per format (default: 20,000)")
    parser.add_argument("--mutants", type=int, default=1500, help="mutated rows per format (default: 1500)")
    parser.add_argument("--reference-budget", type=float, default=3.0,
                        help="seconds given to jsonschema per format (it is ~100x slower; default: 3)")
    args = parser.parse_args()

    base = real_rows()
    totals: dict[str, float] = {}
    counted = 0
    base_label = "hand" if HAND is not None else "shipped"
    print(f"{args.rows:,} valid rows and {args.mutants:,} mutants per format; rows/s (ratio to {base_label})")
    for name in EXPORT_SCHEMAS:
        seeds = base[name]
        rows = [seeds[i % len(seeds)] for i in range(args.rows)]
        rng = random.Random(name)
        mutants = [mutate(rng.choice(seeds), rng) for _ in range(args.mutants)]
        checks = candidates(name)
        reference = checks["jsonschema"]
        expected = [reference(m) for m in mutants]
        line = []
        base_rate = 0.0
        for label, check in checks.items():
            speed, checked, valid = rate(check, rows, args.reference_budget if label == "jsonschema" else 1e9)
            if label == base_label:
                base_rate = speed
            refused = f", refuses {checked - valid} of {checked} valid rows" if valid != checked else ""
            disagree = sum(check(m) != e for m, e in zip(mutants, expected, strict=True))
            false_accept = sum(check(m) and not e for m, e in zip(mutants, expected, strict=True))
            totals[label] = totals.get(label, 0.0) + args.rows / speed
            line.append(f"{label} {speed:,.0f} ({speed / base_rate:.2f}x; "
                        f"{disagree} disagree, {false_accept} accept invalid{refused})")
        counted += args.rows
        print(f"{name} ({sum(not e for e in expected)} of the mutants invalid):\n  " + "\n  ".join(line))
    print(f"\noverall, all formats' rows (rows/s, ratio to {base_label}):")
    for label, seconds in totals.items():
        print(f"  {label:16s} {counted / seconds:>10,.0f}  {totals[base_label] / seconds:.2f}x")


if __name__ == "__main__":
    main()
