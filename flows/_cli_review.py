"""`backchain review DATASET@REF`: a person reads sampled rows as conversations and grades them.

Each row is shown the way a trainer reads it: the user's request, any dialogue,
every tool call with its arguments and a short view of what came back, and the
assistant's final answer. The reviewer grades it:

    naturalness   n(atural) / s(tilted) / u(nusable)
    answer        y (right) / n (wrong)
    note          free text (optional)

Grades are stored in DuckDB (`review_rows`; the `reviews` view by version and
reviewer) and `backchain report` shows the graded share and how far the judge
agrees with people. Keyboard prompts on a terminal; otherwise (tests, scripts)
one grade per line from ``--grades FILE`` or stdin: ``n y`` or ``stilted yes the
request names a code`` ("q" stops, "-" skips a row).
Registered on the app in cli.py.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import typer

from schemas import BackchainError, ConfigError, Example

from ._cli_common import DbOption, db_path, fail, render_rows

_NATURAL = {"n": "natural", "natural": "natural", "s": "stilted", "stilted": "stilted", "u": "unusable",
            "unusable": "unusable"}
_RIGHT = {"y": True, "yes": True, "right": True, "r": True, "n": False, "no": False, "wrong": False, "w": False}


def conversation_text(example: Example, *, width: int = 400) -> str:
    """A row as a conversation, in plain text: request, dialogue, calls and results, answer."""
    task = example.task
    lines = [f"[{task.kind}, written by {task.writer}]", f"USER: {task.user_request}"]
    lines += [f"{t.role.upper()}: {t.content}" for t in task.dialogue]
    for turn in example.trace.turns():
        for k in turn:
            step = example.trace.steps[k]
            args = json.dumps(step.arguments, ensure_ascii=False)
            lines.append(f"  call {k + 1}: {step.tool}({args})")
            output = json.dumps(step.output, ensure_ascii=False)
            if len(output) > width:
                output = output[:width] + " ..."
            lines.append(f"  {'error' if step.is_error else 'result'} {k + 1}: {output}")
    lines.append(f"ASSISTANT: {task.final_message}")
    if task.answer is not None:
        lines.append(f"  (expected: {json.dumps(task.answer.value, ensure_ascii=False)})")
    return "\n".join(lines)


def parse_grade(line: str) -> tuple[str, bool, str] | None:
    """'n y a note' -> ('natural', True, 'a note'); None for '-' (skip). Raises ConfigError when unreadable."""
    words = line.strip().split(maxsplit=2)
    if words and words[0] == "-":
        return None
    if len(words) < 2 or words[0].lower() not in _NATURAL or words[1].lower() not in _RIGHT:
        raise ConfigError(f"grade {line.strip()!r}: write naturalness (n/s/u) and answer (y/n), then a note, "
                          "e.g. 'n y' or 'stilted yes the request names a code'")
    return _NATURAL[words[0].lower()], _RIGHT[words[1].lower()], words[2] if len(words) > 2 else ""


def _ask(prompt: str, choices: Mapping[str, object]) -> str:
    while True:
        answer = str(typer.prompt(prompt)).strip().lower()
        if answer in choices or answer in ("q", "-"):
            return answer
        typer.echo(f"  please answer one of: {', '.join(sorted(k for k in choices if len(k) == 1))}, - (skip), q")


def _lines(source: IO[str]) -> Iterator[str]:
    for line in source:
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


def review(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest]."),
    n: int = typer.Option(10, "--n", "-n", min=1, help="Rows to sample (rows this reviewer graded are skipped)."),
    reviewer: str | None = typer.Option(None, "--reviewer", "-r",
                                        help="Who grades (default: $BACKCHAIN_REVIEWER, else the login name)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    grades: Path | None = typer.Option(None, "--grades",
                                       help="Read grades from this file, one line per row ('n y note'); "
                                            "'-' reads stdin. Default: prompt on a terminal, else stdin."),
    db: Path | None = DbOption,
) -> None:
    """Read N sampled rows as conversations and grade each: natural / stilted / unusable, answer right or
    wrong, a note. Grades are stored (the `reviews` view) and `backchain report` shows them.

    Example: backchain review default@latest -n 10
    Example (non-interactive): printf 'n y\\ns n wrong unit\\n' | backchain review default@latest -n 2
    """
    try:
        from store import Grade, Store, parse_ref

        dataset, version_ref = parse_ref(ref)
        path = db_path(db)
        if not path.exists():
            raise ConfigError(f"no database at {path}: run `backchain run` first, or pass --db")
        who = reviewer or os.environ.get("BACKCHAIN_REVIEWER") or _login()
        interactive = grades is None and sys.stdin.isatty()
        source: IO[str] | None = None
        if grades is not None and str(grades) != "-":
            try:
                source = grades.open(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read grades from {grades}: {exc.strerror or exc}") from exc
        elif not interactive:
            source = sys.stdin
        feed = _lines(source) if source is not None else None
        saved = skipped = 0
        with Store(path) as store:
            info = store.resolve(dataset, version_ref)
            rows = list(store.review_sample(info.version_id, n, seed=seed, reviewer=who))
            if not rows:
                typer.echo(f"nothing to review in {info.dataset}@{info.version}: every row is graded by {who}")
                return
            for i, (example, score) in enumerate(rows, start=1):
                shown = f"{score:.2f}" if score is not None else "-"
                typer.echo(f"\n--- row {i} of {len(rows)} ({example.example_id[:12]}, judge score {shown}) ---")
                typer.echo(conversation_text(example))
                if feed is not None:
                    line = next(feed, None)
                    if line is None or line.strip().lower() == "q":
                        break
                    parsed = parse_grade(line)
                    if parsed is None:
                        skipped += 1
                        continue
                    natural, right, note = parsed
                else:
                    first = _ask("natural, stilted or unusable? [n/s/u, - skip, q quit]", _NATURAL)
                    if first == "q":
                        break
                    if first == "-":
                        skipped += 1
                        continue
                    second = _ask("is the answer right? [y/n]", _RIGHT)
                    if second == "q":
                        break
                    if second == "-":
                        skipped += 1
                        continue
                    natural, right = _NATURAL[first], bool(_RIGHT[second])
                    note = typer.prompt("note (optional)", default="", show_default=False).strip()
                store.save_review(info.version_id, example.example_id, who, Grade(natural, right, note))
                saved += 1
            typer.echo(f"\nsaved {saved} grade(s) by {who} for {info.dataset}@{info.version}"
                       + (f", skipped {skipped}" if skipped else ""))
            columns, table = store.review_report(info.dataset, str(info.version))
            typer.echo(render_rows(columns, table, "table"), nl=False)
        if source is not None and source is not sys.stdin:
            source.close()
    except BackchainError as exc:
        fail(str(exc))


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"
