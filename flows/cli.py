"""The `backchain` command line. Thin: parse, call library code, print.

Every `BackchainError` becomes one line on stderr and exit status 1. Data goes
to stdout, progress and notes to stderr.

The commands live in modules by group, and are registered here, in the order
`backchain -h` lists them:

    _cli_run.py       run
    _cli_datasets.py  sql, versions, tag, untag, derive, merge, rollback, diff, gc
    _cli_export.py    export
    _cli_quality.py   difficulty, audit, diversity, tools, judge-check
    _cli_ops.py       serve, schedules, report
    _cli_review.py    review
    _cli_server.py    server start/status/stop (a group)
    _cli_models.py    models list/prepare (a group)

What they share (``--db``, opening the store, the one-line failure, printing rows) is in
_cli_common.py. No command module imports this one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from . import _cli_datasets, _cli_export, _cli_ops, _cli_quality, _cli_review, _cli_run
from ._cli_common import CONTEXT_SETTINGS, debug, err
from ._cli_models import models_app
from ._cli_server import server_app

app = typer.Typer(
    name="backchain",
    help="Verified tool-calling training data: call real tools first, write the task backward.",
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("run", _cli_run.run),
    ("sql", _cli_datasets.sql),
    ("versions", _cli_datasets.versions),
    ("tag", _cli_datasets.tag),
    ("export", _cli_export.export),
    ("difficulty", _cli_quality.difficulty),
    ("audit", _cli_quality.audit),
    ("derive", _cli_datasets.derive),
    ("merge", _cli_datasets.merge),
    ("rollback", _cli_datasets.rollback),
    ("untag", _cli_datasets.untag),
    ("diff", _cli_datasets.diff),
    ("gc", _cli_datasets.gc),
    ("diversity", _cli_quality.diversity),
    ("tools", _cli_quality.tools),
    ("judge-check", _cli_quality.judge_check),
    ("serve", _cli_ops.serve),
    ("schedules", _cli_ops.schedules),
    ("report", _cli_ops.report),
    ("review", _cli_review.review),
)
"""Every top-level command, in the order `backchain -h` lists them (the groups follow)."""

for _name, _command in COMMANDS:
    app.command(_name)(_command)
app.add_typer(server_app, name="server")
app.add_typer(models_app, name="models")


@app.callback()
def _options(
    debug_flag: bool = typer.Option(
        False, "--debug", help="Show the traceback behind an error (also BACKCHAIN_DEBUG=1)."),
) -> None:
    """Verified tool-calling training data: call real tools first, write the task backward."""
    if debug_flag:
        debug.on = True


def main(argv: list[str] | None = None) -> None:
    """The console script: every failure is one line (a traceback only with --debug).

    Usage errors (a bad flag or value) are one line naming the command's help,
    not click's boxed block; an error nothing named is one line with its type.
    """
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer's own click

    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:  # accepted after the command too: `backchain run --debug`
        args.remove("--debug")
        args.insert(0, "--debug")
    try:
        code = app(args=args, prog_name="backchain", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `backchain` alone: the help
        err.print(exc.format_message() if not exc.ctx else exc.ctx.get_help(), highlight=False, markup=False)
        sys.exit(0)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)  # usage errors carry the command they are about
        where = ctx.command_path if ctx is not None else "backchain"
        err.print(f"[bold red]error:[/bold red] {_one_line(exc.format_message())} (see `{where} -h`)",
                  highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        sys.exit(130)
    except BaseException as exc:  # Prefect turns SIGTERM into TerminationSignal (a BaseException)
        if type(exc).__name__ != "TerminationSignal" or debug.on:
            raise
        err.print("stopped by SIGTERM; what was recorded is kept: run the same command again to resume",
                  soft_wrap=True)
        sys.exit(143)
    except Exception as exc:  # a failure nothing above named: still one line
        if debug.on:
            raise
        err.print(f"[bold red]error:[/bold red] {type(exc).__name__}: {_one_line(str(exc)) or 'no message'} "
                  "(unexpected; rerun with --debug for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
