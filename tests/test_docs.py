"""The README documents every command and view; public names are exported and sorted."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from schemas._jsonschema import stale_json_schemas
from store import CONTRACT_COLUMNS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)  # type: ignore[union-attr]


def test_readme_starts_with_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_and_has_help_with_an_example(command: str) -> None:
    assert f"### backchain {command}\n" in README
    result = CliRunner().invoke(app, [command, "-h"])
    assert result.exit_code == 0
    assert "Example: backchain " + command in " ".join(result.output.split())


GROUPS = {g.name: g.typer_instance for g in app.registered_groups}  # e.g. `backchain server start`


@pytest.mark.parametrize(("group", "command"), [
    (name, c.name or c.callback.__name__)  # type: ignore[union-attr]
    for name, sub in sorted(GROUPS.items()) for c in sub.registered_commands
])
def test_every_group_command_is_documented_and_has_help_with_an_example(group: str, command: str) -> None:
    assert f"### backchain {group}\n" in README and f"backchain {group} {command}" in README
    result = CliRunner().invoke(app, [group, command, "-h"])
    assert result.exit_code == 0
    assert f"Example: backchain {group} {command}" in " ".join(result.output.split())


@pytest.mark.parametrize("view", sorted(CONTRACT_COLUMNS))
def test_every_view_and_column_is_documented(view: str) -> None:
    row = next((ln for ln in README.splitlines() if ln.startswith(f"| `{view}")), None)
    assert row is not None, f"view {view} is missing from the README's table"
    for column in CONTRACT_COLUMNS[view]:
        assert re.search(rf"\b{column}\b", row), f"{view}.{column} is not documented"
    assert re.search(rf"\b{view}\b", README.split("Examples, one per view", 1)[1])


@pytest.mark.parametrize("package", ["schemas", "generators", "validators", "store", "exporters", "flows"])
def test_public_names_are_exported_and_sorted(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but not defined"


def test_committed_json_schemas_match_the_models() -> None:
    assert stale_json_schemas() == [], "regenerate with: python -m schemas"
