"""``--format trl-grpo --tools-module``: the rows, plus a module of replay-backed tools for TRL.

Beside the usual trl-grpo files (rows, ``<stem>.reward.py``, the reward spec, the replay table)
the export writes ``<stem>.tools.py``::

    def country_info(*, country: str):
        \"\"\"Facts about a country: capital, coordinates, currency.

        Args:
            country: Country name or ISO code.
        \"\"\"
        return _SESSION.call("country_info", {"country": country})

    TOOLS = [country_info, ...]          GRPOTrainer(tools=TOOLS): one function per tool
    class ReplayEnvironment:             GRPOTrainer(environment_factory=ReplayEnvironment):
        reset(**row)                     one instance per rollout; reset() takes the row and
        country_info(self, *, country)   narrows the tools to those the row offers; each
                                         call is logged in the instance's session
    reward                               reward function: the rubric tree of the reward spec
    NAMES, PARAMETERS                    the Python names of tools and arguments (see below)

Every call is answered from ``<stem>.replay.parquet`` (``exporters.rl_env.ReplayTools``): the
recorded output as the SFT rows show it, or, for a call nobody recorded, the error text
``Error: no recorded observation for ...``; nothing goes to a live tool. The module imports
``exporters.rl_env`` (backchain must be installed where TRL runs) and finds its files next to
itself, so the export directory can move as a whole.

The ``tools`` column of such an export holds each tool as ``get_json_schema`` makes it of the
generated function (``exporters._tool_schemas.trl_schema``): that is what GRPOTrainer shows the
model, constraints the function's type hints cannot carry are in the descriptions, and an
argument name that is not a Python identifier appears under its Python name (``PARAMETERS``
maps it back to the recorded name before the lookup). Without ``--tools-module`` the column
holds the recorded schemas unchanged.

TRL renders the tools it is given for every prompt (``tools=``), not per row; the environment
class answers, for a tool its row does not offer, ``Error: tool ... is not offered for this
task``.
"""

from __future__ import annotations

import functools
from typing import Any

from schemas import Example, ExportError, Tool, VersionInfo

from ._base import DEFAULT_OPTIONS, ExportOptions, ExtraFile, FinishContext
from ._tool_schemas import PythonTool, _python_tool, docstring, python_tools, trl_schema
from ._trl_grpo import TrlGrpoFormat


class TrlGrpoToolsFormat(TrlGrpoFormat):
    """``trl-grpo --tools-module``: the rows with TRL's view of the tools, and ``<stem>.tools.py``."""

    usage = TrlGrpoFormat.usage + (
        " With tools: load {stem}.tools.py the same way (tools = module_from_spec(...)) and pass "
        "GRPOTrainer(..., tools=tools.TOOLS, reward_funcs=tools.reward) or "
        "environment_factory=tools.ReplayEnvironment; every call answers from {stem}.replay.parquet."
    )

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}
        """The tools the rows offered, by name (the first seen wins), for the module."""

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        row = super().row(example, score, split, index, version, options)
        for tool in example.tools:
            self.tools.setdefault(tool.name, tool)
        row["tools"] = [_trl_view(tool) for tool in example.tools]
        return row

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        files = super().extra_files(ctx)
        source = tools_module_source(list(self.tools.values()), ctx.version, ctx.stem,
                                     self.sidecar_paths(ctx.stem))
        files.append(ExtraFile(f"{ctx.stem}.tools.py", source.encode("utf-8"), "tools_module"))
        return files


def _trl_view(tool: Tool) -> dict[str, Any]:
    return _trl_view_cached(tool.model_dump_json())


@functools.lru_cache(maxsize=1024)
def _trl_view_cached(tool_json: str) -> dict[str, Any]:
    tool = Tool.model_validate_json(tool_json)
    return trl_schema(_python_tool(tool, "tool"))


def tools_module_source(tools: list[Tool], version: VersionInfo, stem: str, sidecars: tuple[str, str]) -> str:
    """The source of ``<stem>.tools.py`` for ``tools`` (see the module docstring)."""
    spec_rel, replay_rel = sidecars
    made = python_tools(tools)
    parts = [_header(version, stem, made), _prelude(spec_rel, replay_rel)]
    parts += [_function(t) for t in made]
    parts.append("TOOLS = [" + ", ".join(t.python for t in made) + "]\n"
                 '"""The tools for GRPOTrainer(tools=TOOLS), one function per recorded tool."""\n')
    parts.append(_environment(made))
    parts.append(_names(made))
    source = "\n\n".join(parts)
    try:
        compile(source, f"{stem}.tools.py", "exec")
    except SyntaxError as exc:  # pragma: no cover - every name and string is escaped above
        raise ExportError(f"the generated tools module does not compile: {exc}") from exc
    return source


def _header(version: VersionInfo, stem: str, made: list[PythonTool]) -> str:
    return (
        f'"""backchain replay tools for TRL GRPOTrainer: {version.dataset}@{version.version}, '
        f"{len(made)} tools.\n\n"
        "Generated by `backchain export --format trl-grpo --tools-module`. Load it by path:\n\n"
        "    from importlib.util import module_from_spec, spec_from_file_location\n"
        f"    spec = spec_from_file_location('backchain_tools', '{stem}.tools.py')\n"
        "    tools = module_from_spec(spec); spec.loader.exec_module(tools)\n"
        "    GRPOTrainer(model, reward_funcs=tools.reward, train_dataset=ds, tools=tools.TOOLS)\n"
        "    # or environment_factory=tools.ReplayEnvironment (state per rollout)\n\n"
        "Every call is answered from the recorded calls next to this file; a call nobody recorded\n"
        "answers an error text. Nothing goes to a live tool. Needs backchain installed.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "from pathlib import Path\n"
        "from typing import Any, Literal\n\n"
        "from exporters.rl_env.trl_env import OMITTED, ReplaySession, lazy_replay, rubric_reward\n"
    )


def _prelude(spec_rel: str, replay_rel: str) -> str:
    return (
        "_HERE = Path(__file__).resolve().parent\n"
        f"_REPLAY = lazy_replay(_HERE / {replay_rel!r})\n"
        "_SESSION = ReplaySession(_REPLAY)  # the module's functions: every tool, no per-row state\n\n"
        f"reward = rubric_reward(_HERE / {spec_rel!r})\n"
        '"""TRL reward function: the rubric tree of the export\'s reward spec (critical checks gate)."""\n'
        "\n__all__ = ['NAMES', 'PARAMETERS', 'TOOLS', 'ReplayEnvironment', 'reward']\n"
    )


def _signature(tool: PythonTool, receiver: bool) -> str:
    params = [f"{p.python}: {p.hint.source}" + ("" if p.required else " = OMITTED") for p in tool.params]
    head = ["self"] if receiver else []
    return ", ".join(head + (["*", *params] if params else []))


def _call(tool: PythonTool, session: str) -> str:
    arguments = "{" + ", ".join(f"{p.name!r}: {p.python}" for p in tool.params) + "}"
    return f"return {session}.call({tool.tool.name!r}, {arguments})"


def _function(tool: PythonTool) -> str:
    lines = [f"def {tool.python}({_signature(tool, False)}):",
             f"    {docstring(tool, '    ')}",
             f"    {_call(tool, '_SESSION')}"]
    if tool.python != tool.tool.name:
        lines += ["", "", f"{tool.python}.__name__ = {tool.tool.name!r}  # the recorded tool name"]
    return "\n".join(lines) + "\n"


def _environment(made: list[PythonTool]) -> str:
    lines = [
        "class ReplayEnvironment:",
        '    """GRPOTrainer(environment_factory=ReplayEnvironment): one instance per rollout.',
        "",
        "    reset(**row) takes the dataset row (its example_id and tools); each method is a tool,",
        "    answered from the recorded calls and logged in self.session.calls.",
        '    """',
        "",
        "    def __init__(self) -> None:",
        "        self.session = ReplaySession(_REPLAY)",
        "",
        "    def reset(self, **row: Any) -> None:",
        "        self.session.reset_from_row(row)",
    ]
    for tool in made:
        lines += ["", f"    def {tool.python}({_signature(tool, True)}):",
                  f"        {docstring(tool, '        ')}",
                  f"        {_call(tool, 'self.session')}"]
    renames = [t for t in made if t.python != t.tool.name]
    if renames:
        lines.append("")
        lines += [f"ReplayEnvironment.{t.python}.__name__ = {t.tool.name!r}" for t in renames]
    return "\n".join(lines) + "\n"


def _names(made: list[PythonTool]) -> str:
    names = {t.python: t.tool.name for t in made}
    params = {t.tool.name: {p.python: p.name for p in t.params} for t in made}
    return (
        f"NAMES: dict[str, str] = {names!r}\n"
        '"""Python attribute -> recorded tool name (the function\'s __name__ is the recorded name)."""\n\n'
        f"PARAMETERS: dict[str, dict[str, str]] = {params!r}\n"
        '"""Tool name -> {Python parameter: recorded argument name}."""\n'
    )
