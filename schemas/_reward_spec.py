"""The RL reward spec: a rubric tree plus the judge settings that score it.

Written next to an RL export as ``reward_spec.json`` and read back by
``validators.compute_score`` (verl) and ``validators.trl_reward`` (TRL), so the
reward runs exactly the tree that filtered the rows::

    {"spec_version": 1,
     "rubric": {<the rubric tree, as in data/rubrics/*.yaml>},
     "rubric_hash": "<hash of the tree; must match>",
     "judge": {"urls": ["http://gpu-1:8000/v1"], "model": "Qwen/Qwen3-1.7B",
               "min_coverage": 0.5, "votes": 3, ...} | null,
     "dataset": "default", "version": 3}

``judge`` null: judge leaves are skipped, as in a run without a judge. The
JSON Schema is schemas/json/reward-spec.json.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._records import Rubric


class JudgeSettings(BaseModel):
    """How judge leaves are asked: where, which model, and when an answer counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(
        min_length=1,
        description="OpenAI-compatible base URLs (…/v1) serving the same model; used round-robin.",
    )
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default=None, description="Env var holding the API key.")
    top_logprobs: int = Field(default=10, ge=1, le=20, description="First-token alternatives asked for.")
    min_coverage: float = Field(
        default=0.5, ge=0, le=1,
        description="Below this yes+no probability mass, the leaf is asked again as a constrained "
        "yes/no choice, sampled `votes` times, and the majority decides.",
    )
    votes: int = Field(default=3, ge=1, le=9, description="Constrained samples when coverage is low (odd).")
    vote_temperature: float = Field(default=0.7, gt=0, le=2, description="Temperature of those samples.")
    concurrency: int = Field(default=4, gt=0, le=256, description="Requests in flight per URL.")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per request.")

    @field_validator("urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"judge URL {url!r} must start with http:// or https://")
        return [u.rstrip("/") for u in urls]

    @field_validator("votes")
    @classmethod
    def _odd(cls, votes: int) -> int:
        if votes % 2 == 0:
            raise ValueError(f"votes must be odd so that a majority exists (got {votes})")
        return votes


class RewardSpec(BaseModel):
    """A rubric tree and its judge settings, as the RL reward."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec_version: Literal[1] = 1
    rubric: Rubric
    rubric_hash: str = Field(description="The tree's hash; a spec whose tree was edited is refused.")
    judge: JudgeSettings | None = Field(default=None, description="None: judge leaves are skipped.")
    dataset: str | None = Field(default=None, description="The dataset the rows came from.")
    version: int | None = Field(default=None, ge=0, description="The version the rows came from.")

    @model_validator(mode="after")
    def _hash_matches(self) -> RewardSpec:
        if self.rubric_hash != self.rubric.rubric_hash:
            raise ValueError(
                f"rubric_hash {self.rubric_hash[:12]}… does not match the tree ({self.rubric.rubric_hash[:12]}…): "
                "the tree was edited after the spec was written; write the spec again"
            )
        return self

    @classmethod
    def of(cls, rubric: Rubric, judge: JudgeSettings | None = None, *, dataset: str | None = None,
           version: int | None = None) -> RewardSpec:
        """A spec for ``rubric`` with its hash filled in."""
        return cls(rubric=rubric, rubric_hash=rubric.rubric_hash, judge=judge, dataset=dataset, version=version)
