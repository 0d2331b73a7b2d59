"""The judge against real llama.cpp servers: low coverage and the majority of 3, a server
stopped mid-run, round-robin over two servers, and reruns answered from the reply cache.

Every test here talks to the bundled SmolLM2-135M through llama.cpp's server (about 1-5 s
per request on these machines), so each asks as few questions as its point needs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flows import _stages
from flows._config import JudgeEndpointConfig, build_config, judge_endpoint_from
from generators import ChatClient, Endpoint, LocalModelServer
from schemas import ConfigError, Example, Judgement, Rubric
from store import Store
from validators import Judge, JudgeScore, evaluate, load_rubric

from ._examples import context, example
from .conftest import DictCache

QUESTION = "Is the user's request written the way a real person would ask for this?"


def distinct_examples(n: int) -> list[Example]:
    requests = ["What time zone is the capital of France in?", "Which time zone does France's capital use?",
                "In what time zone is the French capital?", "Tell me the time zone of the capital of France."]
    return [example(request=r) for r in requests[:n]]


def rubric_of(tmp_path: Path, *questions: str, strategy: str = "parallel") -> Rubric:
    leaves = "\n".join(f"    - {{id: q{i}, question: \"{q}\", threshold: 0}}" for i, q in enumerate(questions))
    path = tmp_path / "judge-only.yaml"
    path.write_text(f"id: judge-only\nroot:\n  id: root\n  strategy: {strategy}\n  children:\n{leaves}\n")
    return load_rubric(path)


# low coverage: the constrained majority of 3, for real


def test_low_coverage_is_asked_again_constrained_and_the_majority_of_three_decides(
        llama_endpoint: Endpoint) -> None:
    ex = example()
    cache = DictCache()

    async def go() -> tuple[JudgeScore, int, JudgeScore, int]:
        async with ChatClient(llama_endpoint, cache=cache) as client:
            # Coverage can never reach 1.0 over 10 alternatives: the retry path runs every time.
            judge = Judge(client, min_coverage=1.0)
            first = await judge.score(ex, QUESTION)
            sent = client.requests
        async with ChatClient(llama_endpoint, cache=cache) as client:
            again = await Judge(client, min_coverage=1.0).score(ex, QUESTION)
            return first, sent, again, client.requests

    first, sent, again, resent = asyncio.run(go())
    assert sent == 4  # one unconstrained request, three constrained samples
    assert first.votes is not None and sum(first.votes) == 3
    assert first.p_yes == pytest.approx(first.votes[0] / 3)
    assert first.note == (f"coverage {first.coverage:.2f} below min_coverage 1: majority of 3 constrained "
                          f"samples, {first.votes[0]} yes / {first.votes[1]} no")
    assert first.coverage < 1.0
    # Each sample is its own request (its seed is in the request): three cached replies, not one.
    constrained = [r for r in cache.requests.values() if "grammar" in r]
    assert len(cache.replies) == 4 and len(constrained) == 3
    assert sorted(r["seed"] for r in constrained) == [0, 1, 2]
    assert all(r["temperature"] > 0 and r["grammar"] == 'root ::= "yes" | "no"' for r in constrained)
    # A rerun is answered from the cache, votes included.
    assert resent == 0 and again == first


def test_high_coverage_needs_no_retry(llama_endpoint: Endpoint) -> None:
    async def go() -> tuple[JudgeScore, int]:
        async with ChatClient(llama_endpoint) as client:
            score = await Judge(client, min_coverage=0.0).score(example(), QUESTION)
            return score, client.requests

    score, sent = asyncio.run(go())
    assert sent == 1 and score.votes is None and score.note == ""


# a server stopped mid-run


class StopAfterFirstLeaf(Judge):
    """A real judge whose server is stopped as soon as its first leaf has been scored."""

    def __init__(self, client: ChatClient, server: LocalModelServer) -> None:
        super().__init__(client, min_coverage=0.0)
        self.server = server

    async def _score(self, client: ChatClient, ex: Example, question: str) -> JudgeScore:
        score = await super()._score(client, ex, question)
        self.server.stop()
        return score


def test_a_server_stopped_mid_run_marks_judge_error_and_never_scores_zero(tmp_path: Path) -> None:
    rubric = rubric_of(tmp_path, "First?", "Second?", "Third?", strategy="sequential")
    examples = distinct_examples(2)
    server = LocalModelServer("tiny")
    endpoint = server.start()

    async def go() -> list[Judgement]:
        # One attempt: a refused connection fails at once (a retry would only wait).
        async with ChatClient(endpoint, attempts=1) as client:
            return await _stages.judge(examples, rubric, context(examples[0]), StopAfterFirstLeaf(client, server))

    try:
        judgements = asyncio.run(go())
    finally:
        server.stop()
    assert [j.status for j in judgements] == ["judge_error", "judge_error"]
    assert all(j.score is None for j in judgements)  # dropped from the version, never 0
    leaves = [leaf for j in judgements for leaf in j.leaves]
    scored = [leaf for leaf in leaves if leaf.p_yes is not None]
    assert len(scored) == 1 and scored[0].node_id == "q0"  # the first leaf, before the stop
    failed = [leaf for leaf in leaves if leaf.p_yes is None]
    assert len(failed) == 5
    for leaf in failed:
        assert leaf.score is None and leaf.passed is None and not leaf.skipped
        assert leaf.reason.startswith("judge_error: model endpoint") and endpoint.url in leaf.reason


# several judge URLs, and the reply cache


def test_two_servers_are_used_round_robin_and_a_rerun_makes_no_request(
        llama_endpoint: Endpoint, tmp_path: Path) -> None:
    rubric = rubric_of(tmp_path, "Is the request clear?", "Is every call needed?")
    examples = distinct_examples(4)
    scope = "replicas:test"

    with LocalModelServer("tiny") as second, Store(tmp_path / "cache.duckdb") as store:
        endpoints = [llama_endpoint, second]

        async def judge_all(order: list[Endpoint]) -> tuple[list[Judgement], list[int], Judge]:
            clients = [ChatClient(ep, cache=store, cache_scope=scope) for ep in order]
            judge = Judge(clients, min_coverage=0.0)
            try:
                result = await _stages.judge(examples, rubric, context(examples[0]), judge)
                return result, [c.requests for c in clients], judge
            finally:
                await judge.aclose()

        first, sent, judge = asyncio.run(judge_all(endpoints))
        assert all(n > 0 for n in sent) and sum(sent) == 8  # both servers answered; 4 examples x 2 leaves
        assert judge.stats.per_client == sent  # an example's leaves stay on one server: 2 per example
        assert all(n % 2 == 0 for n in sent)
        # The same requests again, the servers in the other order: every reply comes from the store.
        again, resent, _ = asyncio.run(judge_all(endpoints[::-1]))
        assert resent == [0, 0]
        assert [j.model_dump() for j in again] == [j.model_dump() for j in first]


def test_a_rerun_of_the_default_rubric_is_answered_from_the_store(
        llama_endpoint: Endpoint, tmp_path: Path) -> None:
    ex = example()

    async def judge_once(store: Store) -> tuple[Judgement, int]:
        async with ChatClient(llama_endpoint, cache=store) as client:
            judgement = await evaluate(load_rubric("default"), ex, context(ex), Judge(client))
            return judgement, client.requests

    with Store(tmp_path / "bc.duckdb") as store:
        first, sent = asyncio.run(judge_once(store))
        again, resent = asyncio.run(judge_once(store))
    assert sent >= 3 and resent == 0
    assert again == first and first.status == "accepted"


def test_judges_refuse_replicas_of_different_models(llama_endpoint: Endpoint) -> None:
    async def go() -> None:
        async with ChatClient(llama_endpoint) as a, ChatClient(Endpoint(llama_endpoint.url, "other")) as b:
            Judge([a, b])

    with pytest.raises(ConfigError, match="judge endpoints must serve one model"):
        asyncio.run(go())


# configuration


def test_judge_urls_from_flags_env_and_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    got = judge_endpoint_from(["http://a:8000/v1", "http://b:8000/v1/"], "Qwen/Qwen3-1.7B")
    assert got == JudgeEndpointConfig(url="http://a:8000/v1", model="Qwen/Qwen3-1.7B", replicas=["http://b:8000/v1"])
    assert got is not None and got.urls == ["http://a:8000/v1", "http://b:8000/v1"]
    monkeypatch.setenv("BACKCHAIN_JUDGE_URL", "http://c/v1, http://d/v1")
    monkeypatch.setenv("BACKCHAIN_JUDGE_MODEL", "m")
    from_env = judge_endpoint_from([], None)
    assert from_env is not None and from_env.urls == ["http://c/v1", "http://d/v1"]
    path = tmp_path / "run.toml"
    path.write_text('min_coverage = 0.3\njudge_concurrency = 16\n[judge]\nurl = "http://a/v1"\nmodel = "m"\n'
                    'replicas = ["http://b/v1"]\n')
    config = build_config(path, {})
    assert config.judge is not None and config.judge.urls == ["http://a/v1", "http://b/v1"]
    assert (config.min_coverage, config.judge_concurrency) == (0.3, 16)
    path.write_text('[judge]\nurl = "http://a/v1"\nmodel = "m"\nreplicas = ["ftp://b"]\n')
    with pytest.raises(ConfigError, match="must start with http"):
        build_config(path, {})
    with pytest.raises(ConfigError, match="min_coverage"):
        build_config(None, {"min_coverage": 1.5})
