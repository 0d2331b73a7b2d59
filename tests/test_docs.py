"""The documentation site (docs/) documents every command, flag, view and config key.

Generic over the typer app (`flows.cli.app`): every command and sub-command the app registers,
and every option of each, as they exist now. A new command or flag fails here until a page of
docs/commands/ documents it. Also: every command's help has an example, public names are
exported and sorted, committed JSON schemas match the models, and the README keeps the two
commands in its quick start.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from flows._config import JudgeEndpointConfig, OpenAPISource, RunConfig, ToolsetConfig
from flows.cli import app
from schemas._jsonschema import stale_json_schemas
from store import CONTRACT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMAND_PAGES = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted((DOCS / "commands").glob("*.md"))}
VIEWS_PAGE = "docs/reference/sql-views.md"
CONFIG_PAGE = "docs/reference/configuration.md"
PACKAGES = ["schemas", "generators", "validators", "store", "exporters", "flows"]


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the app as (path, click command): the root, the groups (they have
    ``commands``), and the commands of each group."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))
LEAVES = sorted(path for path, cmd in COMMANDS.items() if path and not hasattr(cmd, "commands"))


def _headings(text: str) -> Iterator[tuple[int, int, str]]:
    """(line index, level, title) of each markdown heading outside fenced code."""
    fenced = False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#{1,6}) (.+?)\s*$", line)):
            yield i, len(m.group(1)), m.group(2)


def _section(path: tuple[str, ...]) -> tuple[str, str] | None:
    """(page, text) of the section headed `backchain PATH` on a docs/commands/ page: from the
    heading to the next heading of the same or a higher level."""
    title = " ".join(("backchain", *path))
    for page, text in COMMAND_PAGES.items():
        lines = text.splitlines()
        heads = list(_headings(text))
        for n, (start, level, head) in enumerate(heads):
            if head.strip("`") == title:
                end = next((i for i, lv, _ in heads[n + 1:] if lv <= level), len(lines))
                return page, "\n".join(lines[start:end])
    return None


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(("backchain", *p)))
def test_every_command_and_flag_is_documented(path: tuple[str, ...]) -> None:
    title = " ".join(("backchain", *path))
    found = _section(path)
    assert found is not None, f"no heading '{title}' on any page of docs/commands/ ({', '.join(COMMAND_PAGES)})"
    page, section = found
    flags = [opt for p in COMMANDS[path].params if p.param_type_name == "option"
             for opt in (*p.opts, *p.secondary_opts)]
    missing = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", section)]
    assert not missing, f"{title}: {', '.join(missing)} not documented in the '{title}' section of {page}"


@pytest.mark.parametrize("path", LEAVES, ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert "Example: backchain " + " ".join(path) in " ".join(result.output.split())


@pytest.mark.parametrize("view", sorted(CONTRACT_COLUMNS))
def test_every_view_and_column_is_documented(view: str) -> None:
    text = (ROOT / VIEWS_PAGE).read_text(encoding="utf-8")
    row = next((ln for ln in text.splitlines() if re.match(rf"\| `{view}[`(]", ln)), None)
    assert row is not None, f"view {view} has no row in the tables of {VIEWS_PAGE}"
    missing = [c for c in CONTRACT_COLUMNS[view] if not re.search(rf"\b{c}\b", row)]
    assert not missing, f"{view}: columns {', '.join(missing)} are not in its row of {VIEWS_PAGE}"
    examples = text.split("## Examples, one per view", 1)
    assert len(examples) == 2, f"{VIEWS_PAGE} has no '## Examples, one per view' section"
    assert re.search(rf"\b{view}\b", examples[1]), f"view {view} has no example query in {VIEWS_PAGE}"


@pytest.mark.parametrize("model", [RunConfig, ToolsetConfig, OpenAPISource, JudgeEndpointConfig],
                         ids=lambda m: m.__name__)
def test_every_config_key_is_documented(model: type[RunConfig]) -> None:
    text = (ROOT / CONFIG_PAGE).read_text(encoding="utf-8")
    missing = [k for k in model.model_fields if f"`{k}`" not in text]
    assert not missing, f"{model.__name__} keys {', '.join(missing)} are not in {CONFIG_PAGE}"


def test_every_environment_variable_is_documented() -> None:
    text = (ROOT / CONFIG_PAGE).read_text(encoding="utf-8")
    names = {name for package in PACKAGES for source in (ROOT / package).rglob("*.py")
             for name in re.findall(r"\bBACKCHAIN_[A-Z_]*[A-Z]\b", source.read_text(encoding="utf-8"))}
    assert names, "no BACKCHAIN_ variables found in the packages"
    missing = sorted(n for n in names if n not in text)
    assert not missing, f"{', '.join(missing)} read by the code but not in {CONFIG_PAGE}"


def test_readme_quick_start_has_the_two_commands() -> None:
    parts = re.split(r"^## Quick start\s*$", README, maxsplit=1, flags=re.M | re.I)
    assert len(parts) == 2, "README.md has no '## Quick start' section"
    quick = parts[1].split("\n## ", 1)[0]
    assert "make run" in quick and "make test" in quick


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_are_exported_and_sorted(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but not defined"


def test_committed_json_schemas_match_the_models() -> None:
    assert stale_json_schemas() == [], "regenerate with: python -m schemas"


def test_readme_is_a_front_page() -> None:
    lines = README.count("\n")
    assert lines < 200, f"README.md has {lines} lines; keep it a front page under 200 and move details to docs/"
    for page in re.findall(r"\]\((docs/[^)#]+)", README):  # its links lead to pages that exist
        assert (ROOT / page).is_file(), f"README links to {page}, which does not exist"
