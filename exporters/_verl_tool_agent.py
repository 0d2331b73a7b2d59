"""verl rows for the multi-turn tool agent loop (``--format verl --multi-turn``), and its tools.yaml.

Row shape (``schemas.VerlToolAgentRow``, schemas/json/export-verl-tool-agent.json): a verl row
plus what verl 0.9.1's ``RLHFDataset.__getitem__`` (verl/utils/dataset/rl_dataset.py) and
``ToolAgentLoop.run`` (verl/experimental/agent_loop/tool_agent_loop.py) read::

    {"data_source": "backchain/<dataset>", "agent_name": "tool_agent",
     "prompt": [{"role": "user", "content": <request>}, ...dialogue of a multi_turn task...],
     "ability": "tool_use",
     "reward_model": {"style": "rule", "ground_truth": <JSON text, as the verl export>},
     "extra_info": {"split", "index", "example_id", "dataset", "version", "example",
                    "need_tools_kwargs": true,
                    "tools_kwargs": {<tool>: {"create_kwargs": {"example_id": ...}}, ...},
                    "tool_selection": [<the tools the row offers>],
                    "interaction_kwargs": {"name": "backchain_user", "example_id", "query",
                                           "replies": [...]} | null}}

``prompt`` has no system message listing the tools (the single-turn verl export has one): the
loop renders the tools through the chat template (``tools=`` the schemas of tools.yaml,
narrowed per row by ``tool_selection``). ``tools_kwargs`` is a ``Json`` field (its keys differ
per row, and an Arrow struct would give every row every tool's key, null where not offered);
``datasets`` loads it back as the dict written, which verl passes to
``tool.create(create_kwargs=...)``. ``interaction_kwargs`` carries a multi_turn task's recorded
user replies for an interaction that plays the user (verl before 0.9 had ``verl/interactions``;
0.9.1 removed them, so the dialogue also stays in ``prompt`` and reaches the model either way).

Beside the data, ``<stem>.tools.yaml`` in verl's tool-config format
(``verl.tools.tool_registry.initialize_tools_from_config``): one entry per tool the rows offer,
``class_name: exporters.rl_env.verl_tool.BackchainReplayTool``, ``config`` (``type: native``,
the tool and toolset, absolute paths of the replay table, the reward spec and the data files),
``tool_schema`` (``verl_schema``: the recorded schema with a ``type`` on every property, as
verl's ``OpenAIFunctionToolSchema`` requires). The paths are absolute because verl builds the
tools in its own workers, whose working directory is not the export's: move the export, and
export again (or edit the paths).
"""

from __future__ import annotations

from typing import Any

import yaml
from datasets import Features, Json, List, Value

from schemas import Example, VersionInfo

from ._base import DEFAULT_OPTIONS, ExportOptions, ExtraFile, FinishContext, compact_json, ground_truth
from ._tool_schemas import verl_schema
from ._verl import VerlFormat

TOOL_CLASS = "exporters.rl_env.verl_tool.BackchainReplayTool"
INTERACTION_NAME = "backchain_user"


class VerlToolAgentFormat(VerlFormat):
    """``verl --multi-turn``: rows for verl's tool agent loop, tools.yaml, the replay-backed tool."""

    schema_name = "export-verl-tool-agent"
    usage = (
        "verl: data.train_files={file} actor_rollout_ref.rollout.multi_turn.enable=True "
        "actor_rollout_ref.rollout.multi_turn.tool_config_path={stem}.tools.yaml "
        "(agent_name tool_agent; each tool answers from {stem}.replay.parquet, never live); "
        "reward.custom_reward_function.path=<backchain>/exporters/rl_env/verl_tool.py "
        "reward.custom_reward_function.name=compute_score (verl 0.9; the rubric tree of "
        "{stem}.reward_spec.json, via $BACKCHAIN_REWARD_SPEC, on the rollout's final answer). Needs "
        "backchain installed in verl's environment."
    )
    features = Features(
        {
            "data_source": Value("string"),
            "agent_name": Value("string"),
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "ability": Value("string"),
            "reward_model": {"style": Value("string"), "ground_truth": Value("string")},
            "extra_info": {
                "split": Value("string"),
                "index": Value("int64"),
                "example_id": Value("string"),
                "dataset": Value("string"),
                "version": Value("int64"),
                "example": Value("string"),
                "need_tools_kwargs": Value("bool"),
                "tools_kwargs": Json(),
                "tool_selection": List(Value("string")),
                "interaction_kwargs": {
                    "name": Value("string"),
                    "example_id": Value("string"),
                    "query": Value("string"),
                    "replies": List(Value("string")),
                },
            },
        }
    )

    def __init__(self) -> None:
        self.tools: dict[str, Any] = {}
        """The tools the rows offered, by name (the first toolset seen wins), for tools.yaml."""

    def row(
        self, example: Example, score: float | None, split: str, index: int, version: VersionInfo,
        options: ExportOptions = DEFAULT_OPTIONS,
    ) -> dict[str, Any]:
        offered = list(dict.fromkeys(tool.name for tool in example.tools))
        for tool in example.tools:
            self.tools.setdefault(tool.name, tool)
        replies = [turn.content for turn in example.task.dialogue if turn.role == "user"]
        interaction = None
        if example.task.kind == "multi_turn" and replies:
            interaction = {"name": INTERACTION_NAME, "example_id": example.example_id,
                           "query": example.task.user_request, "replies": replies}
        return {
            "data_source": f"backchain/{version.dataset}",
            "agent_name": "tool_agent",
            "prompt": example.task.opening(),
            "ability": "tool_use",
            "reward_model": {"style": "rule", "ground_truth": compact_json(ground_truth(example), sort_keys=True)},
            "extra_info": {
                "split": split,
                "index": index,
                "example_id": example.example_id,
                "dataset": version.dataset,
                "version": version.version,
                "example": example.model_dump_json(),
                "need_tools_kwargs": True,
                "tools_kwargs": {name: {"create_kwargs": {"example_id": example.example_id}} for name in offered},
                "tool_selection": offered,
                "interaction_kwargs": interaction,
            },
        }

    def extra_files(self, ctx: FinishContext) -> list[ExtraFile]:
        return [ExtraFile(f"{ctx.stem}.tools.yaml", tools_yaml(self, ctx).encode("utf-8"), "tool_config")]


def tools_yaml(fmt: VerlToolAgentFormat, ctx: FinishContext) -> str:
    """verl's tool config for the tools the rows offered (see the module docstring)."""
    base = ctx.target_dir
    spec_rel, replay_rel = fmt.sidecar_paths(ctx.stem)
    entries = []
    for name in sorted(fmt.tools):
        tool = fmt.tools[name]
        entries.append({
            "class_name": TOOL_CLASS,
            "config": {
                "type": "native",
                "tool": tool.name,
                "toolset": tool.toolset,
                "replay": str(base / replay_rel),
                "reward_spec": str(base / spec_rel),
                "data_files": [str(base / d.path) for d in ctx.data_files],
            },
            "tool_schema": verl_schema(tool),
        })
    header = (
        f"# backchain: verl tool config for {ctx.version.dataset}@{ctx.version.version} "
        "(actor_rollout_ref.rollout.multi_turn.tool_config_path).\n"
        "# Every call is answered from the replay table (a call nobody recorded gets an error text,\n"
        "# never a live call); the reward is the rubric tree of the reward spec. Paths are absolute.\n"
    )
    return header + yaml.safe_dump({"tools": entries}, sort_keys=False, allow_unicode=True, width=100)
