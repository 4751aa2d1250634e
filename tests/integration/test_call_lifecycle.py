"""How calls end, over a real WebSocket against a real server process.

The caller says goodbye (the bot says goodbye, hangs up through Twilio's REST API, closes the
stream); the caller hangs up, politely (``stop``) or not (the socket just drops); the caller
says nothing at all (prompts, then a polite goodbye).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callbot.audio.speakable import split_sentences
from tests.conftest import GREETING, RunningServer, start_server, stop_server
from tests.fakes.twilio_api import ACCOUNT_SID, run_fake_twilio
from tests.twilio_client import TwilioStream, active_calls, load_voice, open_stream

GREETING_FIRST_SENTENCE = split_sentences(GREETING)[0]
SILENCE_PROMPT_SECONDS = 1.5
# The caller's turn starts up to 240 ms early (the audio kept from before speech was detected).
TIME_TOLERANCE_S = 0.45
MAX_SILENCE_PROMPTS = 2


@pytest.fixture(scope="module")
def voice() -> Callable[[str], bytes]:
    return load_voice()


@pytest.fixture(scope="module")
def quick_silence_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp: Path = tmp_path_factory.mktemp("callbot-silence")
    with run_fake_twilio(accept_any_call=True) as twilio:
        process, server = start_server(tmp, twilio,
                                       CALLBOT_SILENCE_PROMPT_SECONDS=str(SILENCE_PROMPT_SECONDS),
                                       CALLBOT_MAX_SILENCE_PROMPTS=str(MAX_SILENCE_PROMPTS))
        try:
            yield server
        finally:
            stop_server(process)


def hang_ups(server: RunningServer, call_sid: str) -> list[dict[str, list[str]]]:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_sid}.json"
    return [r.form for r in list(server.twilio.requests) if r.method == "POST" and r.path == path]


async def watch_hang_up(server: RunningServer, call_sid: str) -> float:
    """When (monotonic) the fake Twilio received the hang-up of this call."""
    while not hang_ups(server, call_sid):  # noqa: ASYNC110 (another thread appends)
        await asyncio.sleep(0.005)
    return time.monotonic()


def wall(monotonic_time: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - monotonic_time)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_turns_in_order(record: dict) -> None:
    turns = record["turns"]
    assert [t["index"] for t in turns] == list(range(len(turns)))
    call_start, call_end = parse_time(record["started_at"]), parse_time(record["ended_at"])
    previous_end = call_start
    for turn in turns:
        started, ended = parse_time(turn["started_at"]), parse_time(turn["ended_at"])
        assert call_start <= started <= ended <= call_end, turn
        assert started >= previous_end, f"turn {turn['index']} overlaps the one before"
        previous_end = ended


async def wait_for_no_active_calls(server: RunningServer, limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while active_calls(server.base_url) != 0:
        assert time.monotonic() < deadline, "the call is still counted as active"
        await asyncio.sleep(0.05)


# --- the bot ends the call ---------------------------------------------------------------------


async def test_caller_says_goodbye_then_bot_says_goodbye_hangs_up_and_closes(
        callbot_server: RunningServer, voice: Callable[[str], bytes]) -> None:
    goodbye = voice("Okay, thanks. Goodbye.")
    async with open_stream(callbot_server.ws_url) as stream:
        await stream.wait_until_quiet(since=0.0)
        greeting_heard_at = stream.echoed_marks[-1][0]
        watcher = asyncio.create_task(watch_hang_up(callbot_server, stream.call_sid))
        await stream.say(goodbye)
        assert stream.speech_started_at is not None and stream.speech_ended_at is not None
        caller_spoke, caller_done = stream.speech_started_at, stream.speech_ended_at
        await stream.wait_closed(limit_s=20)
        hung_up_at = await asyncio.wait_for(watcher, 5)

    # The bot said something after the caller's goodbye, and all of it was played before the hang-up.
    reply = stream.events("media", since=caller_done)
    assert len(reply) > 50, "the bot did not say goodbye"
    last_mark = stream.events("mark")[-1].message["mark"]["name"]
    echoes = [at for at, name in stream.echoed_marks if name == last_mark]
    assert echoes, "the goodbye was never played out"
    assert echoes[0] <= hung_up_at, "the bot hung up before its goodbye had played"
    assert stream.closed_at is not None and stream.closed_at >= echoes[0]
    assert stream.close_code == 1000  # the server closed the stream, normally

    assert hang_ups(callbot_server, stream.call_sid) == [{"Status": ["completed"]}]
    record = callbot_server.wait_for_call_end(stream.call_sid)
    assert record["ended_at"] is not None
    assert record["end_reason"] == "bot_ended"
    assert [t["speaker"] for t in record["turns"]] == ["bot", "caller", "bot"]
    assert "goodbye" in record["turns"][1]["text"].lower()
    assert "goodbye" in record["turns"][2]["text"].lower()
    assert not any(t["interrupted"] for t in record["turns"])
    assert_turns_in_order(record)
    # Each turn's times are when it was heard on the line (the server shares this machine's clock).
    actual = [(stream.events("media")[0].at, greeting_heard_at), (caller_spoke, caller_done),
              (reply[0].at, echoes[0])]
    for turn, (began, ended) in zip(record["turns"], actual, strict=True):
        for field, moment in (("started_at", began), ("ended_at", ended)):
            error_s = (parse_time(turn[field]) - wall(moment)).total_seconds()
            assert abs(error_s) < TIME_TOLERANCE_S, f"turn {turn['index']} {field} is {error_s:+.2f} s off"
    await wait_for_no_active_calls(callbot_server)


# --- the caller ends the call ------------------------------------------------------------------


async def hang_up_during_greeting(server: RunningServer, abruptly: bool) -> TwilioStream:
    async with open_stream(server.ws_url) as stream:
        await stream.wait_for_media(limit_s=10)
        # Into the greeting's second sentence: the first one has been heard whole.
        await stream.wait_until(lambda: bool(stream.echoed_marks), 10, "the greeting's first sentence to play")
        await stream.wait_until(lambda: time.monotonic() > stream.echoed_marks[0][0] + 0.3, 3, "more greeting")
        marks = stream.events("mark")
        assert marks and marks[0].message["mark"]["name"] in [name for _, name in stream.echoed_marks]
        assert active_calls(server.base_url) >= 1
        if abruptly:
            stream.ws.transport.abort()  # no stop, no close frame: the line just drops
        else:
            await stream.stop()
            await stream.wait_closed(limit_s=5)  # the server closes its side after the stop
    return stream


@pytest.mark.parametrize("abruptly", [False, True], ids=["stop", "socket_dropped"])
async def test_caller_hanging_up_mid_call_ends_the_call_and_frees_it(
        callbot_server: RunningServer, abruptly: bool) -> None:
    stream = await hang_up_during_greeting(callbot_server, abruptly)
    record = await asyncio.to_thread(callbot_server.wait_for_call_end, stream.call_sid)
    assert record["ended_at"] is not None
    assert record["end_reason"] == "caller_hung_up"
    # The transcript keeps what the caller heard of the greeting before leaving, and no more.
    assert [t["speaker"] for t in record["turns"]] == ["bot"], record["turns"]
    cut = record["turns"][0]
    assert cut["interrupted"] is True
    assert cut["text"].startswith(GREETING_FIRST_SENTENCE)
    assert GREETING.startswith(cut["text"]) and len(cut["text"]) < len(GREETING)
    assert_turns_in_order(record)
    await wait_for_no_active_calls(callbot_server)
    await asyncio.sleep(0.3)
    assert hang_ups(callbot_server, stream.call_sid) == [], "the bot hung up a call the caller had left"
    assert "Traceback" not in callbot_server.log()


async def test_caller_hanging_up_as_the_stream_starts_still_leaves_an_ended_record(
        callbot_server: RunningServer) -> None:
    sids = []
    for _ in range(4):
        async with open_stream(callbot_server.ws_url) as stream:
            await stream.stop()  # right behind the start
            await stream.wait_closed(limit_s=5)
        sids.append(stream.call_sid)
    for sid in sids:
        record = await asyncio.to_thread(callbot_server.wait_for_call_end, sid)
        assert record["ended_at"] is not None
        assert record["end_reason"] == "caller_hung_up"
    await wait_for_no_active_calls(callbot_server)


# --- the caller says nothing -----------------------------------------------------------------


def bursts(arrivals: list[float], gap_s: float = 1.0) -> list[tuple[float, float]]:
    """Runs of bot audio: (first frame, last frame) arrival times, split at gaps over ``gap_s``."""
    runs: list[tuple[float, float]] = []
    for at in arrivals:
        if runs and at - runs[-1][1] <= gap_s:
            runs[-1] = (runs[-1][0], at)
        else:
            runs.append((at, at))
    return runs


async def test_silent_caller_is_prompted_then_the_bot_ends_the_call_politely(
        quick_silence_server: RunningServer) -> None:
    server = quick_silence_server
    async with open_stream(server.ws_url) as stream:  # the line carries silence frames only
        watcher = asyncio.create_task(watch_hang_up(server, stream.call_sid))
        await stream.wait_closed(limit_s=45)
        await asyncio.wait_for(watcher, 5)

    record = server.wait_for_call_end(stream.call_sid)
    assert record["end_reason"] == "silence"
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot"] * (MAX_SILENCE_PROMPTS + 2), turns
    prompts = [t["text"].lower() for t in turns[1:-1]]
    assert all("still there" in text for text in prompts), prompts
    assert "goodbye" in turns[-1]["text"].lower()
    assert not any(t["interrupted"] for t in turns)
    assert_turns_in_order(record)
    assert hang_ups(server, stream.call_sid) == [{"Status": ["completed"]}]

    # On the wire: greeting, then each prompt and the goodbye after the configured silence.
    runs = bursts([r.at for r in stream.events("media")])
    assert len(runs) == MAX_SILENCE_PROMPTS + 2, runs
    for (_, previous_end), (start, _) in itertools.pairwise(runs):
        assert SILENCE_PROMPT_SECONDS - 0.1 <= start - previous_end < SILENCE_PROMPT_SECONDS + 2.5
    await wait_for_no_active_calls(server)
    assert "Traceback" not in server.log()
