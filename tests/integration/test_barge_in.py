"""Barge-in, end to end over a real WebSocket against a real server process.

A caller who talks over the bot stops it: Twilio is told to ``clear`` its buffer, no more of the
old reply is sent, and the transcript keeps only what the caller heard. A click or a short burst
of noise over the bot does not stop it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest

from callbot.agents.phrases import phrase
from callbot.audio.codec import pcm16_to_mulaw
from callbot.telephony.simulated_caller import Scenario, SimulatedCaller, Step
from tests.conftest import RunningServer
from tests.twilio_client import event_count, load_voice, open_stream

BARGE_IN_MIN_S = 0.25  # the server's default barge_in_min_ms
GREETING = phrase("greeting")


@pytest.fixture(scope="module")
def voice() -> Callable[[str], bytes]:
    return load_voice()


def words(text: str) -> list[str]:
    return text.split()


def assert_truncation_of(heard: str, full: str) -> None:
    """``heard`` is the start of ``full`` (word for word, the last word possibly cut), and shorter."""
    heard_words, full_words = words(heard), words(full)
    assert heard_words, "the transcript lost what the caller did hear"
    assert len(heard) < len(full), f"{heard!r} is not shorter than the full reply"
    assert heard_words[:-1] == full_words[: len(heard_words) - 1], (heard, full)
    assert full_words[len(heard_words) - 1].startswith(heard_words[-1]), (heard, full)


async def test_caller_talking_over_the_greeting_stops_it_and_the_transcript_keeps_what_was_heard(
        callbot_server: RunningServer, voice: Callable[[str], bytes]) -> None:
    line = voice("Sorry, I need to talk to someone about my invoice.")
    barge_ins_before = event_count(callbot_server.base_url, "barge_in")
    async with open_stream(callbot_server.ws_url) as stream:
        first = await stream.wait_for_media(limit_s=10)
        await stream.wait_until(lambda: time.monotonic() > first.at + 1.0, 3, "a second of greeting")
        speaking = asyncio.create_task(stream.say(line))
        await stream.wait_until(lambda: bool(stream.events("clear")), 5, "a clear")
        await speaking
        assert stream.speech_started_at is not None and stream.speech_ended_at is not None
        clear = stream.events("clear")[0]
        caller_done = stream.speech_ended_at
        await stream.wait_until_quiet(since=caller_done)  # the bot answers the interruption
        await stream.stop()

    assert clear.message == {"event": "clear", "streamSid": stream.stream_sid}
    reaction_s = clear.at - stream.speech_started_at
    assert BARGE_IN_MIN_S - 0.05 <= reaction_s < BARGE_IN_MIN_S + 1.0, reaction_s
    # Nothing of the old reply after the clear: silence until the caller has finished speaking.
    assert stream.events("media", since=clear.at, until=caller_done) == []
    assert len(stream.events("clear")) == 1
    assert stream.events("media", since=caller_done), "the bot did not answer the caller"
    assert event_count(callbot_server.base_url, "barge_in") == barge_ins_before + 1

    record = await asyncio.to_thread(callbot_server.wait_for_call_end, stream.call_sid)
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot", "caller", "bot"], turns
    cut = turns[0]
    assert cut["interrupted"] is True
    assert_truncation_of(cut["text"], GREETING)
    assert "talk to someone" in turns[1]["text"].lower()
    assert turns[2]["interrupted"] is False


async def test_caller_talking_over_a_long_synthesized_reply_cuts_it_where_it_was_heard(
        callbot_server: RunningServer, voice: Callable[[str], bytes]) -> None:
    caller = SimulatedCaller(callbot_server.ws_url, voice, auth_token=callbot_server.auth_token)
    result = await caller.run(Scenario([
        Step(say="I run a bakery with twelve employees and we are looking for a better way "
                 "to schedule our delivery drivers every morning."),
        Step(say="Hold on, can you send me that by email instead?", barge_in_after_ms=1500),
    ]))
    record = await asyncio.to_thread(callbot_server.wait_for_call_end, result.call_sid)
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot", "caller", "bot", "caller", "bot"], turns
    assert not turns[0]["interrupted"]
    cut = turns[2]
    assert cut["interrupted"] is True
    # What the bot was saying: its reply to the caller's line, as the conversation phrases it.
    said = turns[1]["text"].strip().rstrip(".!?,;: ")
    full = f"{phrase('repeat_back', text=said)} {phrase('anything_else')}"
    assert_truncation_of(cut["text"], full)
    # Cut 1.5 s (plus the barge-in delay) into a reply that runs far longer.
    assert len(words(cut["text"])) < len(words(full)) / 2
    assert "email" in turns[3]["text"].lower()
    assert turns[4]["interrupted"] is False


def noise(ms: int, amplitude: int, decay: bool, seed: int) -> bytes:
    samples = np.random.default_rng(seed).uniform(-amplitude, amplitude, 8 * ms)
    if decay:  # a click: loud at once, gone within its 40 ms
        samples *= np.exp(-np.arange(samples.size) / 40)
    return pcm16_to_mulaw(samples.astype(np.int16))


async def test_a_click_or_a_short_noise_burst_does_not_interrupt_the_bot(
        callbot_server: RunningServer) -> None:
    barge_ins_before = event_count(callbot_server.base_url, "barge_in")
    async with open_stream(callbot_server.ws_url) as stream:
        first = await stream.wait_for_media(limit_s=10)
        await stream.wait_until(lambda: time.monotonic() > first.at + 0.6, 3, "the greeting to play")
        await stream.say(noise(40, 30000, decay=True, seed=1))
        await stream.wait_until(lambda: time.monotonic() > first.at + 1.4, 3, "more greeting")
        await stream.say(noise(60, 20000, decay=False, seed=2))
        await stream.wait_until_quiet(since=0.0)
        await stream.stop()

    assert stream.events("clear") == []
    assert event_count(callbot_server.base_url, "barge_in") == barge_ins_before
    sent_marks = [r.message["mark"]["name"] for r in stream.events("mark")]
    assert sent_marks and all(name in [n for _, n in stream.echoed_marks] for name in sent_marks)
    record = await asyncio.to_thread(callbot_server.wait_for_call_end, stream.call_sid)
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot"], turns  # the noise made no caller turn either
    assert turns[0]["text"] == GREETING
    assert turns[0]["interrupted"] is False
