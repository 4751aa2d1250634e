"""The optional language model, against a local server that speaks OpenAI's chat completions wire format."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from callbot.agents.llm import LLMProvider, LLMUnavailable, parse_json_object
from callbot.config import Settings
from callbot.errors import ExternalServiceError
from tests.fakes.openai_server import API_KEY, FakeOpenAI, run_fake_openai

MESSAGES = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with run_fake_openai(api_key=API_KEY) as state:
        yield state


def settle(server: FakeOpenAI) -> None:
    """Wait for every request already sent to finish, so none of them can see the next test's script."""
    assert server.wait_idle(timeout=5.0), "the fake OpenAI server is still handling a request after 5 s"


@pytest.fixture
def openai(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    settle(server)
    server.reset()
    server.api_key = API_KEY
    yield server
    settle(server)
    server.reset()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(openai: FakeOpenAI, **options: object) -> LLMProvider:
    settings = {"api_key": API_KEY, "model": "fake-model", "timeout": 2.0, **options}
    return LLMProvider(openai.base_url, **settings)  # type: ignore[arg-type]


# --- the wire format ------------------------------------------------------------------------


async def test_completion_sends_the_openai_request_and_parses_the_reply(openai: FakeOpenAI) -> None:
    openai.reply("Hello! How can I help?")
    async with provider(openai) as llm:
        text = await llm.complete_async(MESSAGES, max_tokens=50)
    assert text == "Hello! How can I help?"
    [request] = openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"model": "fake-model", "messages": MESSAGES, "temperature": 0.3, "max_tokens": 50,
                            "stream": False}


async def test_no_key_sends_no_authorization_header(openai: FakeOpenAI) -> None:
    openai.api_key = None
    async with provider(openai, api_key="") as llm:
        assert await llm.complete_async(MESSAGES) == "Hello from the fake model."
    assert "authorization" not in openai.requests[0].headers


async def test_stream_yields_the_reply_piece_by_piece(openai: FakeOpenAI) -> None:
    openai.reply("Sure, our next group starts on March 3 at 6:30 pm.")
    async with provider(openai) as llm:
        pieces = [piece async for piece in llm.stream_async(MESSAGES)]
    assert "".join(pieces) == "Sure, our next group starts on March 3 at 6:30 pm."
    assert len(pieces) == 11  # one event per word; the role-only and finish events carry no text
    assert openai.requests[0].body["stream"] is True


async def test_base_url_with_trailing_slash_and_query_string(openai: FakeOpenAI) -> None:
    """Azure-style base URLs carry ``?api-version=``: the path goes before it."""
    async with LLMProvider(openai.base_url + "/?api-version=2024-06-01", api_key=API_KEY, model="m") as llm:
        await llm.complete_async(MESSAGES)
    assert (openai.requests[0].path, openai.requests[0].query) == ("/v1/chat/completions", "api-version=2024-06-01")


def test_azure_hosts_get_the_api_key_header() -> None:
    llm = LLMProvider("https://my-resource.openai.azure.com/openai/v1", api_key="k")
    assert llm._headers.get("api-key") == "k" and "Authorization" not in llm._headers
    assert llm.url == "https://my-resource.openai.azure.com/openai/v1/chat/completions"


# --- failures: every one is LLMUnavailable, quickly ------------------------------------------------


async def test_wrong_key_is_unavailable(openai: FakeOpenAI) -> None:
    async with provider(openai, api_key="sk-wrong") as llm:
        with pytest.raises(LLMUnavailable, match="401"):
            await llm.complete_async(MESSAGES)
        with pytest.raises(LLMUnavailable, match="401"):
            [piece async for piece in llm.stream_async(MESSAGES)]
    assert issubclass(LLMUnavailable, ExternalServiceError)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_are_unavailable(openai: FakeOpenAI, status: int) -> None:
    openai.fail_next(status, status)
    async with provider(openai) as llm:
        with pytest.raises(LLMUnavailable, match=str(status)):
            await llm.complete_async(MESSAGES)
        with pytest.raises(LLMUnavailable, match=str(status)):
            [piece async for piece in llm.stream_async(MESSAGES)]


async def test_timeout_is_unavailable_within_the_timeout(openai: FakeOpenAI) -> None:
    openai.delay_seconds = 1.5
    async with provider(openai, timeout=0.3) as llm:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="timed out"):
            await llm.complete_async(MESSAGES)
        assert time.monotonic() - started < 0.3 + 0.25
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="timed out"):
            [piece async for piece in llm.stream_async(MESSAGES)]
        assert time.monotonic() - started < 0.3 + 0.25


async def test_stream_that_stalls_midway_is_unavailable(openai: FakeOpenAI) -> None:
    openai.reply("one two three four five")
    openai.chunk_delay_seconds = 0.6
    pieces: list[str] = []
    async with provider(openai, timeout=0.3) as llm:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable):
            async for piece in llm.stream_async(MESSAGES):
                pieces.append(piece)
        assert time.monotonic() - started < 0.3 + 0.25
    assert pieces == []


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    async with LLMProvider(f"http://127.0.0.1:{port}/v1", timeout=1.0) as llm:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable):
            await llm.complete_async(MESSAGES)
        assert time.monotonic() - started < 1.0


async def test_malformed_bodies_are_unavailable(openai: FakeOpenAI) -> None:
    openai.malformed = 2
    async with provider(openai) as llm:
        with pytest.raises(LLMUnavailable, match="malformed"):
            await llm.complete_async(MESSAGES)
        openai.reply("one two three")
        with pytest.raises(LLMUnavailable, match="malformed"):
            [piece async for piece in llm.stream_async(MESSAGES)]


# --- what the conversation uses -------------------------------------------------------------


async def test_understand_parses_the_json_object(openai: FakeOpenAI) -> None:
    openai.reply(
        '{"intent": "book_meeting", "slots": {"day": "Tuesday", "time": "3 pm"}}',
        'Sure! Here it is:\n```json\n{"intent": "Talk To Human", "slots": null}\n```',
    )
    async with provider(openai) as llm:
        first = await llm.understand_async("can we meet Tuesday at 3 pm", expected="a day and time")
        second = await llm.understand_async("let me speak to a person", expected="a yes or no")
    assert first == {"intent": "book_meeting", "slots": {"day": "Tuesday", "time": "3 pm"}}
    assert second == {"intent": "talk_to_human", "slots": {}}
    request = openai.requests[0].body
    assert request["temperature"] == 0.0
    assert "a day and time" in request["messages"][0]["content"]
    assert request["messages"][1] == {"role": "user", "content": "can we meet Tuesday at 3 pm"}


@pytest.mark.parametrize(
    "reply",
    ["The caller wants a meeting.", '{"intent": "book_meeting", "slots": {"day": ', '{"slots": {}}', "[1, 2]",
     '{"intent": "x", "slots": "Tuesday"}'],
)
async def test_understand_returns_none_for_malformed_json(openai: FakeOpenAI, reply: str) -> None:
    openai.reply(reply)
    async with provider(openai) as llm:
        assert await llm.understand_async("tuesday works", expected="a day") is None
        assert llm.available  # a model that rambles is not a model that is down


async def test_understand_raises_when_the_service_fails(openai: FakeOpenAI) -> None:
    openai.fail_next(503)
    async with provider(openai) as llm:
        with pytest.raises(LLMUnavailable):
            await llm.understand_async("tuesday works", expected="a day")


async def test_rephrase_keeps_the_draft_facts(openai: FakeOpenAI) -> None:
    draft = "I booked you with Maria on Tuesday, March 3 at 3:30 pm. You will get an e-mail at ana@example.com."
    openai.reply('"Great, you\'re all set with Maria on Tuesday, March 3 at 3:30 pm, and a confirmation is on '
                 'its way to ana@example.com."')
    async with provider(openai) as llm:
        text = await llm.rephrase_async(draft, {"company": "Northwind Academy", "caller_said": "Tuesday works"})
    assert text == ("Great, you're all set with Maria on Tuesday, March 3 at 3:30 pm, and a confirmation is on "
                    "its way to ana@example.com.")
    system, user = openai.requests[0].body["messages"]
    assert "Northwind Academy" in system["content"] and "two" in system["content"]
    assert draft in user["content"] and "Tuesday works" in user["content"]


async def test_rephrase_that_changes_a_number_is_rejected(openai: FakeOpenAI) -> None:
    openai.reply("Great, see you Tuesday at 4:30 pm!")
    async with provider(openai) as llm:
        with pytest.raises(LLMUnavailable, match="number"):
            await llm.rephrase_async("See you on Tuesday at 3:30 pm.", {})


# --- circuit breaker -------------------------------------------------------------------------------


async def test_circuit_opens_after_three_failures_and_closes_after_the_cool_down(openai: FakeOpenAI) -> None:
    clock = FakeClock()
    openai.fail_next(503, 503, 503)
    async with provider(openai, clock=clock) as llm:
        for _ in range(3):
            with pytest.raises(LLMUnavailable, match="503"):
                await llm.complete_async(MESSAGES)
        assert not llm.available
        # Open: fails at once, without a request.
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="skipped"):
            await llm.complete_async(MESSAGES)
        with pytest.raises(LLMUnavailable, match="skipped"):
            [piece async for piece in llm.stream_async(MESSAGES)]
        assert time.monotonic() - started < 0.05
        assert len(openai.requests) == 3

        clock.now += 29.9
        with pytest.raises(LLMUnavailable, match="skipped"):
            await llm.complete_async(MESSAGES)
        clock.now += 0.2  # the 30 s cool-down is over: the next call is tried
        openai.reply("back")
        assert await llm.complete_async(MESSAGES) == "back"
        assert llm.available and len(openai.requests) == 4

        # Closed again: a single failure does not open it.
        openai.fail_next(500)
        with pytest.raises(LLMUnavailable, match="500"):
            await llm.complete_async(MESSAGES)
        assert llm.available
        assert await llm.complete_async(MESSAGES) == "Hello from the fake model."


async def test_a_failure_after_the_cool_down_reopens_at_once(openai: FakeOpenAI) -> None:
    clock = FakeClock()
    openai.fail_next(503, 503, 503, 503)
    async with provider(openai, clock=clock) as llm:
        for _ in range(3):
            with pytest.raises(LLMUnavailable):
                await llm.complete_async(MESSAGES)
        clock.now += 31
        with pytest.raises(LLMUnavailable, match="503"):
            await llm.complete_async(MESSAGES)
        assert not llm.available  # the trial failed: skipped for another 30 s
        with pytest.raises(LLMUnavailable, match="skipped"):
            await llm.complete_async(MESSAGES)
    assert len(openai.requests) == 4


async def test_successes_reset_the_failure_count(openai: FakeOpenAI) -> None:
    openai.fail_next(503, 503)
    async with provider(openai, clock=FakeClock()) as llm:
        for _ in range(2):
            with pytest.raises(LLMUnavailable):
                await llm.complete_async(MESSAGES)
        await llm.complete_async(MESSAGES)
        openai.fail_next(503, 503)
        for _ in range(2):
            with pytest.raises(LLMUnavailable):
                await llm.complete_async(MESSAGES)
        assert llm.available


# --- configuration -----------------------------------------------------------------------------------


async def test_from_settings(openai: FakeOpenAI) -> None:
    assert LLMProvider.from_settings(Settings(_env_file=None)) is None  # the default: offline only
    settings = Settings(_env_file=None, llm_base_url=openai.base_url, llm_api_key=API_KEY, llm_model="tiny",
                        llm_timeout_seconds=0.7)
    llm = LLMProvider.from_settings(settings)
    assert llm is not None
    async with llm:
        assert (llm.model, llm.timeout) == ("tiny", 0.7)
        assert await llm.complete_async(MESSAGES) == "Hello from the fake model."
    assert openai.requests[0].body["model"] == "tiny"


def test_parse_json_object_tolerates_chatter() -> None:
    assert parse_json_object('noise {"a": {"b": 1}} trailing {"c": 2}') == {"a": {"b": 1}}
    assert parse_json_object("{not json} then {\"ok\": true}") == {"ok": True}
    assert parse_json_object("nothing here") is None
    assert json.dumps(parse_json_object("```json\n{\"intent\": \"x\"}\n```")) == '{"intent": "x"}'
