"""``<stem>.reward_spec.json``: the rubric tree that filtered a version, and its judge settings.

Written beside every RL export (verl, trl-grpo), in the shape of ``schemas.RewardSpec``
(schemas/json/reward-spec.json), which ``validators.load_reward_spec`` reads back::

    {"spec_version": 1, "rubric": {<the tree of data/rubrics/NAME.yaml>}, "rubric_hash": "...",
     "judge": {"urls": [...], "model": "...", ...} | null, "dataset": "geo", "version": 3}

Which tree: ``--rubric NAME|PATH`` when given, else the rubric named in the config of the run
that made the version (``runs.config``), else ``default``; loaded with
``validators.load_rubric``. The version records the hash of the tree its rows were judged with
(``versions.rubric_hash``): a tree that hashes differently (the YAML was edited since) is
refused, because an RL reward must score rollouts with the tree that selected the rows; an
explicit ``--rubric`` overrides the check (the manifest's files still pin what was written).

Judge settings come from that run's config: its judge endpoint (``url`` plus any
``replicas``), model and API key variable, and ``min_coverage`` / ``judge_concurrency`` when
the config records them; a run without a judge gives ``null`` (judge leaves are skipped).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from schemas import ConfigError, ExportError, JudgeSettings, RewardSpec, Rubric, VersionInfo

if TYPE_CHECKING:
    from store import Store


def build_reward_spec(store: Store, version: VersionInfo, rubric: str | None = None) -> RewardSpec:
    """The reward spec for ``version`` (see the module docstring for where each part comes from)."""
    from validators import load_rubric

    described = store.describe(version.dataset, version.version)
    config = _run_config(store, described.get("run_id"))
    name = rubric or config.get("rubric") or "default"
    tree: Rubric = load_rubric(name)
    recorded = described.get("rubric_hash")
    if rubric is None and recorded and recorded != tree.rubric_hash:
        raise ExportError(
            f"{version.dataset}@{version.version} was judged with rubric hash {recorded}, but rubric "
            f"{name!r} now hashes {tree.rubric_hash}: it was edited since. Restore that tree, or pass "
            "--rubric NAME|PATH to export a reward spec with another tree on purpose"
        )
    return RewardSpec.of(tree, _judge(config), dataset=version.dataset, version=version.version)


def reward_spec_json(spec: RewardSpec) -> bytes:
    return (json.dumps(spec.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _run_config(store: Store, run_id: str | None) -> dict[str, Any]:
    if not run_id:
        return {}
    _columns, rows = store.query("SELECT config FROM runs WHERE run_id = ?", [run_id])
    if not rows or not rows[0][0]:
        return {}
    config = rows[0][0]
    return dict(json.loads(config) if isinstance(config, str) else config)


def _judge(config: dict[str, Any]) -> JudgeSettings | None:
    judge = config.get("judge")
    if not isinstance(judge, dict) or not judge.get("url") or not judge.get("model"):
        return None
    urls = [judge["url"], *(u for u in judge.get("replicas") or [] if u != judge["url"])]
    settings: dict[str, Any] = {"urls": urls, "model": judge["model"], "api_key_env": judge.get("api_key_env")}
    if config.get("min_coverage") is not None:
        settings["min_coverage"] = config["min_coverage"]
    if config.get("judge_concurrency") is not None:
        settings["concurrency"] = config["judge_concurrency"]
    try:
        return JudgeSettings.model_validate(settings)
    except ValueError as exc:
        raise ConfigError(f"the run's judge settings do not make a reward spec: {exc}") from exc
