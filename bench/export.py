"""Benchmark: export 1,000,000 rows to trl-sft parquet; compare with DuckDB's COPY TO parquet.

How the rows are made cheaply: six realistic seed examples (one per task kind, built in this
file from outputs the built-in toolset returns) are stored once as canonical JSON, as the store
writes bodies, with their chat rendering (``store._rendered.rendered_columns``, what m005 keeps
for every example); DuckDB then multiplies them over ``range(N)`` in one INSERT ... SELECT,
giving each row its own id and a numbered request (``"#<i> "`` prefixed to the user request, in
the body and in the rendered user message alike) so no two rows are the same, and the render
hash ``Store.verify`` checks. The rows go in through the store's own Arrow path
(``Store._insert``) and are sealed as one version (``Store.seal_version`` with an Arrow table of
members), as bench/store_seal.py does. Nothing here builds a million pydantic objects up front.

Timed, each in a fresh process on the same file:

* ``backchain export``: ``exporters.export_version(store, version, fmt="trl-sft", out=...)``,
  the CLI's path; here the fast one (exporters/_fast.py: the stored renderings, already checked
  against schemas/json/export-trl-sft.json, streamed into parquet in row-id range chunks;
  manifest with load_drift and sha256; rename). Each run says which path it took; the Python
  path (parse, build, check each row) writes the same bytes (tests/exporters/test_fast_export.py)
  at a few thousand rows a second.
* the same with ``--split train=0.8,validation=0.1,test=0.1`` (the split drawn in SQL).
* ``DuckDB COPY``: the same rows (our parquet, loaded into a DuckDB table first, untimed)
  written again with ``COPY rows TO 'x.parquet' (FORMAT parquet)``: what writing these rows
  costs DuckDB. Headline: speed ratio = COPY time / export time (target >= 0.5).
* ``DuckDB COPY of the stored JSON``: ``COPY (SELECT body FROM dataset_rows(...))``, the
  version's rows as stored, no conversion at all, for scale.

Memory, at N/10 and at N rows: the peak number of Python memory blocks alive
(``sys.getallocatedblocks``, sampled every 50 ms: the objects the export holds; streaming shows
as a peak that does not grow with N) and the process's peak RSS (/proc VmHWM), which also
holds DuckDB's buffers: its hash join of the version's members with the examples (ids and small
columns only) and the blocks it has read.

    .venv/bin/python bench/export.py              # 1,000,000 rows
    .venv/bin/python bench/export.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa

from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    DialogueTurn,
    Example,
    Normaliser,
    Step,
    Task,
    Tool,
    Trace,
    canonical_json,
)
from store import Store
from store._rendered import RENDER_HASH_SQL, RENDERED_ARROW, rendered_columns

USER = ArgumentSource(origin="user", how="seed")


def _tool(name: str, description: str, properties: dict, required: list[str]) -> Tool:  # type: ignore[type-arg]
    return Tool(toolset="backchain-builtin", name=name, description=description,
                input_schema={"type": "object", "properties": properties, "required": required},
                side_effect="read", side_effect_source="annotations")


COUNTRY = _tool("country_info", "Look up a country's capital, coordinates and currency.",
                {"country": {"type": "string", "description": "Country name or ISO code."}}, ["country"])
TIMEZONE = _tool("timezone_at", "The IANA time zone at a point.",
                 {"latitude": {"type": "number", "minimum": -90, "maximum": 90},
                  "longitude": {"type": "number", "minimum": -180, "maximum": 180}}, ["latitude", "longitude"])
UNITS = _tool("convert_units", "Convert a quantity between units.",
              {"value": {"type": "number"}, "unit": {"type": "string"}, "to_unit": {"type": "string"}},
              ["value", "unit", "to_unit"])
TOOLS = [COUNTRY, TIMEZONE, UNITS]
FRANCE = {"name": "France", "capital": "Paris", "latitude": 48.8566, "longitude": 2.3522, "currency": "EUR"}


def _step(tool: Tool, args: dict, output: object, *, group: int | None = None,  # type: ignore[type-arg]
          is_error: bool = False, from_step: int | None = None) -> Step:
    sources = {k: (ArgumentSource(origin="step", step=from_step, pointer=f"/{k}") if from_step is not None
                   else USER) for k in args}
    return Step(toolset="backchain-builtin", tool=tool.name, arguments=args, sources=sources,
                observation_id=f"obs-{tool.name}-{json.dumps(args, sort_keys=True)}", output=output,
                group=group, is_error=is_error)


def _task(kind: str, request: str, final: str, value: object, step: int, pointer: str, **extra: object) -> Task:
    answer = Answer(pointers=[AnswerPointer(step=step, pointer=pointer)], value=value, normaliser=Normaliser())
    return Task(kind=kind, user_request=request, user_values={}, answer=answer, final_message=final,  # type: ignore[arg-type]
                writer="template", **extra)  # type: ignore[arg-type]


def seeds() -> list[Example]:
    chain = [_step(COUNTRY, {"country": "France"}, FRANCE),
             _step(TIMEZONE, {"latitude": 48.8566, "longitude": 2.3522}, {"timezone": "Europe/Paris"}, from_step=0)]
    convert = _step(UNITS, {"value": 10, "unit": "mile", "to_unit": "kilometer"}, {"value": 16.09344, "unit": "km"})
    return [
        Example(task=_task("multi_step", "Which time zone is the capital of France in?",
                           "Paris is in Europe/Paris.", "Europe/Paris", 1, "/timezone"),
                trace=Trace(steps=chain), tools=TOOLS),
        Example(task=_task("single", "What is the capital of France?", "It is Paris.", "Paris", 0, "/capital"),
                trace=Trace(steps=chain[:1]), tools=TOOLS),
        Example(task=Task(kind="parallel", user_request="Capital of France? And 10 miles in km?", user_values={},
                          answer=Answer(pointers=[AnswerPointer(step=0, pointer="/capital"),
                                                  AnswerPointer(step=1, pointer="/value")], value=["Paris", 16.09344]),
                          final_message="Paris; 16.09344 km.", writer="template"),
                trace=Trace(steps=[chain[0].model_copy(update={"group": 0}), convert.model_copy(update={"group": 0})]),
                tools=TOOLS),
        Example(task=_task("multi_turn", "Which time zone is the capital of my country in?",
                           "Paris is in Europe/Paris.", "Europe/Paris", 1, "/timezone",
                           dialogue=[DialogueTurn(role="assistant", content="Which country?"),
                                     DialogueTurn(role="user", content="France.")]),
                trace=Trace(steps=chain), tools=TOOLS),
        Example(task=_task("error_recovery", "How many kilometres are 10 miles?", "16.09344 km.", 16.09344, 1, "/value"),
                trace=Trace(steps=[_step(UNITS, {"value": 10, "unit": "mile", "to_unit": "degC"},
                                         "Error: different dimensions", is_error=True), convert]), tools=TOOLS),
        Example(task=Task(kind="no_call", user_request="What is 2.5 plus 4?", user_values={}, answer=None,
                          final_message="6.5.", writer="template"), trace=Trace(steps=[]), tools=TOOLS),
    ]


GENERATE_SQL = """
    SELECT md5('example' || i) AS example_id, md5('task' || i) AS task_key, s.kind,
           '#' || i || ' ' || s.user_request AS user_request, 'template' AS writer,
           NULL::VARCHAR AS writer_model, s.trace, s.answer,
           replace(s.body, '"user_request":"', '"user_request":"#' || i || ' ') AS body,
           TIMESTAMPTZ '2026-01-01 00:00:00+00' AS created_at,
           -- the stored rendering (m005) of that body: the seed's, its user message numbered alike
           list_concat([replace(s.chat_messages[1], '{{"role":"user","content":"',
                                '{{"role":"user","content":"#' || i || ' ')], s.chat_messages[2:]) AS chat_messages,
           s.chat_tools, s.chat_numeric, s.variant_key, s.chat_stamp
    FROM range({n}) AS t(i) JOIN bench_seeds AS s ON s.k = i % {k}
"""


def build(db: Path, n: int) -> None:
    """A database holding one sealed version of n synthetic rows (dataset 'bench')."""
    examples = seeds()
    bodies = [canonical_json(e.model_dump(mode="json")) for e in examples]  # as the store writes them
    rendered = [rendered_columns(body) for body in bodies]
    assert all(r["chat_stamp"] for r in rendered)
    with Store(db) as store:
        store.con.register("bench_seeds", pa.table({
            "k": list(range(len(examples))),
            "kind": [e.task.kind for e in examples],
            "user_request": [e.task.user_request for e in examples],
            "trace": [canonical_json(e.trace.model_dump(mode="json")) for e in examples],
            "answer": [canonical_json(e.task.answer.model_dump(mode="json") if e.task.answer else None)
                       for e in examples],
            "body": bodies,
            **{name: pa.array([r[name] for r in rendered], kind) for name, kind in RENDERED_ARROW[:-1]},
        }))
        rows = store.con.sql(
            f"SELECT *, {RENDER_HASH_SQL} AS render_hash FROM ({GENERATE_SQL.format(n=int(n), k=len(examples))}) AS e"
        ).to_arrow_table()
        with store._write("bench: synthetic example rows"):  # the store's Arrow path
            store._insert("example_rows", rows)
        members = pa.table({"example_id": rows.column("example_id"),
                            "score": pa.array([(i % 100) / 100 for i in range(n)], pa.float64())})
        store.seal_version("bench", run_id=None, members=members)


def peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


SPLIT = {"train": 0.8, "validation": 0.1, "test": 0.1}


def child_export(db: Path, out: Path, split: bool) -> None:
    """In a fresh process: the CLI's export path; prints seconds, rows and peak RSS."""
    from exporters import export_version
    from exporters._base import DEFAULT_OPTIONS
    from exporters._fast import plan_fast_export
    from exporters._pipeline import format_named
    from schemas import ExportFilters

    filters = ExportFilters(split=SPLIT, split_seed=7) if split else ExportFilters()
    peak_blocks = [sys.getallocatedblocks()]
    done = threading.Event()

    def sample() -> None:  # Python objects alive, sampled: what the export holds in Python
        while not done.wait(0.05):
            peak_blocks[0] = max(peak_blocks[0], sys.getallocatedblocks())

    with Store(db, read_only=True) as store:
        version = store.resolve("bench", "latest")
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        result = export_version(store, version, fmt="trl-sft", out=out, filters=filters)
        took = time.perf_counter() - started
        done.set()
        sampler.join()
        # after the clock stopped: say which path ran (the same bytes either way)
        fast = plan_fast_export(store, version, format_named("trl-sft"), out, filters, DEFAULT_OPTIONS)
    print(json.dumps({"seconds": took, "rows": result.row_count, "peak_rss": peak_rss(),
                      "peak_blocks": peak_blocks[0], "fast": fast is not None,
                      "bytes": sum(f.bytes for f in result.files if f.role == "data")}))


def child_copy(db: Path, ours: Path, out: Path) -> None:
    """In a fresh process: DuckDB's COPY TO parquet of the same rows; and of the stored JSON."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE bench_rows AS SELECT * FROM read_parquet('{ours}')")
    started = time.perf_counter()
    con.execute(f"COPY bench_rows TO '{out}' (FORMAT parquet)")
    same = time.perf_counter() - started
    con.close()
    with Store(db, read_only=True) as store:
        started = time.perf_counter()
        store.con.execute(f"COPY (SELECT body FROM dataset_rows('bench', 'latest')) TO '{out}.raw' (FORMAT parquet)")
        raw = time.perf_counter() - started
    print(json.dumps({"same_rows": same, "stored_json": raw}))


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child-export", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-copy", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_export:
        child_export(*args.child_export, args.split)
        return
    if args.child_copy:
        child_copy(*args.child_copy)
        return
    n = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small, large = root / "small.duckdb", root / "large.duckdb"
        started = time.perf_counter()
        build(small, max(n // 10, 1))
        build(large, n)
        built = time.perf_counter() - started
        tenth = _run("--child-export", str(small), str(root / "small.parquet"))
        full = _run("--child-export", str(large), str(root / "sft.parquet"))
        split = _run("--child-export", str(large), str(root / "split" / "sft.parquet"), "--split")
        copy = _run("--child-copy", str(large), str(root / "sft.parquet"), str(root / "copy.parquet"))
        copy_mb = (root / "copy.parquet").stat().st_size / 2**20
    tenth_n = max(n // 10, 1)
    print(f"rows: {n:,} (six seed examples, one per task kind, multiplied in DuckDB: {built:.1f} s to build)")
    for label, got in (("backchain export --format trl-sft", full),
                       ("  the same with --split 0.8/0.1/0.1", split)):
        path = "stored renderings" if got["fast"] else "Python rows"
        print(f"{label + ':':38} {got['seconds']:8.2f} s  {n / got['seconds']:9,.0f} rows/s  "
              f"{got['bytes'] / 2**20:7.1f} MiB  ({path})")
    print(f"{'DuckDB COPY TO parquet, same rows:':38} {copy['same_rows']:8.2f} s  "
          f"{n / copy['same_rows']:9,.0f} rows/s  {copy_mb:7.1f} MiB")
    print(f"speed ratio export/COPY = {copy['same_rows'] / full['seconds']:.3f}, with --split "
          f"{copy['same_rows'] / split['seconds']:.3f}  (target >= 0.5)")
    print(f"DuckDB COPY of the stored JSON (no conversion): {copy['stored_json']:.2f} s")
    print(f"export at {tenth_n:,} rows: {tenth['seconds']:.2f} s ({tenth_n / tenth['seconds']:,.0f} rows/s)")
    print(f"peak Python blocks alive: {tenth['peak_blocks']:,} at {tenth_n:,} rows, "
          f"{full['peak_blocks']:,} at {n:,} rows")
    print(f"peak RSS (DuckDB included): {tenth['peak_rss'] / 2**20:.0f} MiB at {tenth_n:,} rows, "
          f"{full['peak_rss'] / 2**20:.0f} MiB at {n:,} rows ({split['peak_rss'] / 2**20:.0f} MiB with --split)")


if __name__ == "__main__":
    main()
