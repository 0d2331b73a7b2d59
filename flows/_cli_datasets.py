"""Commands over the store's datasets and versions: `sql`, `versions`, `tag`, `untag`, `derive`,
`merge`, `rollback`, `diff` and `gc` (store/; issue 3). Each opens the store, calls one of its
methods and prints the result; none re-runs the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import typer

from schemas import BackchainError, ConfigError

from ._cli_common import DbOption, db_path, err, fail, open_existing, open_store, ref_text, render_rows


def sql(
    query: str = typer.Argument(..., help="A read-only SQL query over the views."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    db: Path | None = DbOption,
) -> None:
    """Run a read-only SQL query over the stable views (writes are refused).

    Example: backchain sql "SELECT status, count(*) FROM candidates GROUP BY ALL"
    """
    try:
        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        with open_store(db_path(db), read_only=True) as store:
            store.sandbox()  # the query reads this database only: no files, extensions or network
            columns, rows = store.query(query)
        typer.echo(render_rows(columns, rows, format), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def versions(
    dataset: str | None = typer.Argument(None, help="Dataset name; all datasets if omitted."),
    db: Path | None = DbOption,
) -> None:
    """List the sealed versions of a dataset, newest last.

    Example: backchain versions default
    """
    try:
        with open_store(db_path(db), read_only=True) as store:
            infos = store.versions(dataset)
        columns = ["dataset", "version", "rows", "content_hash", "created_at", "tags", "message"]
        rows = [(v.dataset, v.version, v.row_count, v.content_hash[:16], v.created_at.isoformat(timespec="seconds"),
                 ",".join(v.tags), v.message) for v in infos]
        typer.echo(render_rows(columns, rows, "table"), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def tag(
    ref: str = typer.Argument(..., help="DATASET@VERSION to tag."),
    name: str = typer.Argument(..., help="Tag name, e.g. prod."),
    force: bool = typer.Option(False, "--force", help="Move the tag if it names another version."),
    db: Path | None = DbOption,
) -> None:
    """Name one version with a tag (tags move only with --force).

    Example: backchain tag default@3 prod
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with open_store(db_path(db), read_only=False) as store:
            info = store.tag(dataset_name, version_ref, name, move=force)
        typer.echo(f"{info.dataset}@{info.version} tagged {name}")
    except BackchainError as exc:
        fail(str(exc))


def derive(
    ref: str = typer.Argument(..., help="DATASET[@VERSION|@TAG|@latest|@TIME] to filter."),
    where: str = typer.Option(..., "--where", "-w", help="SQL predicate over dataset_rows' columns, e.g. \"score > 0.5\"."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    into: str | None = typer.Option(None, "--into", help="Seal into this dataset (default: the same one)."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new version with the rows of a version that match a SQL predicate (no re-run).

    The predicate sees dataset_rows' columns (example_id, kind, user_request, trace, answer,
    score, split, writer, body) and must only read.

    Example: backchain derive default@latest --where "kind = 'multi_step' AND score > 0.5"
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with open_existing(db_path(db), read_only=False) as store:
            store.sandbox()  # the predicate reads this database only
            source = store.resolve(dataset_name, version_ref)
            info = store.derive(dataset_name, version_ref, where=where, message=message, into=into)
        typer.echo(f"sealed {ref_text(info)}: {info.row_count} of {source.row_count} rows of "
                   f"{ref_text(source)} where {where.strip()}")
    except BackchainError as exc:
        fail(str(exc))


def merge(
    a: str = typer.Argument(..., help="First DATASET@REF (the new version goes to its dataset)."),
    b: str = typer.Argument(..., help="Second DATASET@REF."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    into: str | None = typer.Option(None, "--into", help="Seal into this dataset (default: the first one's)."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new version with the union of two versions, by example id (no re-run).

    An example in both keeps the higher score (and the first version's split).

    Example: backchain merge default@3 default@5 --message "both runs"
    """
    try:
        from store import parse_ref

        ref_a, ref_b = parse_ref(a), parse_ref(b)
        with open_existing(db_path(db), read_only=False) as store:
            result = store.merge(ref_a, ref_b, message=message, into=into)
        info = result.version
        note = (f"; {result.score_conflicts} example(s) in both with different scores kept the higher"
                if result.score_conflicts else "")
        typer.echo(f"sealed {ref_text(info)}: {info.row_count} rows, the union of {a} and {b}{note}")
    except BackchainError as exc:
        fail(str(exc))


def rollback(
    ref: str = typer.Argument(..., help="DATASET@REF whose rows the new latest version gets."),
    message: str | None = typer.Option(None, "--message", "-m", help="Message stored with the new version."),
    db: Path | None = DbOption,
) -> None:
    """Seal a new latest version with exactly an old version's rows (history is kept).

    Example: backchain rollback default@2
    """
    try:
        from store import parse_ref

        dataset_name, version_ref = parse_ref(ref)
        with open_existing(db_path(db), read_only=False) as store:
            previous = store.resolve(dataset_name, "latest")
            source = store.resolve(dataset_name, version_ref)
            info = store.rollback(dataset_name, version_ref, message=message)
        typer.echo(f"sealed {ref_text(info)}: {info.row_count} rows, the rows of {ref_text(source)} "
                   f"({ref_text(previous)} stays in the history)")
    except BackchainError as exc:
        fail(str(exc))


def untag(
    dataset: str = typer.Argument(..., help="Dataset name."),
    name: str = typer.Argument(..., help="Tag to remove."),
    db: Path | None = DbOption,
) -> None:
    """Remove a tag; the version it named stays.

    Example: backchain untag default prod
    """
    try:
        with open_existing(db_path(db), read_only=False) as store:
            info = store.untag(dataset, name)
        typer.echo(f"removed tag {name} from {ref_text(info)}")
    except BackchainError as exc:
        fail(str(exc))


def diff(
    a: str = typer.Argument(..., help="DATASET@REF to compare from."),
    b: str = typer.Argument(..., help="DATASET@REF to compare to."),
    limit: int = typer.Option(10, "--limit", "-n", help="Rows shown per kind of change (default: 10)."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    db: Path | None = DbOption,
) -> None:
    """Show added, removed and changed rows between two versions (same task key, new content).

    Example: backchain diff default@1 default@latest
    """
    try:
        from store import parse_ref

        if format not in ("table", "csv", "json"):
            raise ConfigError(f"--format {format!r}: use table, csv or json")
        if limit < 0:
            raise ConfigError(f"--limit {limit}: use 0 or more")
        with open_existing(db_path(db), read_only=True) as store:
            result = store.diff(parse_ref(a), parse_ref(b), limit=limit)
        head = (f"{ref_text(result.a)} -> {ref_text(result.b)}: {result.added} added, "
                f"{result.removed} removed, {result.changed} changed, {result.unchanged} unchanged")
        if format != "table":
            typer.echo(render_rows(result.columns, result.rows, format), nl=False)
            err.print(head, highlight=False, soft_wrap=True)
            return
        typer.echo(head)
        if result.rows:
            idx = {c: i for i, c in enumerate(result.columns)}
            short = [(r[idx["change"]], str(r[idx["task_key"]])[:12], str(r[idx["example_id_a"]] or "")[:12],
                      str(r[idx["example_id_b"]] or "")[:12], r[idx["score_a"]], r[idx["score_b"]],
                      str(r[idx["user_request_b"]] or r[idx["user_request_a"]] or "")[:80])
                     for r in result.rows]
            columns = ["change", "task_key", "example_a", "example_b", "score_a", "score_b", "user_request"]
            typer.echo(render_rows(columns, short, "table"), nl=False)
    except BackchainError as exc:
        fail(str(exc))


def gc(
    keep_last: int = typer.Option(10, "--keep-last", help="Newest versions kept per dataset (tagged ones are always kept)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; change nothing."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset (default: all)."),
    db: Path | None = DbOption,
) -> None:
    """Expire old untagged versions, then delete rows that nothing kept references.

    Never expires a tagged version or a dataset's latest. See the README for exactly
    which rows are collected.

    Example: backchain gc --keep-last 5 --dry-run
    """
    try:
        with open_existing(db_path(db), read_only=dry_run) as store:
            report = store.gc(keep_last=keep_last, dry_run=dry_run, dataset=dataset)
        verb = ("would expire", "would collect") if dry_run else ("expired", "collected")
        listed = ", ".join(f"{v.dataset}@{v.version} ({v.row_count} rows)" for v in report.expired)
        typer.echo(f"{verb[0]} {len(report.expired)} version(s){': ' + listed if listed else ''}")
        counts = ", ".join(f"{table} {n}" for table, n in report.collected.items())
        typer.echo(f"{verb[1]}: {counts}; member_rows {report.member_rows} of expired versions")
    except BackchainError as exc:
        fail(str(exc))
