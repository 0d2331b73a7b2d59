"""The OpenAI-compatible client and the LLM writer against real servers.

The llama.cpp server with the bundled GGUF answers real completions; a small
HTTP server on 127.0.0.1 produces 503s, which llama.cpp cannot be made to send.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from generators import ChatClient, Endpoint, LLMWriter, LocalModelServer, template_task
from generators._local_model import free_port
from schemas import (
    Answer,
    AnswerPointer,
    ArgumentSource,
    ModelUnavailable,
    Step,
    Trace,
)


def test_flavor_json_constraint_and_logprobs(llama_endpoint: Endpoint) -> None:
    async def go() -> None:
        async with ChatClient(llama_endpoint) as client:
            assert await client.flavor() == "llama.cpp"
            schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            reply = await client.chat([{"role": "user", "content": "Name a city in France as JSON."}],
                                      max_tokens=40, json_schema=schema)
            assert isinstance(json.loads(reply.text)["city"], str)
            one = await client.chat([{"role": "user", "content": "Is water wet? Answer yes or no."}],
                                    max_tokens=1, top_logprobs=5)
            assert one.top_logprobs and all(lp <= 0 for lp in one.top_logprobs.values())
            assert client.requests == 2 and client.prompt_tokens > 0

    asyncio.run(go())


class DictCache:
    """A reply cache in a dict (the store's reply_cache is tested in tests/store)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def get_reply(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def put_reply(self, key: str, endpoint: str, request: dict[str, Any], reply: dict[str, Any]) -> None:
        self.data[key] = reply


def test_reply_cache_answers_identical_requests(llama_endpoint: Endpoint) -> None:
    async def go() -> None:
        cache = DictCache()
        async with ChatClient(llama_endpoint, cache=cache) as client:
            messages = [{"role": "user", "content": "Say hi."}]
            first = await client.chat(messages, max_tokens=4)
            second = await client.chat(messages, max_tokens=4)
            assert not first.cached and second.cached and first.text == second.text
            assert client.requests == 1
            await client.chat(messages, max_tokens=5)  # a different input is a different key
            assert client.requests == 2 and len(cache.data) == 2

    asyncio.run(go())


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[int]]]:
    """Answers 503 twice, then a valid completion; records each status it sent."""
    sent: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._reply(200, {"data": [{"id": "m", "owned_by": "someone"}]})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if sum(1 for s in sent if s == 503) < 2:
                self._reply(503, {"error": "busy"})
            else:
                self._reply(200, {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 3}})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            sent.append(status)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", sent
    server.shutdown()
    server.server_close()


def test_503_is_retried_then_succeeds(flaky_server: tuple[str, list[int]]) -> None:
    url, sent = flaky_server

    async def go() -> str:
        async with ChatClient(Endpoint(url, "m"), attempts=4) as client:
            assert await client.flavor() == "openai"
            return (await client.chat([{"role": "user", "content": "x"}])).text

    assert asyncio.run(go()) == "ok"
    assert [s for s in sent if s != 200] == [503, 503]


def test_unreachable_endpoint_is_model_unavailable() -> None:
    async def go() -> None:
        async with ChatClient(Endpoint(f"http://127.0.0.1:{free_port()}/v1", "m"), attempts=2) as client:
            await client.chat([{"role": "user", "content": "x"}])

    with pytest.raises(ModelUnavailable) as info:
        asyncio.run(go())
    assert "127.0.0.1" in str(info.value) and "2 attempts" in str(info.value)


def test_local_model_server_stops_its_process() -> None:
    server = LocalModelServer("tiny")
    endpoint = server.start()
    proc = server._proc
    assert proc is not None and proc.poll() is None
    server.stop()
    assert proc.poll() is not None

    async def go() -> None:
        async with ChatClient(endpoint, attempts=1) as client:
            await client.chat([{"role": "user", "content": "x"}], max_tokens=1)

    with pytest.raises(ModelUnavailable):
        asyncio.run(go())


def _trace() -> Trace:
    return Trace(steps=[
        Step(toolset="builtin", tool="country_info", arguments={"country": "France"},
             sources={"country": ArgumentSource(origin="user", how="schema-example")},
             observation_id="o1", output={"latitude": 48.85, "longitude": 2.35, "capital": "Paris"}),
        Step(toolset="builtin", tool="timezone_at", arguments={"latitude": 48.85, "longitude": 2.35},
             sources={"latitude": ArgumentSource(origin="step", how="pool", step=0, pointer="/latitude"),
                      "longitude": ArgumentSource(origin="step", how="pool", step=0, pointer="/longitude")},
             observation_id="o2", output={"timezone": "Europe/Paris"}),
    ])


def test_template_and_llm_writer_record_who_wrote_it(llama_endpoint: Endpoint) -> None:
    trace = _trace()
    answer = Answer(pointers=[AnswerPointer(step=1, pointer="/timezone")], value="Europe/Paris")
    draft = template_task(trace, answer)
    assert draft.writer == "template" and draft.kind == "multi_step"
    assert "France" in draft.user_request and "Europe/Paris" not in draft.user_request
    assert draft.user_values == {"country": "France"}

    async def go():
        async with ChatClient(llama_endpoint) as client:
            return await LLMWriter(client).rewrite(draft, seed=1)

    task = asyncio.run(go())
    assert task.writer == "llm" and task.writer_model == llama_endpoint.model
    assert task.writer_prompt_hash and len(task.writer_prompt_hash) == 32
    assert task.answer == draft.answer and task.user_request
    # The plumbing model may or may not produce usable JSON; either way it is recorded.
    if task.writer_error is None:
        assert task.user_request != "(empty reply)"


def test_429_honours_retry_after() -> None:
    """A real loopback server answers 429 with Retry-After: 1 once; the retry waits for it."""
    import time

    times: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            times.append(time.monotonic())
            if len(times) == 1:
                body, status, extra = b'{"error": "slow down"}', 429, {"Retry-After": "1"}
            else:
                body, status, extra = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode(), 200, {}
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async def go() -> str:
            endpoint = Endpoint(f"http://127.0.0.1:{server.server_address[1]}/v1", "m", flavor="openai")
            async with ChatClient(endpoint, attempts=3) as client:
                return (await client.chat([{"role": "user", "content": "x"}])).text

        assert asyncio.run(go()) == "ok"
    finally:
        server.shutdown()
        server.server_close()
    assert len(times) == 2 and times[1] - times[0] >= 1.0


# --- the writer built for real models (issue 18): pure parts, no server -------------------------

def test_writer_prompt_is_per_kind_grounded_and_short() -> None:
    from generators._writer import _KIND_RULE, EXAMPLES

    trace = _trace()
    answer = Answer(pointers=[AnswerPointer(step=1, pointer="/timezone")], value="Europe/Paris")
    draft = template_task(trace, answer)
    client = ChatClient(Endpoint("http://127.0.0.1:9/v1", "m"))
    messages = LLMWriter(client).messages(draft, trace=trace, seed=3)
    system, example, reply, task = (m["content"] for m in messages)
    assert _KIND_RULE["multi_step"] in system and json.loads(reply) == json.loads(EXAMPLES["multi_step"][4])
    assert "USER VALUES: France" in task and "ANSWER: Europe/Paris" in task and draft.user_request in task
    assert "timezone_at" not in "".join(m["content"] for m in messages)  # no tool name reaches the writer
    assert sum(len(m["content"]) for m in messages) < 1600  # about 330 tokens: CPU prompt budget
    # a persona and a tone per seed: variants differ
    assert {LLMWriter(client).messages(draft, trace=trace, seed=s)[-1]["content"].split("\n")[0]
            for s in range(8)} != {task.split("\n")[0]}
    asyncio.run(client.aclose())


@pytest.mark.parametrize(("text", "parsed"), [
    ('{"request": "Hi?", "answer": "Yes."}', ("Hi?", "Yes.", None)),
    ('{"request": "Hi?"}', ("Hi?", None, "reply JSON has no string field 'answer'")),
    ('{"answer": "x"}', (None, None, "reply JSON has no string field 'request'")),
    ("not json", (None, None, "reply is not valid JSON (Expecting value at char 0)")),
])
def test_parse_rewrite(text: str, parsed: tuple[object, ...]) -> None:
    from generators._writer import parse_rewrite

    assert parse_rewrite(text) == parsed


def test_a_copied_example_is_recognised() -> None:
    from generators._writer import EXAMPLES, copied_example

    shown = json.loads(EXAMPLES["parallel"][4])
    draft = template_task(_trace(), Answer(pointers=[AnswerPointer(step=1, pointer="/timezone")], value="Europe/Paris"))
    assert copied_example(draft.model_copy(update={"user_request": shown["request"]})) == shown["request"]
    assert copied_example(draft) is None


def test_a_multi_turn_answer_must_name_the_value_the_user_gave_later() -> None:
    """The rewrite's final answer replaces the template's only when it names the value the user
    supplied in the dialogue ("The numeric code for a currency is 356" does not)."""
    from generators._writer import _facts, _unnamed_turn_value
    from schemas import DialogueTurn

    trace = Trace(steps=[Step(toolset="b", tool="currency_info", arguments={"currency_code": "INR"},
                              sources={"currency_code": ArgumentSource(origin="user", how="seed")},
                              output={"currency_code": "INR", "numeric": "356"}, observation_id="o1")])
    answer = Answer(pointers=[AnswerPointer(step=0, pointer="/numeric")], value="356")
    draft = template_task(trace, answer, withheld="currency_code").model_copy(update={
        "kind": "multi_turn",
        "dialogue": [DialogueTurn(role="assistant", content="Which currency do you mean?"),
                     DialogueTurn(role="user", content="The Indian Rupee, please.")]})
    assert "Indian Rupee" in draft.final_message and "Indian Rupee" not in draft.user_request
    assert _unnamed_turn_value("The numeric code for a currency is 356.", draft) == "Indian Rupee"
    assert _unnamed_turn_value("The Indian rupee's numeric code is 356.", draft) is None
    # The writer is not shown the later value, so it cannot put it back in the request; the template's
    # answer, which names it, is kept.
    client = ChatClient(Endpoint("http://127.0.0.1:9/v1", "m"))
    prompt = LLMWriter(client).messages(draft, trace=trace)[-1]["content"]
    assert "Indian Rupee" not in prompt and "USER VALUES: (none)" in prompt
    asyncio.run(client.aclose())
    # A standard code reaches the writer by the name the draft uses.
    single = template_task(trace, answer)
    assert _facts(single, trace, None)[0] == "Indian Rupee"


def test_an_answer_of_values_and_units_is_not_a_sentence() -> None:
    """'+9 hours; 89.06 degrees Fahrenheit.' states both values and says nothing: the template's answer is kept."""
    from generators._writer import _bare_answer

    trace = Trace(steps=[Step(toolset="b", tool="t", arguments={}, sources={},
                              output={"offset": "+9.0h", "temp": 89.06}, observation_id="o1")])
    answer = Answer(pointers=[AnswerPointer(step=0, pointer="/offset"), AnswerPointer(step=0, pointer="/temp")],
                    value=["+9.0h", 89.06])
    draft = template_task(trace, answer)
    assert _bare_answer("+9 hours; 89.06 degrees Fahrenheit.", draft)
    assert _bare_answer("89.06 miles per hour", draft)
    assert not _bare_answer("Tokyo is 9 hours ahead, and it was 89.06 degrees Fahrenheit at EWR.", draft)
