"""RL environments from recorded calls (issue 19): verl, TRL and verifiers load what we export.

Real parts: the consumers' own code, installed in the test environment (verl 0.9.1 and
verifiers 0.3.1 with --no-deps: see the Makefile). verl's ``initialize_tools_from_config``
builds our tool from the exported tools.yaml and its ``RLHFDataset`` reads the rows; TRL's
``GRPOTrainer`` trains a step with the exported tools module on a tiny Llama made here (SmolLM2's
real tokenizer from the bundled GGUF, TRL's Qwen2.5 tool template); transformers'
``get_json_schema`` reads the generated functions; ``verifiers.load_environment`` imports the
exported package. The data is the pipeline's own version (conftest ``pipeline_db``: the
built-in MCP server, real observations), or hand-built examples stored with observations of
exactly their steps (``_recorded``), whose short prompts keep the GRPO step in seconds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from exporters import ExportOptions, export_rows, export_version
from exporters.rl_env import MISS_PREFIX, RolloutReward, completion_text
from schemas import ConfigError, Example, ExportFilters, TaskDifficulty, VersionInfo, tool_output_text
from store import Store

from ._examples import every_kind, multi_turn_ask, paris_chain
from ._recorded import WHEN, store_recorded

# TRL 1.16 uses transformers' deprecated gradient_checkpointing names (FutureWarning in transformers 5.25)
TRL_WARNINGS = pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")
MULTI_TURN = ExportOptions(multi_turn=True)
TOOLS_MODULE = ExportOptions(tools_module=True)


def _module(path: Path, name: str = "backchain_tools") -> Any:
    spec = spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _completion(example: Example, final: str) -> list[dict[str, Any]]:
    """A rollout that makes the recorded calls, reads the recorded outputs, answers ``final``."""
    steps, out = example.trace.steps, []
    for turn in example.trace.turns():
        out.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": steps[i].tool, "arguments": steps[i].arguments}} for i in turn]})
        out += [{"role": "tool", "name": steps[i].tool, "content": tool_output_text(steps[i])} for i in turn]
    return [*out, {"role": "assistant", "content": final}]


def _hermes(example: Example, final: str) -> str:
    """The same rollout as verl's solution_str decodes it (Hermes tool format)."""
    text = ""
    for message in _completion(example, final)[:-1]:
        if message["role"] == "tool":
            text += f"user\n<tool_response>\n{message['content']}\n</tool_response>\nassistant\n"
        else:
            text += "".join(f"<tool_call>\n{json.dumps(c['function'])}\n</tool_call>\n" for c in message["tool_calls"])
    return text + final


@pytest.fixture(scope="module")
def exported(pipeline_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline's version as verl --multi-turn, trl-grpo --tools-module and verifiers."""
    out = tmp_path_factory.mktemp("rl-exports")
    with Store(pipeline_db, read_only=True) as store:
        version = store.resolve("default", "latest")
        export_version(store, version, fmt="verl", out=out / "vt.parquet", options=MULTI_TURN)
        export_version(store, version, fmt="trl-grpo", out=out / "grpo.parquet", options=TOOLS_MODULE)
        export_version(store, version, fmt="verifiers", out=out / "geo-env")
    return out


def _examples(path: Path, column: str = "example") -> list[Example]:
    table = pq.read_table(path)
    if column == "extra_info":
        return [Example.model_validate_json(r["example"]) for r in table.column("extra_info").to_pylist()]
    return [Example.model_validate_json(t) for t in table.column(column).to_pylist()]


# --- verl --------------------------------------------------------------------------------------------

def test_verls_own_dataset_reads_the_tool_agent_rows(exported: Path, tokenizer: Any, tmp_path: Path) -> None:
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    config = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 100_000, "filter_overlong_prompts": False,
                               "return_raw_chat": True, "cache_dir": str(tmp_path / "verl-cache")})
    dataset = RLHFDataset(data_files=[str(exported / "vt.parquet")], tokenizer=tokenizer, config=config)
    examples = _examples(exported / "vt.parquet", "extra_info")
    assert len(dataset) == len(examples) >= 6
    for i, example in enumerate(examples):
        item = dataset[i]
        assert item["agent_name"] == "tool_agent" and item["raw_prompt"] == example.task.opening()
        offered = [t.name for t in example.tools]
        assert item["tools_kwargs"] == {name: {"create_kwargs": {"example_id": example.example_id}} for name in offered}
        assert item["extra_info"]["tool_selection"] == offered  # the loop's per-sample tool selection
        replies = [t.content for t in example.task.dialogue if t.role == "user"]
        if example.task.kind == "multi_turn":
            assert item["interaction_kwargs"]["replies"] == replies and item["interaction_kwargs"]["name"] == "backchain_user"
        else:
            assert item["interaction_kwargs"] is None
    assert any(e.task.kind == "multi_turn" for e in examples)


def test_verl_builds_our_tool_from_tools_yaml_it_replays_and_rewards(exported: Path) -> None:
    from verl.tools.tool_registry import initialize_tools_from_config

    from exporters.rl_env.verl_tool import BackchainReplayTool, compute_score

    tools = {t.name: t for t in initialize_tools_from_config(str(exported / "vt.tools.yaml"))}
    rows = load_dataset("parquet", data_files=str(exported / "vt.parquet"), split="train",
                        cache_dir=str(exported / "cache"))
    assert all(isinstance(t, BackchainReplayTool) for t in tools.values())
    assert set(tools) == {t.name for r in rows for t in Example.model_validate_json(r["extra_info"]["example"]).tools}

    async def rollout(row: dict[str, Any]) -> tuple[float, float, float]:
        example = Example.model_validate_json(row["extra_info"]["example"])
        kwargs = row["extra_info"]["tools_kwargs"]
        for step in example.trace.steps:  # as ToolAgentLoop._call_tool does it
            tool = tools[step.tool]
            instance, _ = await tool.create(create_kwargs=kwargs[step.tool]["create_kwargs"])
            response, step_reward, metrics = await tool.execute(instance, dict(step.arguments), agent_data=None)
            assert response.text == tool_output_text(step) and step_reward == 0.0
            assert metrics == {"replay_source": "recorded"}
            await tool.release(instance)
        # A no_call row offers tools it must not call: any of them answers a miss the same way.
        tool = tools[example.trace.steps[0].tool] if example.trace.steps else tools[next(iter(kwargs))]
        instance, _ = await tool.create(create_kwargs=kwargs[tool.name]["create_kwargs"])
        missed, _, metrics = await tool.execute(instance, {"no_such_argument": 1})
        assert missed.text.startswith(MISS_PREFIX + "no recorded observation for") and metrics["replay_source"] == "miss"
        right = await tool.calc_reward(instance, solution_str=_hermes(example, example.task.final_message))
        wrong = await tool.calc_reward(instance, messages=_completion(example, "I could not find that out."))
        echoed = await tool.calc_reward(instance, solution_str=_hermes(example, "No idea."))  # outputs are not answers
        return right, wrong, echoed

    async def every_row() -> list[tuple[float, float, float]]:
        return [await rollout(row) for row in rows]

    assert asyncio.run(every_row()) == [(1.0, 0.0, 0.0)] * len(rows)
    row = rows[0]
    example = Example.model_validate_json(row["extra_info"]["example"])
    spec = {**row["extra_info"], "reward_spec": str(exported / "vt.reward_spec.json")}
    truth = row["reward_model"]["ground_truth"]
    assert compute_score(row["data_source"], _hermes(example, example.task.final_message), truth, spec) == 1.0
    assert compute_score(row["data_source"], _hermes(example, "Sorry."), truth, spec) == 0.0


def test_interaction_kwargs_where_a_multi_turn_task_has_a_reply(version: VersionInfo, tmp_path: Path) -> None:
    out = tmp_path / "vt.jsonl"
    export_rows([(e, None, "train") for e in every_kind()], fmt="verl", out=out, version=version, options=MULTI_TURN)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_kind = {r["extra_info"]["example_id"]: r for r in rows}
    asked = by_kind[multi_turn_ask().example_id]
    assert asked["extra_info"]["interaction_kwargs"] == {
        "name": "backchain_user", "example_id": multi_turn_ask().example_id,
        "query": "Which time zone is the capital of my country in?", "replies": ["The country is France."]}
    assert [r for r in rows if r["extra_info"]["interaction_kwargs"]] == [asked]
    assert all(r["prompt"][0]["role"] == "user" for r in rows)  # the loop renders the tools itself
    config = (tmp_path / "vt.tools.yaml").read_text(encoding="utf-8")
    assert "exporters.rl_env.verl_tool.BackchainReplayTool" in config and str(tmp_path.resolve()) in config


# --- TRL ---------------------------------------------------------------------------------------------

def test_get_json_schema_reproduces_the_exported_tools_and_the_calls_replay(exported: Path) -> None:
    from transformers.utils import get_json_schema

    tools = _module(exported / "grpo.tools.py")
    functions = {f.__name__: f for f in tools.TOOLS}
    environment = tools.ReplayEnvironment()
    rows = load_dataset("parquet", data_files=str(exported / "grpo.parquet"), split="train",
                        cache_dir=str(exported / "cache"))
    checked = 0
    for row in rows:
        for entry in row["tools"]:
            name = entry["function"]["name"]
            method = getattr(environment, next(k for k, v in tools.NAMES.items() if v == name))
            assert get_json_schema(functions[name]) == entry == get_json_schema(method)
            checked += 1
        example = Example.model_validate_json(row["example"])
        environment.reset(**row)
        offered = {e["function"]["name"]: e["function"]["parameters"] for e in row["tools"]}
        made = 0
        for step in example.trace.steps:
            params = {v: k for k, v in tools.PARAMETERS[step.tool].items()}
            call = {params[k]: v for k, v in step.arguments.items()}
            if set(offered[step.tool].get("required") or []) - set(call):
                # an error_recovery slip that left a required field out: the signature refuses the call, as
                # the server's validation did (TRL hands the exception's text to the model)
                with pytest.raises(TypeError, match="missing 1 required"):
                    functions[step.tool](**call)
                continue
            assert functions[step.tool](**call) == tool_output_text(step) == getattr(environment, step.tool)(**call)
            made += 1
        assert [c.answer.source for c in environment.session.calls] == ["recorded"] * made
    assert checked >= 6
    assert tools.country_info(country="Atlantis").startswith(MISS_PREFIX + "no recorded observation")
    environment.reset(example_id="x", tools=[])
    assert environment.country_info(country="France") == MISS_PREFIX + "tool 'country_info' is not offered for this task"


def test_awkward_names_and_schemas_map_and_round_trip(tmp_path: Path) -> None:
    """Names that are not identifiers, keywords, reserved names; every JSON Schema shape."""
    from transformers.utils import get_json_schema

    from exporters._trl_tools import tools_module_source
    from exporters.rl_env import ReplayTools
    from exporters.rl_env.trl_env import ReplaySession
    from generators import ReplaySimulator
    from schemas import Observation, Tool

    from ._examples import make_version

    schema = {
        "type": "object",
        "$defs": {"Unit": {"type": "string", "enum": ["km", "mi"]}},
        "properties": {
            "from": {"type": "string", "description": "Where from.\nSecond line.   Spaces."},
            "max-results": {"type": "integer", "minimum": 1, "default": 5},
            "self": {"type": ["string", "null"], "description": "Returns: a thing (choices: [1, 2])"},
            "unit": {"$ref": "#/$defs/Unit"},
            "levels": {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3]}},
            "tags": {"type": "object", "additionalProperties": {"type": "number"}},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "date"}, {"type": "null"}]},
            "flag": {"type": "boolean"},
            "anything": {},
            "mixed": {"enum": [1, "a", None, True]},
        },
        "required": ["from", "unit"],
    }
    tools = [Tool(toolset="t", name=name, description=desc, input_schema=schema, side_effect="read",
                  side_effect_source="annotations")
             for name, desc in [("get-weather", "Weather.\n\n  Args: none here.\nRaises: nothing"),
                                ("class", ""), ("2fast", 'Ends in a quote "'), ("reset", "A \\ backslash"),
                                ("_private", "x")]]
    path = tmp_path / "t.tools.py"
    path.write_text(tools_module_source(tools, make_version(), "t", ("t.spec.json", "t.replay.parquet")))
    module = _module(path, "awkward_tools")
    assert module.NAMES == {"get_weather": "get-weather", "class_tool": "class", "t2fast": "2fast",
                            "reset_tool": "reset", "t_private": "_private"}
    assert module.PARAMETERS["class"] == {"from_": "from", "max_results": "max-results", "self_": "self",
                                          "unit": "unit", "levels": "levels", "tags": "tags", "either": "either",
                                          "flag": "flag", "anything": "anything", "mixed": "mixed"}
    from exporters._tool_schemas import _python_tool, trl_schema

    for tool, function in zip(tools, module.TOOLS, strict=True):
        assert function.__name__ == tool.name
        assert get_json_schema(function) == trl_schema(_python_tool(tool, "x"))
    environment = module.ReplayEnvironment()
    for tool in tools:
        method = getattr(environment, next(k for k, v in module.NAMES.items() if v == tool.name))
        assert method.__name__ == tool.name and get_json_schema(method) == trl_schema(_python_tool(tool, "x"))
    # verl takes the same schemas (a type on every property, as OpenAIFunctionToolSchema requires)
    from verl.tools.schemas import OpenAIFunctionToolSchema

    from exporters._tool_schemas import verl_schema

    for tool in tools:
        parsed = OpenAIFunctionToolSchema.model_validate(verl_schema(tool)).function.parameters.properties
        assert parsed["unit"].enum == ["km", "mi"] and parsed["either"].type == ["integer", "string", "null"]
        assert parsed["anything"].type == ["string", "number", "integer", "boolean", "object", "array", "null"]
        assert parsed["mixed"].type == ["integer", "string", "null", "boolean"]
    # the recorded names reach the replay table; an optional argument left out is not sent
    recorded = Observation(toolset="t", tool="get-weather", arguments={"from": "Oslo", "unit": "km"}, output={"t": 3},
                           started_at=WHEN)
    replay = ReplayTools(ReplaySimulator.from_observations([recorded]))
    module._SESSION = ReplaySession(replay)
    assert module.get_weather(from_="Oslo", unit="km") == '{"t":3}'
    assert module.get_weather(from_="Oslo", unit="mi").startswith(MISS_PREFIX)


def _tiny_llama(tokenizer: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


@TRL_WARNINGS
def test_grpo_trainer_trains_a_step_with_the_exported_tools_module(tokenizer: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    torch.set_num_threads(1)  # two busy cores: threads only contend
    examples = [paris_chain(), multi_turn_ask(), *[e for e in every_kind() if e.task.kind in ("single", "parallel")]]
    version, _ = store_recorded(tmp_path / "rl.duckdb", examples[:4])
    with Store(tmp_path / "rl.duckdb", read_only=True) as store:
        export_version(store, version, fmt="trl-grpo", out=tmp_path / "grpo.parquet", options=TOOLS_MODULE)
    tools = _module(tmp_path / "grpo.tools.py")
    dataset = load_dataset("parquet", data_files=str(tmp_path / "grpo.parquet"), split="train",
                           cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == 4
    args = GRPOConfig(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, num_generations=2,
                      max_completion_length=8, max_steps=1, use_cpu=True, report_to="none", save_strategy="no",
                      logging_steps=1, max_tool_calling_iterations=2, dataloader_num_workers=0)
    trainer = GRPOTrainer(model=_tiny_llama(tokenizer), reward_funcs=tools.reward, args=args, train_dataset=dataset,
                          processing_class=tokenizer, tools=tools.TOOLS)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert trainer.state.global_step == 1 and "rewards/backchain_rubric/mean" in logged
    # environment_factory: TRL probes an instance and takes its methods as the tools
    with_env = GRPOTrainer(model=trainer.model, reward_funcs=tools.reward, args=args, train_dataset=dataset,
                           processing_class=tokenizer, environment_factory=tools.ReplayEnvironment)
    assert sorted(t.__name__ for t in with_env.tools) == sorted(f.__name__ for f in tools.TOOLS)


def test_the_rubric_reward_of_a_recorded_trace_is_1_and_of_a_mutated_one_lower(exported: Path) -> None:
    """The same tree everywhere: RolloutReward, the TRL module's reward, validators.compute_score."""
    from validators import compute_score

    tools = _module(exported / "grpo.tools.py")
    rows = pq.read_table(exported / "grpo.parquet").to_pylist()
    reward = RolloutReward(exported / "grpo.reward_spec.json")
    right, wrong, partial = [], [], []
    for row in rows:
        example = Example.model_validate_json(row["example"])
        values = example.task.answer.values() if example.task.answer else []
        right.append(_completion(example, example.task.final_message))
        wrong.append(_completion(example, "I could not find that out."))
        # Part of the answer: the first of several values (a final message states a value in words
        # people use, "12:53 p.m.", so a single value cannot be cut out of it reliably).
        checks = [(right[-1], 1.0), (wrong[-1], 0.0)]
        if len(values) > 1:
            partial.append(_completion(example, f"It is {values[0]}."))
            checks.append((partial[-1], 0.0))
        for completion, expected in checks:
            assert reward.score(row["ground_truth"], completion, row["example"]) == expected
            info = {"example": row["example"], "reward_spec": str(exported / "grpo.reward_spec.json")}
            assert compute_score("backchain/default", completion_text(completion), row["ground_truth"], info) == expected
    columns = {k: [r[k] for r in rows] for k in ("ground_truth", "example", "kind", "example_id")}
    assert tools.reward([r["prompt"] for r in rows], right, None, **columns) == [1.0] * len(rows)
    assert tools.reward([r["prompt"] for r in rows], wrong, None, **columns) == [0.0] * len(rows)
    assert tools.reward(["p"], ["text"], None, other=["x"]) == [None]  # another dataset's row


# --- verifiers --------------------------------------------------------------------------------------

def _vf_completion(vf: Any, example: Example, final: str) -> list[Any]:
    out: list[Any] = []
    steps = example.trace.steps
    for turn in example.trace.turns():
        out.append(vf.AssistantMessage(content="", tool_calls=[
            vf.ToolCall(id=f"c{i}", name=steps[i].tool, arguments=json.dumps(steps[i].arguments)) for i in turn]))
        out += [vf.ToolMessage(tool_call_id=f"c{i}", content=tool_output_text(steps[i])) for i in turn]
    return [*out, vf.AssistantMessage(content=final)]


def test_verifiers_loads_the_package_with_its_rows_and_scores_a_recorded_trace_1(
        exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    import verifiers as vf
    from verifiers.legacy.utils.message_utils import normalize_messages

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.syspath_prepend(str(exported / "geo-env"))
    try:
        env = vf.load_environment("geo-env")
    finally:  # verifiers' Environment installs its own SIGINT/SIGTERM handlers: give pytest its own back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert isinstance(env, vf.StatefulToolEnv)
    dataset = env.get_dataset()
    examples = _examples(exported / "geo-env" / "geo_env" / "data.parquet")
    assert [json.loads(r["info"])["example_id"] for r in dataset] == [e.example_id for e in examples]
    assert [r["prompt"] for r in dataset] == [e.task.opening() for e in examples]

    async def score(row: dict[str, Any], example: Example) -> tuple[float, float]:
        state = vf.State(input=dict(row))
        state["prompt"], state["trajectory"] = normalize_messages(row["prompt"]), []
        if example.trace.steps:  # a tool call goes through the env's own env_response (a no_call row makes none)
            step = example.trace.steps[0]
            call = vf.AssistantMessage(content="", tool_calls=[
                vf.ToolCall(id="c1", name=step.tool, arguments=json.dumps(step.arguments))])
            (answer,) = await env.env_response([*state["prompt"], call], state)
            assert answer.content == tool_output_text(step) and state["backchain_calls"][0]["tool"] == step.tool
        state["completion"] = _vf_completion(vf, example, example.task.final_message)
        await env.rubric.score_rollout(state)
        assert state["metrics"]["answer_checker"] == 1.0
        mutated = vf.State(input=dict(row))
        mutated["prompt"], mutated["trajectory"] = state["prompt"], []
        mutated["completion"] = _vf_completion(vf, example, "I could not find that out.")
        await env.rubric.score_rollout(mutated)
        return state["reward"], mutated["reward"]

    async def every_row() -> list[tuple[float, float]]:
        return [await score(dict(r), e) for r, e in zip(dataset, examples, strict=True)]

    assert asyncio.run(every_row()) == [(1.0, 0.0)] * len(examples)


# --- ECHO observation rows ---------------------------------------------------------------------------

@TRL_WARNINGS
def test_observation_rows_target_each_tool_output(version: VersionInfo, tokenizer: Any, tmp_path: Path) -> None:
    from trl import SFTConfig, SFTTrainer

    examples = every_kind()
    out = tmp_path / "obs.parquet"
    result = export_rows([(e, None, "train") for e in examples], fmt="trl-sft", out=out, version=version,
                         options=ExportOptions(observations=True))
    assert result.row_count == sum(len(e.trace.steps) for e in examples)  # parallel: one per result; no_call: none
    rows = load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    targets = [r["completion"][0]["content"] for r in rows]
    assert targets == [tool_output_text(s) for e in examples for s in e.trace.steps]
    parallel = [r for r in rows if len(r["prompt"]) > 2 and r["prompt"][-1]["role"] == "tool"]
    assert parallel and parallel[0]["prompt"][-2]["tool_calls"]  # the second result sees the first
    trainer = SFTTrainer(model=_tiny_llama(tokenizer), train_dataset=rows.select(range(3)), processing_class=tokenizer,
                         args=SFTConfig(output_dir=str(tmp_path / "sft"), report_to="none", use_cpu=True, max_steps=1))
    assert len(trainer.train_dataset) == 3
    for item, target in zip(trainer.train_dataset, targets, strict=False):
        trained = tokenizer.decode([t for t in item["labels"] if t != -100])  # tokens with a loss
        assert target in trained and "tool_calls" not in trained  # the tool's reply, not the conversation


# --- every RL format: the pass-rate band, options ----------------------------------------------------

def test_the_pass_rate_band_works_with_every_rl_format(pipeline_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(pipeline_db, db)
    with Store(db) as store:
        version = store.resolve("default", "latest")
        ids = [e.example_id for e, _, _ in store.iter_examples(version.version_id)]
        store.save_difficulty([TaskDifficulty(example_id=i, solver_model="s", attempts=4, passes=p)
                               for i, p in zip(ids, [0, 4, 2, 1, 3, 4], strict=False)])
    band = ExportFilters(pass_rate_band=(0.1, 0.9))
    cases = [("verl", "a.parquet", None), ("verl", "b.parquet", MULTI_TURN), ("trl-grpo", "c.parquet", None),
             ("trl-grpo", "d.parquet", TOOLS_MODULE), ("verifiers", "e-env", None)]
    with Store(db, read_only=True) as store:
        for fmt, name, options in cases:
            result = export_version(store, version, fmt=fmt, out=tmp_path / name, filters=band, options=options)
            manifest = json.loads(result.manifest_path.read_text())
            assert result.row_count == 3, (fmt, name)
            assert manifest["selection"]["dropped"]["pass_rate_band"] == 3, (fmt, name)
            assert manifest["selection"]["zero_variance"] == 3, (fmt, name)  # 0/4, 4/4 and 4/4
            replay = next(f for f in manifest["files"] if f["role"] == "replay")
            assert 0 < replay["rows"] < 20


def test_the_runtime_names_are_exported_and_sorted() -> None:
    import exporters.rl_env

    assert exporters.rl_env.__all__ == sorted(exporters.rl_env.__all__)
    assert {"ReplayTools", "RolloutReward", "completion_text"} <= set(exporters.rl_env.__all__)


def test_each_option_belongs_to_its_format(version: VersionInfo, tmp_path: Path) -> None:
    rows = [(paris_chain(), None, "train")]
    for fmt, options, flag in [("trl-sft", MULTI_TURN, "--multi-turn is for --format verl"),
                               ("verl", TOOLS_MODULE, "--tools-module is for --format trl-grpo"),
                               ("trl-grpo", ExportOptions(observations=True), "--observations is for --format trl-sft")]:
        with pytest.raises(ConfigError, match=flag):
            export_rows(rows, fmt=fmt, out=tmp_path / "x.parquet", version=version, options=options)
    with pytest.raises(ConfigError, match="already"):
        export_rows(rows, fmt="trl-sft", out=tmp_path / "x.parquet", version=version,
                    options=ExportOptions(observations=True, train_on_tool_outputs=1.0))
    assert not list(tmp_path.iterdir())


def test_a_verifiers_export_replaces_its_own_directory_only(version: VersionInfo, tmp_path: Path) -> None:
    from exporters import export_rows as export
    from schemas import ExportError

    rows = [(e, None, "train") for e in every_kind()]
    export(rows, fmt="verifiers", out=tmp_path / "geo-env", version=version)
    export(rows, fmt="verifiers", out=tmp_path / "geo-env", version=version)  # its own: replaced
    assert (tmp_path / "geo-env" / "geo_env" / "__init__.py").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="holding other files"):
        export(rows, fmt="verifiers", out=tmp_path / "other", version=version)

