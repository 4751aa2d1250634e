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

from callbot.agents.graph import AgentConfig, AgentGraph
from callbot.agents.knowledge import shared_knowledge_base
from callbot.agents.state import CallerInfo
from callbot.audio.codec import pcm16_to_mulaw
from callbot.audio.speakable import split_sentences
from callbot.business.profile import load_profile
from callbot.managers.conversation import ConversationConfig, ConversationManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend
from callbot.telephony.simulated_caller import Scenario, SimulatedCaller, Step
from tests.conftest import GREETING, RunningServer
from tests.twilio_client import event_count, load_voice, open_stream

BARGE_IN_MIN_S = 0.25  # the server's default barge_in_min_ms


@pytest.fixture(scope="module")
def voice() -> Callable[[str], bytes]:
    return load_voice()


def words(text: str) -> list[str]:
    return text.split()


def assert_truncation_of(heard: str, full: str, allow_empty: bool = False) -> None:
    """``heard`` is the start of ``full`` (word for word, the last word possibly cut), and shorter."""
    heard_words, full_words = words(heard), words(full)
    if allow_empty and not heard_words:
        return
    assert heard_words, "the transcript lost what the caller did hear"
    assert len(heard) < len(full), f"{heard!r} is not shorter than the full reply"
    assert heard_words[:-1] == full_words[: len(heard_words) - 1], (heard, full)
    assert full_words[len(heard_words) - 1].startswith(heard_words[-1]), (heard, full)


async def test_caller_talking_over_the_greeting_stops_it_and_the_transcript_keeps_what_was_heard(
        callbot_server: RunningServer, voice: Callable[[str], bytes]) -> None:
    line = voice("Sorry, I need to talk to someone about my invoice.")
    barge_ins_before = event_count(callbot_server.base_url, "barge_in")
    async with open_stream(callbot_server.ws_url) as stream:
        await stream.wait_for_media(limit_s=10)
        # Into the greeting's second sentence: the first one has been played whole.
        await stream.wait_until(lambda: bool(stream.echoed_marks), 10, "the greeting's first sentence to play")
        await stream.wait_until(lambda: time.monotonic() > stream.echoed_marks[0][0] + 0.1, 3, "more greeting")
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
    assert cut["text"].startswith(split_sentences(GREETING)[0])
    assert "talk to someone" in turns[1]["text"].lower()
    assert turns[2]["interrupted"] is False


LONG_LINE = "How much do your programs cost? I'd like to know all the prices."
BARGE_LINE = "Hold on, can you send me that by email instead?"


async def reply_to(text: str) -> str:
    """The reply the server's conversation gives an unknown caller's first line (the same offline graph)."""
    profile = load_profile(None)
    assert profile.faq_dir is not None
    graph = AgentGraph(AgentConfig(company_name=profile.company_name, profile=profile,
                                   knowledge=shared_knowledge_base(profile.faq_dir)))
    conversations = ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph)
    await conversations.start_conversation_async("CA1", CallerInfo(phone_number="+15550142001"))
    return (await conversations.process_user_input_async("CA1", text)).agent_response


@pytest.fixture(scope="module")
def long_reply_cut(callbot_server: RunningServer, voice: Callable[[str], bytes]) -> tuple[dict, str]:
    """A call whose caller talks over the bot's long (synthesized) reply 1.5 s into it:
    the call record, and the reply the bot was giving."""
    caller = SimulatedCaller(callbot_server.ws_url, voice, auth_token=callbot_server.auth_token)
    result = asyncio.run(caller.run(Scenario([
        Step(say=LONG_LINE), Step(say=BARGE_LINE, barge_in_after_ms=1500)])))
    record = callbot_server.wait_for_call_end(result.call_sid)
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot", "caller", "bot", "caller", "bot"], turns
    # What the bot was saying: its answer to the caller's line (the price list, from the FAQ).
    full = asyncio.run(reply_to(turns[1]["text"]))
    assert "6,900" in full
    return record, full


def test_long_reply_cut_by_the_caller_is_recorded_interrupted_and_no_longer_than_heard(
        long_reply_cut: tuple[dict, str]) -> None:
    record, full = long_reply_cut
    turns = record["turns"]
    assert not turns[0]["interrupted"]
    cut = turns[2]
    assert cut["interrupted"] is True
    assert_truncation_of(cut["text"], full, allow_empty=True)
    # Cut about 1.5 s (plus the barge-in delay) into a reply that runs for about 20 s.
    assert len(words(cut["text"])) < len(words(full)) / 2
    assert "email" in turns[3]["text"].lower()
    assert turns[4]["interrupted"] is False


def test_long_reply_cut_mid_sentence_keeps_the_words_already_played(long_reply_cut: tuple[dict, str]) -> None:
    record, full = long_reply_cut
    cut = record["turns"][2]["text"]
    assert_truncation_of(cut, full)
    assert len(words(cut)) >= 3  # ~1.8 s of a sentence spoken at ~3 words a second


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
