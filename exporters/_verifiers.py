"""``--format verifiers``: a verifiers environment package over the exported rows.

    backchain export geo@3 --format verifiers --out envs/geo_env
    pip install -e envs/geo_env          (or vf-install; or put envs/geo_env on sys.path)
    vf.load_environment("geo-env")       -> ReplayToolEnv (a vf.StatefulToolEnv)

Layout, as ``vf-init`` makes a multi-file environment (verifiers 0.3.1,
verifiers/legacy/scripts/init.py)::

    envs/geo_env/pyproject.toml       [project] name "geo-env", depends on backchain + verifiers;
                                      hatch packages the geo_env/ directory, data included
    envs/geo_env/README.md            what the package is, the rubric, the files
    envs/geo_env/geo_env/__init__.py  load_environment(**kwargs), a thin call into
                                      exporters.rl_env.verifiers_env.load_replay_environment
    envs/geo_env/geo_env/backchain.json   the version, the data file of each split, the sidecars
    envs/geo_env/geo_env/data.parquet     the rows (data-<split>.parquet with --split)
    envs/geo_env/geo_env/replay.parquet   the recorded calls (every tool call answers from it)
    envs/geo_env/geo_env/reward_spec.json the rubric tree and judge settings

``vf.load_environment(env_id)`` imports the module ``env_id`` with '-' as '_' (the package) and
calls its ``load_environment``; the package name is the output directory's name made an
identifier.

Row shape (``schemas.VerifiersRow``, schemas/json/export-verifiers.json): ``prompt`` (the
user's turns), ``answer`` (the expected answer as text, for reading), ``info`` (JSON text:
``example_id``, ``kind`` and ``tool_defs``, the row's tools as verifiers' ``vf.Tool`` dicts
with the recorded JSON Schemas unchanged; verifiers parses it and offers those tools),
``kind``, ``ground_truth`` and ``example`` (as in trl-grpo; verifiers passes every column that
is not one of its own to the reward functions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import Features, List, Value

from schemas import Example, ExportFilters, VersionInfo

from ._base import DEFAULT_OPTIONS, DataFile, ExportFormat, ExportOptions, compact_json, ground_truth
from ._export import write_rows
from ._staging import Staging

MANIFEST = "backchain.json"


def package_name(out_name: str) -> str:
    """The Python package of an output directory ``out_name`` (``geo-env`` -> ``geo_env``)."""
    name = re.sub(r"\W", "_", out_name).strip("_").lower() or "backchain_env"
    return f"env_{name}" if name[0].isdigit() else name


class VerifiersFormat(ExportFormat):
    """``verifiers``: an environment package (pyproject, load_environment, data, replay, spec)."""

    name = "verifiers"
    schema_name = "export-verifiers"
    rl = True
    file_types = ("",)
    directory_marker = "pyproject.toml"
    usage = (
        "pip install -e {file} (or put {file} on sys.path); import verifiers as vf; "
        "env = vf.load_environment('{env_id}'): a StatefulToolEnv whose tools answer from the recorded "
        "calls, whose rubric is the rubric tree of the reward spec. Needs backchain and verifiers 0.3.x "
        "(the verifiers.legacy API) installed."
    )
    features = Features(
        {
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "answer": Value("string"),
            "info": Value("string"),
            "kind": Value("string"),
            "ground_truth": Value("string"),
            "example": Value("string"),
        }
    )

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        answer = example.task.answer
        answer_text = "" if answer is None else (answer.value if isinstance(answer.value, str)
                                                 else compact_json(answer.value))
        tool_defs = [{"name": t.name, "description": t.description, "parameters": t.input_schema}
                     for t in example.tools]
        info = {"example_id": example.example_id, "kind": example.task.kind, "tool_defs": tool_defs}
        return {
            "prompt": example.task.opening(),
            "answer": answer_text,
            "info": compact_json(info),
            "kind": example.task.kind,
            "ground_truth": compact_json(ground_truth(example), sort_keys=True),
            "example": example.model_dump_json(),
        }

    def sidecar_paths(self, stem: str) -> tuple[str, str]:
        package = f"{stem}/{package_name(stem)}"
        return f"{package}/reward_spec.json", f"{package}/replay.parquet"

    def write_data(
        self,
        rows: Iterable[tuple[Example, float | None, str]],
        stage: Staging,
        out: Path,
        version: VersionInfo,
        options: ExportOptions,
        split_names: list[str] | None,
        provenance: dict[str, Any] | None = None,
        filters: ExportFilters | None = None,
    ) -> tuple[list[DataFile], list[Any], list[tuple[str, str, int | None, str | None]]]:
        package = package_name(out.name)
        prefix = f"{out.name}/{package}/"
        data, drift = write_rows(rows, self, stage, Path("data.parquet"), version, options, split_names, prefix)
        files = {(d.split or "train"): d.path.removeprefix(prefix) for d in data}
        spec_rel, replay_rel = self.sidecar_paths(out.name)
        written: list[tuple[str, str, int | None, str | None]] = []

        def put(rel: str, text: str, role: str) -> None:
            stage.path(rel).write_text(text, encoding="utf-8")
            written.append((rel, role, None, None))

        index = {
            "dataset": version.dataset, "version": version.version, "version_id": version.version_id,
            "content_hash": version.content_hash, "data_files": files,
            "replay": replay_rel.removeprefix(prefix), "reward_spec": spec_rel.removeprefix(prefix),
        }
        put(prefix + MANIFEST, json.dumps(index, indent=2, ensure_ascii=False) + "\n", "metadata")
        put(prefix + "__init__.py", _module(version, package), "environment")
        put(f"{out.name}/pyproject.toml", _pyproject(out.name, package, version), "environment")
        put(f"{out.name}/README.md", _readme(out.name, package, version, files), "card")
        return data, drift, written


def env_id(out_name: str) -> str:
    """The environment id ``vf.load_environment`` takes (the distribution name)."""
    return package_name(out_name).replace("_", "-")


def _module(version: VersionInfo, package: str) -> str:
    return (
        f'"""verifiers environment: backchain {version.dataset}@{version.version} '
        f"(version {version.version_id}).\n\n"
        "Generated by `backchain export --format verifiers`. Every tool call is answered from\n"
        "replay.parquet (a call nobody recorded gets an error text; nothing goes live); the rubric\n"
        "is the rubric tree of reward_spec.json. See exporters/rl_env/verifiers_env.py.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "from pathlib import Path\n"
        "from typing import Any\n\n"
        "from exporters.rl_env.verifiers_env import load_replay_environment\n\n"
        "__all__ = ['load_environment']\n\n\n"
        "def load_environment(**kwargs: Any) -> Any:\n"
        '    """The environment: split=, max_turns=, judge_url=/judge_model= (judge leaves), and\n'
        '    vf.StatefulToolEnv keyword arguments."""\n'
        "    return load_replay_environment(Path(__file__).resolve().parent, **kwargs)\n"
    )


def _pyproject(out_name: str, package: str, version: VersionInfo) -> str:
    description = f"backchain {version.dataset}@{version.version}: tool-use tasks replayed from recorded calls"
    return (
        "[project]\n"
        f"name = {json.dumps(env_id(out_name))}\n"
        f"description = {json.dumps(description)}\n"
        'tags = ["tool-use", "multi-turn", "train", "eval", "backchain"]\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        'dependencies = ["backchain", "verifiers>=0.3,<0.4"]\n\n'
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[tool.hatch.build.targets.wheel]\n"
        f"packages = [{json.dumps(package)}]\n"
    )


def _readme(out_name: str, package: str, version: VersionInfo, files: dict[str, str]) -> str:
    splits = ", ".join(f"{name} ({path})" for name, path in files.items())
    return (
        f"# {env_id(out_name)}\n\n"
        f"Tool-use tasks of backchain's {version.dataset}@{version.version} (content hash "
        f"{version.content_hash}), as a verifiers environment.\n\n"
        "- **Tools**: each row offers its recorded tools (`info.tool_defs`); every call is answered from\n"
        f"  `{package}/replay.parquet`, the calls recorded when the data was made. A call nobody recorded\n"
        "  gets an error text; nothing goes to a live API.\n"
        "- **Rubric**: `rubric_tree` (weight 1), the rubric tree that filtered the rows "
        f"(`{package}/reward_spec.json`):\n"
        "  critical checks gate, judge leaves weigh when a judge is configured; `answer_checker` and\n"
        "  `judge_<leaf>` are reported as metrics (weight 0).\n"
        f"- **Data**: {splits}.\n\n"
        "```python\nimport verifiers as vf\n"
        f"env = vf.load_environment({env_id(out_name)!r})  # after pip install -e {out_name}\n```\n"
    )
