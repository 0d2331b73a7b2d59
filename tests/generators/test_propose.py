"""Model-proposed argument values: a tool that nothing else can feed gets called."""

from __future__ import annotations

import asyncio

from generators import ChatClient, Endpoint, ExploreConfig, Explorer, PythonToolset, ValueProposer


def lookup_city(landmark: str) -> dict[str, object]:
    """Look up a landmark by its English name and return its city."""
    return {"landmark": landmark, "known": landmark.strip().lower() in {"eiffel tower", "big ben", "colosseum"}}


def test_a_parameter_nothing_fills_waits_without_a_proposer_and_is_called_with_one(llama_endpoint: Endpoint) -> None:
    async def go(with_model: bool) -> tuple[list, ValueProposer | None, Explorer]:
        async with PythonToolset([lookup_city], side_effects={"lookup_city": "read"}) as ts, \
                ChatClient(llama_endpoint) as client:
            proposer = ValueProposer(client) if with_model else None
            explorer = Explorer({ts.name: ts}, await ts.list_tools(), ExploreConfig(max_calls=6, rounds=2, error_probes=0),
                                proposer=proposer)
            return await explorer.run(), proposer, explorer

    calls, _, explorer = asyncio.run(go(False))
    assert calls == []  # a free-text parameter with no seed, example, catalogue or pool value: the tool waits
    [missing] = explorer.report.missing  # and the summary says which value to give
    assert (missing.tool, missing.param, missing.hint) == ("lookup_city", "landmark", "--value landmark=TEXT")
    calls, proposer, _ = asyncio.run(go(True))
    assert proposer is not None and proposer.asked == 1
    if proposer.accepted:  # the 135M model may propose nothing usable; then the tool still waits
        assert calls and all(c.sources["landmark"].how == "llm" and c.sources["landmark"].origin == "user" for c in calls)
        assert all(isinstance(c.observation.arguments["landmark"], str) for c in calls)
    else:
        assert calls == []
