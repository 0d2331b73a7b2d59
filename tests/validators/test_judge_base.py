"""The judge test of record: the bundled Qwen2.5-Coder-1.5B tells a supported answer from an
unsupported one.

The 135M plumbing model's p(yes) sits near chance on such questions; the 1.5B, given the
default rubric's worked examples, separates them. Each pair differs only in the final answer's
value, so the difference in p(yes) is the judge reading the tool result. Runs the real model on
the CPU (about a minute: loading, the worked examples once, then a few hundred tokens a prompt).
"""

from __future__ import annotations

import asyncio

from generators import ChatClient, LocalModelServer
from schemas import Example
from validators import Judge, load_rubric

from ._examples import answer, country_step, example

RUBRIC = load_rubric("default")
CORRECT = next(q for _, q, _ in RUBRIC.judge_shots() if "correct" in q)


def _pair(request: str, pointer: str, value: object, said: str, wrong: str) -> tuple[Example, Example]:
    kind = "number" if isinstance(value, int) else "casefold"
    ans = answer(value, (0, pointer), kind=kind)
    make = lambda message: example(request=request, steps=[country_step()], ans=ans, final_message=message)  # noqa: E731
    return make(said), make(wrong)


PAIRS = [
    _pair("What is the capital of France?", "/capital", "Paris",
          "The capital of France is Paris.", "The capital of France is Lyon."),
    _pair("How many people live in France?", "/population", 68042591,
          "France has a population of 68,042,591.", "France has a population of 51,300,000."),
]


def test_the_default_judge_separates_a_supported_answer_from_an_unsupported_one() -> None:
    async def go() -> list[tuple[float, float]]:
        with LocalModelServer("base") as endpoint:
            async with ChatClient(endpoint) as client:
                judge = Judge(client, shots=RUBRIC.judge_shots())
                out = []
                for supported, unsupported in PAIRS:
                    async with judge.session() as bound:
                        good = await bound.score(supported, CORRECT)
                        bad = await bound.score(unsupported, CORRECT)
                    assert good.coverage > 0.9 and bad.coverage > 0.9  # it answers yes or no
                    out.append((good.p_yes, bad.p_yes))
                return out

    for good, bad in asyncio.run(go()):
        assert good > 0.7 and bad < 0.6 and good - bad > 0.3, (good, bad)
