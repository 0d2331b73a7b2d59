"""Every format, every kind: row shapes, the consumers' own loaders, schemas, templates.

Real parts: datasets writes nothing here but loads every file; TRL's data utilities read the
rows; SmolLM2's tokenizer (from the bundled GGUF) renders them with a tool-aware template;
pandas reads verl-sft the way verl's MultiTurnSFTDataset does; the trl-grpo reward module is
imported from the file the export wrote, with backchain's packages made unimportable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from datasets import Json, List, load_dataset, load_from_disk
from jsonschema import Draft202012Validator

from exporters import FORMATS, export_rows, reward_module_source
from exporters._verifiers import package_name
from schemas import ConfigError, Example, ExportFilters, VersionInfo
from schemas._jsonschema import SCHEMA_DIR
from validators import attempt_reward

from ._examples import (
    error_recovery,
    every_kind,
    miles_as_text,
    multi_turn_ask,
    no_call_sum,
    parallel_pair,
    paris_chain,
)

ALL = sorted(FORMATS)
SUFFIX = {"openai": ".jsonl", "bfcl": ".json", "hf": "", "verl-sft": ".parquet", "verifiers": ""}


def _rows(examples: list[Example], split: str = "train") -> list[tuple[Example, float | None, str]]:
    return [(ex, 0.25 * (i % 5), split) for i, ex in enumerate(examples)]


def _out(tmp_path: Path, fmt: str, suffix: str | None = None) -> Path:
    return tmp_path / fmt / ("data" + (SUFFIX.get(fmt, ".parquet") if suffix is None else suffix))


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8")))


def _to_list(value: Any) -> Any:
    """What verl's convert_nested_value_to_list_recursive does to a pandas cell."""
    if isinstance(value, dict):
        return {k: _to_list(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_to_list(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_to_list(v) for v in value]
    return value


def _load(fmt: str, path: Path, cache: Path) -> list[dict[str, Any]]:
    """Rows as the consumer's loader gives them."""
    if fmt == "hf":
        return [dict(r) for split in load_from_disk(str(path)).values() for r in split]
    if fmt == "verifiers":  # the package's data file (exporters.rl_env.verifiers_env reads it so)
        path = path / package_name(path.name) / "data.parquet"
    if fmt == "verl-sft":  # verl: pd.read_parquet + convert_nested_value_to_list_recursive
        frame = pd.read_parquet(path)
        return [{c: _to_list(frame[c].iloc[i]) for c in frame.columns} for i in range(len(frame))]
    kind = "parquet" if path.suffix == ".parquet" else "json"
    return [dict(r) for r in load_dataset(kind, data_files=str(path), split="train", cache_dir=str(cache))]


# --- every format: loads, validates, comes back as written -------------------------------------

@pytest.mark.parametrize("fmt", ALL)
def test_every_format_loads_in_its_consumer_and_every_row_validates(
    fmt: str, version: VersionInfo, tmp_path: Path
) -> None:
    examples = every_kind()
    out = _out(tmp_path, fmt)
    result = export_rows(_rows(examples), fmt=fmt, out=out, version=version)
    assert result.row_count == len(examples)
    loaded = _load(fmt, out, tmp_path / "cache")
    written = [FORMATS[fmt].row(ex, s, split, i, version) for i, (ex, s, split) in enumerate(_rows(examples))]
    assert loaded == written  # order, keys and values, nulls only where the format writes them
    validator = _validator(FORMATS[fmt].schema_name)
    for row in loaded:
        assert not list(validator.iter_errors(row))
    manifest = json.loads(result.manifest_path.read_text())
    _validator("export-manifest").validate(manifest)
    for entry in manifest["files"]:
        assert (out.parent / entry["path"]).is_file()


@pytest.mark.parametrize("fmt", ALL)
def test_exporting_twice_gives_the_same_bytes_in_every_file(fmt: str, version: VersionInfo, tmp_path: Path) -> None:
    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    outs = []
    for attempt in ("a", "b"):
        out = _out(tmp_path / attempt, fmt)
        export_rows(_rows(every_kind()), fmt=fmt, out=out, version=version,
                    filters=ExportFilters(split={"train": 0.5, "test": 0.5}) if fmt != "hf" else None)
        outs.append(snapshot(out.parent))
    assert outs[0] == outs[1]
    assert len(outs[0]) >= 2  # data and manifest at least


# --- trl-sft through TRL and a real tokenizer: parallel and multi-turn ------------------------

def test_trl_sft_parallel_and_multi_turn_render_through_a_real_tokenizer(
    tokenizer: Any, version: VersionInfo, tmp_path: Path
) -> None:
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    out = tmp_path / "sft.parquet"
    export_rows(_rows([parallel_pair(), multi_turn_ask(), error_recovery(), no_call_sum()]), fmt="trl-sft",
                out=out, version=version)
    parallel, multi_turn, recovery, no_call = load_dataset("parquet", data_files=str(out), split="train",
                                                           cache_dir=str(tmp_path / "c"))
    assert all(is_conversational(r) for r in (parallel, multi_turn, recovery, no_call))

    text = maybe_apply_chat_template(parallel, tokenizer, tools=parallel["tools"])["text"]
    first = text.index('{"name": "country_info", "arguments": {"country": "Japan"}}')
    second = text.index('{"name": "timezone_at", "arguments": {"latitude": 51.5, "longitude": -0.12}}')
    between = text[first:second]
    assert "<|im_start|>" not in between  # both calls in one assistant turn
    assert text.count("<|im_start|>assistant") == 2  # the calls, then the answer
    assert '<tool_response>\n{"name":"Japan","capital":"Tokyo"' in text
    assert '<tool_response>\n{"timezone":"Europe/London"}\n</tool_response>' in text
    assert text.index("Europe/London\"}") < text.rindex("The capital of Japan is Tokyo")

    text = maybe_apply_chat_template(multi_turn, tokenizer, tools=multi_turn["tools"])["text"]
    ask = text.index("<|im_start|>assistant\nWhich country do you mean?<|im_end|>")
    answer = text.index("<|im_start|>user\nThe country is France.<|im_end|>")
    call = text.index('{"name": "country_info", "arguments": {"country": "France"}}')
    assert ask < answer < call
    assert '<tool_response>\n{"timezone":"Europe/Paris"}\n</tool_response>' in text

    text = maybe_apply_chat_template(recovery, tokenizer, tools=recovery["tools"])["text"]
    assert "Cannot convert 'mile' to 'degC'" in text and '"to_unit": "kilometer"' in text
    text = maybe_apply_chat_template(no_call, tokenizer, tools=no_call["tools"])["text"]
    assert "<tool_call>\n{\"name\": \"" not in text and "48.85 + 2.35 = 51.2." in text
    assert tokenizer(text)["input_ids"]


# --- openai --------------------------------------------------------------------------------------

def test_openai_rows(version: VersionInfo) -> None:
    fmt = FORMATS["openai"]
    row = fmt.row(parallel_pair(), 1.0, "train", 0, version)
    assistant, tool_a, tool_b = row["messages"][1:4]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_0", "call_1"]
    assert assistant["tool_calls"][0]["function"] == {"name": "country_info", "arguments": '{"country":"Japan"}'}
    assert json.loads(assistant["tool_calls"][1]["function"]["arguments"]) == {"latitude": 51.5, "longitude": -0.12}
    assert (tool_a["tool_call_id"], tool_b["tool_call_id"]) == ("call_0", "call_1")
    assert "name" not in tool_a and "weight" not in tool_a and "weight" not in assistant
    assert row["parallel_tool_calls"] is True
    assert row["tools"][0] == {"type": "function", "function": parallel_pair().tools[0].openai_schema()}
    assert fmt.row(paris_chain(), 1.0, "train", 0, version)["parallel_tool_calls"] is False

    messages = fmt.row(error_recovery(), 1.0, "train", 0, version)["messages"]
    roles = [(m["role"], m.get("weight")) for m in messages]
    assert roles == [("user", None), ("assistant", 0), ("tool", None), ("assistant", None), ("tool", None),
                     ("assistant", None)]  # the failed attempt is context, not a target
    assert "different dimensions" in messages[2]["content"]


def test_openai_tool_outputs_as_targets_only_when_asked(version: VersionInfo, tmp_path: Path) -> None:
    from exporters import ExportOptions

    out = tmp_path / "ft.jsonl"
    result = export_rows(_rows([paris_chain(), parallel_pair()]), fmt="openai", out=out, version=version,
                         options=ExportOptions(train_on_tool_outputs=0.5))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    tools = [m for line in lines for m in line["messages"] if m["role"] == "tool"]
    assert len(tools) == 4 and all(m["weight"] == 0.5 for m in tools)
    assert not any("weight" in m for line in lines for m in line["messages"] if m["role"] != "tool")
    assert json.loads(result.manifest_path.read_text())["train_on_tool_outputs"] == 0.5
    for line in lines:
        _validator("export-openai").validate(line)

    for fmt, suffix in (("trl-sft", ".parquet"), ("sharegpt", ".jsonl")):
        with pytest.raises(ConfigError, match="needs per-message weights.*formats that have them: openai"):
            export_rows([], fmt=fmt, out=tmp_path / f"x{suffix}", version=version,
                        options=ExportOptions(train_on_tool_outputs=1.0))
    with pytest.raises(ConfigError, match="above 0"):
        export_rows([], fmt="openai", out=tmp_path / "x.jsonl", version=version,
                    options=ExportOptions(train_on_tool_outputs=0.0))
    with pytest.raises(ConfigError, match=r"openai writes \*\.jsonl"):
        export_rows([], fmt="openai", out=tmp_path / "x.parquet", version=version)


# --- sharegpt ------------------------------------------------------------------------------------

def test_sharegpt_positions_parallel_calls_and_dataset_info(version: VersionInfo, tmp_path: Path) -> None:
    fmt = FORMATS["sharegpt"]
    for example in every_kind():
        turns = fmt.row(example, None, "train", 0, version)["conversations"]
        for i, turn in enumerate(turns):  # human/observation odd (1st, 3rd...), gpt/function_call even
            assert turn["from"] in (("human", "observation") if i % 2 == 0 else ("gpt", "function_call"))
        assert turns[-1]["from"] == "gpt"

    row = fmt.row(parallel_pair(), None, "train", 0, version)
    assert [t["from"] for t in row["conversations"]] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(row["conversations"][1]["value"]) == [
        {"name": "country_info", "arguments": {"country": "Japan"}},
        {"name": "timezone_at", "arguments": {"latitude": 51.5, "longitude": -0.12}},
    ]
    assert json.loads(row["conversations"][2]["value"])[1] == {"timezone": "Europe/London"}
    single = fmt.row(miles_as_text(), None, "train", 0, version)["conversations"]
    assert json.loads(single[1]["value"]) == {"name": "convert_units", "arguments":
                                              {"value": 10, "from_unit": "mile", "to_unit": "kilometer"}}
    assert single[2]["value"] == "16.09344 kilometer"
    assert json.loads(row["tools"])[0] == parallel_pair().tools[0].openai_schema()
    turns = fmt.row(multi_turn_ask(), None, "train", 0, version)["conversations"]
    assert [t["from"] for t in turns[:4]] == ["human", "gpt", "human", "function_call"]

    (tmp_path / "dataset_info.json").write_text('{"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}')
    export_rows(_rows(every_kind()), fmt="sharegpt", out=tmp_path / "tools.jsonl", version=version,
                filters=ExportFilters(split={"train": 0.5, "test": 0.5}))
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert list(info) == ["alpaca_en_demo", "backchain_geo_v3_train", "backchain_geo_v3_test"]  # others kept
    assert info["backchain_geo_v3_test"] == {
        "file_name": "tools-test.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "tools": "tools"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call"},
    }
    from trl.data_utils import is_conversational_from_value, maybe_convert_to_chatml

    for line in (tmp_path / "tools-train.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert is_conversational_from_value(row)
        assert maybe_convert_to_chatml(dict(row))["messages"][0]["role"] == "human"


# --- verl-sft ------------------------------------------------------------------------------------

def test_verl_sft_reads_like_verl_reads_it(version: VersionInfo, tmp_path: Path) -> None:
    out = tmp_path / "sft.parquet"
    export_rows(_rows([parallel_pair(), paris_chain()]), fmt="verl-sft", out=out, version=version)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["messages", "tools"]
    messages = _to_list(frame["messages"].iloc[0])
    assert messages[0] == {"role": "user", "content": parallel_pair().task.user_request, "tool_calls": None,
                           "name": None}
    calls = messages[1]["tool_calls"]
    assert messages[1]["content"] is None and len(calls) == 2
    assert json.loads(calls[1]["function"]["arguments"]) == {"latitude": 51.5, "longitude": -0.12}
    assert messages[2] == {"role": "tool", "content": json.dumps(parallel_pair().trace.steps[0].output,
                                                                  separators=(",", ":")),
                           "tool_calls": None, "name": "country_info"}
    tools = _to_list(frame["tools"].iloc[0])
    assert json.loads(tools[1]["function"]["parameters"]) == parallel_pair().tools[1].input_schema


def test_verl_sft_renders_with_a_template_that_takes_string_arguments(tokenizer: Any, version: VersionInfo,
                                                                      tmp_path: Path) -> None:
    """Qwen3's template prints string arguments as they are: what verl renders, message by message."""
    import importlib.resources

    template = (importlib.resources.files("trl") / "chat_templates" / "qwen3.jinja").read_text(encoding="utf-8")
    out = tmp_path / "sft.parquet"
    export_rows(_rows([parallel_pair()]), fmt="verl-sft", out=out, version=version)
    frame = pd.read_parquet(out)
    messages = _to_list(frame["messages"].iloc[0])
    tools = _to_list(frame["tools"].iloc[0])
    text = tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False)
    assert '{"name": "country_info", "arguments": {"country":"Japan"}}' in text
    assert '"arguments": {"latitude":51.5,"longitude":-0.12}' in text
    assert '{"timezone":"Europe/London"}' in text and "The capital of Japan is Tokyo" in text


# --- trl-grpo -------------------------------------------------------------------------------------

def _reward_module(path: Path) -> Any:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("backchain_reward", path)
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trl_grpo_rows_and_the_written_reward_module(version: VersionInfo, tmp_path: Path, tokenizer: Any) -> None:
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    examples = every_kind()
    out = tmp_path / "grpo.parquet"
    result = export_rows(_rows(examples), fmt="trl-grpo", out=out, version=version)
    assert [f.path for f in result.files if f.role == "reward_module"] == ["grpo.reward.py"]
    dataset = load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert dataset.features["tools"] == List(Json())
    reward = _reward_module(tmp_path / "grpo.reward.py")

    for row, example in zip(dataset, examples, strict=True):
        assert is_conversational(row)
        prompt = maybe_apply_chat_template({"prompt": row["prompt"]}, tokenizer, tools=row["tools"])["prompt"]
        assert prompt.endswith("<|im_start|>assistant\n") and example.task.user_request in prompt
        columns = {k: [row[k]] for k in row if k != "prompt"}  # as GRPOTrainer passes them
        answer = example.task.answer
        stated = " and ".join(str(v) for v in answer.values()) if answer else example.task.final_message
        right = [{"role": "assistant", "content": f"So: {stated}."}]
        wrong = [{"role": "assistant", "content": "I could not find that out."}]
        assert reward.reward([row["prompt"]], [right], None, **columns) == [1.0], example.task.kind
        expected_wrong = [1.0] if example.task.kind == "no_call" else [0.0]
        assert reward.reward([row["prompt"]], [wrong], None, **columns) == expected_wrong
        if example.task.kind == "no_call":  # calling a tool is the wrong answer there
            calling = [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "x"}}]},
                       {"role": "tool", "content": "{}"}, {"role": "assistant", "content": "51.2"}]
            assert reward.reward([row["prompt"]], [calling], None, **columns) == [0.0]
    # a row from another dataset: the reward does not apply
    assert reward.reward(["p"], ["text"], None, other=["x"]) == [None]


def test_the_reward_module_is_the_answer_checker(version: VersionInfo) -> None:
    """The module's verdict equals validators.attempt_reward on the same final answers."""
    from generators._solver import Attempt

    source = reward_module_source(version)
    namespace: dict[str, Any] = {}
    exec(compile(source, "reward.py", "exec"), namespace)
    answers = ["The capital of Japan is Tokyo, and 51.5, -0.12 is in Europe/London.",
               "Tokyo and europe/london", "Tokyo only", "It is 16.093440000001 km", "16.1 km", "16.09344",
               "Europe/Paris", "EUROPE/PARIS!", "Paris", "Neujahr", "neujahr.", "51.2", ""]
    fmt = FORMATS["trl-grpo"]
    checked = 0
    for example in every_kind():
        row = fmt.row(example, None, "train", 0, version)
        for text in answers:
            mine = namespace["score"]([{"role": "assistant", "content": text}], row["ground_truth"], row["kind"])
            assert mine == attempt_reward(example, Attempt(calls=[], final=text)), (example.task.kind, text)
            checked += 1
    assert checked == len(answers) * len(every_kind())


def test_the_reward_module_needs_no_backchain(version: VersionInfo, tmp_path: Path) -> None:
    path = tmp_path / "reward.py"
    path.write_text(reward_module_source(version), encoding="utf-8")
    row = FORMATS["trl-grpo"].row(error_recovery(), None, "train", 0, version)
    script = (
        "import sys\n"
        "for name in ('schemas', 'validators', 'generators', 'store', 'exporters', 'flows'):\n"
        "    sys.modules[name] = None  # importing any of them now fails\n"
        "from importlib.util import module_from_spec, spec_from_file_location\n"
        f"spec = spec_from_file_location('r', {str(path)!r}); m = module_from_spec(spec)\n"
        "spec.loader.exec_module(m)\n"
        f"print(m.reward(['p'], ['10 miles are 16.09344 km', 'about 16 km'], None,\n"
        f"               ground_truth=[{row['ground_truth']!r}] * 2, kind=['error_recovery'] * 2))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 0.0]"


# --- hf ---------------------------------------------------------------------------------------------

def test_hf_dataset_dict_and_card(version: VersionInfo, tmp_path: Path) -> None:
    out = tmp_path / "geo-v3"
    rows = [(ex, score, "test" if i % 3 == 0 else "train") for i, (ex, score, _) in enumerate(_rows(every_kind()))]
    result = export_rows(rows, fmt="hf", out=out, version=version,
                         provenance={"models": {"judge": "qwen3-1.7b", "writer": "template only"},
                                     "rubric_hash": "519f394c", "operation": "run"})
    dataset = load_from_disk(str(out))
    assert list(dataset) == ["train", "test"]
    assert (dataset["train"].num_rows, dataset["test"].num_rows) == (4, 3)
    assert dataset["train"].features["messages"] == List(Json())
    first = dataset["test"][0]
    assert first["example_id"] == paris_chain().example_id and first["answer"]["value"] == "Europe/Paris"
    assert first["trace_id"] == paris_chain().trace.trace_id
    assert dict(result.splits) == {"train": 4, "test": 3} and result.row_count == 7
    assert result.sha256 is None  # several files: see files
    roles = {f.path: f.role for f in result.files}
    assert roles["geo-v3/README.md"] == "card" and roles["geo-v3/train/data-00000-of-00001.arrow"] == "data"

    card = (out / "README.md").read_text()
    assert card.startswith("---\npretty_name: backchain geo v3\n")
    for fact in ("| version | 3 |", f"| version id | `{version.version_id}` |",
                 f"| content hash | `{version.content_hash}` |", "| train | 4 |", "| test | 3 |",
                 "| parallel | 1 |", "| no_call | 1 |", "| error_recovery | 1 |",
                 "| timezone_at | 4 | 3 |", "| convert_units | 2 | 3 |", "| list_public_holidays | 4 | 1 |",
                 "| [0.0, 0.1) | 2 |", "| [0.2, 0.3) | 2 |", "| [0.9, 1.0] | 1 |",
                 "7 scored rows: min 0.000, mean 0.393, max 1.000", "| run | run-1 |",
                 "| models | judge: qwen3-1.7b, writer: template only |", "| rubric hash | 519f394c |"):
        assert fact in card, fact


def test_hf_refuses_to_overwrite_a_directory_of_other_files(version: VersionInfo, tmp_path: Path) -> None:
    from schemas import ExportError

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="holding other files"):
        export_rows(_rows(every_kind()), fmt="hf", out=tmp_path / "mine", version=version)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    export_rows(_rows(every_kind()[:2]), fmt="hf", out=tmp_path / "ds", version=version)
    export_rows(_rows(every_kind()[:3]), fmt="hf", out=tmp_path / "ds", version=version)  # replaces its own
    assert load_from_disk(str(tmp_path / "ds"))["train"].num_rows == 3
