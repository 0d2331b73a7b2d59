"""Model-proposed argument values: a tool that nothing else can feed gets called."""

from __future__ import annotations

import asyncio

from generators import ChatClient, Endpoint, ExploreConfig, Explorer, PythonToolset, ValueProposer


def lookup_city(city: str) -> dict[str, object]:
    """Look up a city by its English name and return its country."""
    return {"city": city, "known": city.strip().lower() in {"paris", "tokyo", "lima", "london", "berlin"}}


def test_a_parameter_nothing_fills_waits_without_a_proposer_and_is_called_with_one(llama_endpoint: Endpoint) -> None:
    async def go(with_model: bool) -> tuple[list, ValueProposer | None]:
        async with PythonToolset([lookup_city], side_effects={"lookup_city": "read"}) as ts, \
                ChatClient(llama_endpoint) as client:
            proposer = ValueProposer(client) if with_model else None
            explorer = Explorer({ts.name: ts}, await ts.list_tools(), ExploreConfig(max_calls=6, rounds=2, error_probes=0),
                                proposer=proposer)
            return await explorer.run(), proposer

    calls, _ = asyncio.run(go(False))
    assert calls == []  # a free-text parameter with no seed, example or pool value: the tool waits
    calls, proposer = asyncio.run(go(True))
    assert proposer is not None and proposer.asked == 1
    if proposer.accepted:  # the 135M model may propose nothing usable; then the tool still waits
        assert calls and all(c.sources["city"].how == "llm" and c.sources["city"].origin == "user" for c in calls)
        assert all(isinstance(c.observation.arguments["city"], str) for c in calls)
    else:
        assert calls == []
