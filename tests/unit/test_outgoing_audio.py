"""OutgoingAudioManager with the real local TTS and a real phrase cache, against a fake Twilio
that plays the frames it receives in real time and echoes each mark when the audio before it
has played (and, on ``clear``, echoes the marks still pending, as Twilio does)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callbot.audio.cache import PreGeneratedAudioCache
from callbot.audio.codec import FRAME_BYTES, frames
from callbot.audio.speakable import to_speakable
from callbot.audio.tts.base import SynthesisResult
from callbot.audio.tts.local import load_local_tts
from callbot.managers.outgoing_audio import AudioSource, OutgoingAudioManager

STREAM = "MZ00000000000000000000000000000001"
FRAME_S = 0.020
SEND_AHEAD_MS = 200
TOLERANCE_S = 0.003


@pytest.fixture(scope="module")
def engine():
    return load_local_tts()  # Piper (espeak-ng if Piper cannot load): loaded once


class LocalTTS:
    """The real engine behind the async interface the manager uses, inference in a thread."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.voice = engine.voice

    async def synthesize_async(self, text: str) -> SynthesisResult:
        return await asyncio.to_thread(self.engine.synthesize, text)


class CountingTTS:
    """Records every sentence sent to TTS (and its audio); can fail or stall on chosen text."""

    def __init__(self, inner: LocalTTS, fail_on: str | None = None, stall_on: str | None = None) -> None:
        self.inner = inner
        self.voice = inner.voice
        self.fail_on, self.stall_on = fail_on, stall_on
        self.texts: list[str] = []
        self.results: dict[str, SynthesisResult] = {}
        self.cancelled: list[str] = []

    async def synthesize_async(self, text: str) -> SynthesisResult:
        self.texts.append(text)
        try:
            if self.fail_on and self.fail_on in text:
                raise RuntimeError("TTS backend went away")
            if self.stall_on and self.stall_on in text:
                await asyncio.sleep(30)
            result = await self.inner.synthesize_async(text)
        except asyncio.CancelledError:
            self.cancelled.append(text)
            raise
        self.results[text] = result
        return result


@dataclass
class FakeTwilio:
    """Receives what the manager sends, with the monotonic time it arrived."""

    echo: str = "played"  # "played": echo a mark when its audio has played; "now": at once; "never"
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    echoed: list[tuple[float, str]] = field(default_factory=list)
    manager: OutgoingAudioManager | None = None
    _played_until: float = 0.0
    _pending: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    async def send(self, text: str) -> None:
        now = time.monotonic()
        message = json.loads(text)
        self.messages.append((now, message))
        event = message["event"]
        if event == "media":
            self._played_until = max(self._played_until, now) + FRAME_S
        elif event == "mark":
            name = message["mark"]["name"]
            if self.echo == "now":
                self._echo(name)
            elif self.echo == "played":
                delay = max(0.0, self._played_until - now)
                self._pending[name] = asyncio.get_running_loop().call_later(delay, self._echo, name)
        elif event == "clear":
            self._played_until = 0.0
            for name, handle in list(self._pending.items()):
                handle.cancel()
                asyncio.get_running_loop().call_soon(self._echo, name)

    def _echo(self, name: str) -> None:
        self._pending.pop(name, None)
        self.echoed.append((time.monotonic(), name))
        assert self.manager is not None
        self.manager.on_mark(name)

    def of(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if m["event"] == event]

    def events(self) -> list[str]:
        return [m["event"] for _, m in self.messages]

    def audio(self, messages: list[tuple[float, dict[str, Any]]] | None = None) -> list[bytes]:
        return [base64.b64decode(m["media"]["payload"]) for _, m in (messages or self.of("media"))]


@pytest.fixture
def cache(tmp_path: Path) -> PreGeneratedAudioCache:
    return PreGeneratedAudioCache(tmp_path / "audio-cache")


def make(engine, cache: PreGeneratedAudioCache, echo: str = "played", **tts: str | None
         ) -> tuple[OutgoingAudioManager, FakeTwilio, CountingTTS]:
    twilio = FakeTwilio(echo=echo)
    tts_client = CountingTTS(LocalTTS(engine), **tts)
    manager = OutgoingAudioManager(twilio.send, tts_client, cache, stream_sid=STREAM, send_ahead_ms=SEND_AHEAD_MS)
    twilio.manager = manager
    return manager, twilio, tts_client


async def until(condition, limit_s: float = 10) -> None:
    """Poll a condition on the manager's state (it has no event for each of these)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def split_by_marks(twilio: FakeTwilio) -> list[tuple[list[bytes], str]]:
    """The media frames of each sentence and the mark that follows them."""
    groups: list[tuple[list[bytes], str]] = []
    current: list[bytes] = []
    for _, message in twilio.messages:
        if message["event"] == "media":
            current.append(base64.b64decode(message["media"]["payload"]))
        elif message["event"] == "mark":
            groups.append((current, message["mark"]["name"]))
            current = []
    assert current == [], "media after the last mark"
    return groups


# --- cache ------------------------------------------------------------------------------------
async def test_cached_sentences_skip_tts_and_their_frames_come_from_the_cache(engine, cache) -> None:
    manager, twilio, tts = make(engine, cache)
    sentence_a, sentence_b = "Open at 9.", "Hi."
    cached = engine.synthesize(to_speakable(sentence_a))
    await cache.cache_audio_async(to_speakable(sentence_a), cached.audio, cached.duration_ms, tts.voice)

    utterance = await manager.generate_and_send_response_async(f"{sentence_a} {sentence_b}")
    await asyncio.wait_for(utterance.done.wait(), 10)

    assert tts.texts == [sentence_b]  # only B was synthesized; A was a cache hit
    assert [s.source for s in utterance.sentences] == [AudioSource.CACHE, AudioSource.TTS]
    (frames_a, mark_a), (frames_b, mark_b) = split_by_marks(twilio)
    assert frames_a == frames(cached.audio)  # byte for byte the cached audio
    assert frames_b == frames(tts.results[sentence_b].audio)
    assert [mark_a, mark_b] == [s.mark for s in utterance.sentences]


# --- pacing -----------------------------------------------------------------------------------
async def test_frames_are_paced_no_more_than_send_ahead_ahead_of_real_time(engine, cache) -> None:
    manager, twilio, tts = make(engine, cache)
    text = "Hi there. Bye now."
    utterance = await manager.generate_and_send_response_async(text)
    await asyncio.wait_for(utterance.done.wait(), 10)

    media = twilio.of("media")
    t0 = media[0][0]
    send_ahead = SEND_AHEAD_MS / 1000
    for k, (sent_at, _) in enumerate(media):
        assert sent_at >= t0 + k * FRAME_S - send_ahead - TOLERANCE_S, f"frame {k} sent too early"
    n = len(media)
    total = media[-1][0] - t0
    assert total == pytest.approx((n - 1) * FRAME_S - send_ahead, abs=0.06)
    # the first send_ahead of audio goes at once (the jitter margin), then one frame per 20 ms
    burst = int(send_ahead / FRAME_S)
    assert media[burst][0] - t0 < 0.05

    # each sentence is followed by its mark, every frame is 20 ms of μ-law for our stream
    groups = split_by_marks(twilio)
    assert [name for _, name in groups] == [s.mark for s in utterance.sentences]
    assert [len(f) for f, _ in groups] == [len(frames(tts.results[s.text].audio)) for s in utterance.sentences]
    assert all(len(frame) == FRAME_BYTES for frame in twilio.audio())
    assert all(m["streamSid"] == STREAM for _, m in twilio.messages)
    assert manager.frames_sent == n


# --- marks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("echo", ["played", "now"])
async def test_mark_echoes_end_the_utterance_and_everything_was_heard(engine, cache, echo: str) -> None:
    manager, twilio, _ = make(engine, cache, echo=echo)
    text = "Hi there. Bye now."
    utterance = await manager.generate_and_send_response_async(text)
    await asyncio.sleep(0.1)
    assert manager.is_speaking
    assert not utterance.done.is_set()

    await asyncio.wait_for(utterance.done.wait(), 10)  # set by the echoes, however soon they come
    assert not manager.is_speaking
    assert all(s.heard for s in utterance.sentences)
    assert utterance.heard_text(time.monotonic()) == text
    assert [name for _, name in twilio.echoed] == [s.mark for s in utterance.sentences]
    if echo == "played":  # the last echo came when the audio had played, not when it was sent
        last_mark_sent = twilio.of("mark")[-1][0]
        assert twilio.echoed[-1][0] - last_mark_sent >= SEND_AHEAD_MS / 1000 - 0.05


async def test_without_echoes_is_speaking_stops_after_the_grace_period(engine, cache,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("callbot.managers.outgoing_audio.MARK_GRACE_S", 0.2)
    manager, _, _ = make(engine, cache, echo="never")
    utterance = await manager.generate_and_send_response_async("Hi.")
    await asyncio.wait_for(manager.wait_until_heard_async(), 10)
    assert not manager.is_speaking
    assert utterance.done.is_set()


async def test_an_empty_reply_is_done_at_once(engine, cache) -> None:
    manager, twilio, tts = make(engine, cache)
    utterance = await manager.generate_and_send_response_async("   ")
    await asyncio.wait_for(utterance.done.wait(), 1)
    assert not manager.is_speaking
    assert twilio.messages == [] and tts.texts == []


# --- barge-in ---------------------------------------------------------------------------------
async def test_barge_in_keeps_only_what_was_heard_and_stops_all_audio(engine, cache) -> None:
    first = "Sure."
    second = "Our advisors meet new clients every weekday afternoon."
    third = "Shall I book one for you?"
    manager, twilio, tts = make(engine, cache, stall_on="Shall I")  # the third sentence is still in TTS
    utterance = await manager.generate_and_send_response_async(f"{first} {second} {third}")
    s0, s1, s2 = utterance.sentences

    await until(lambda: s0.heard)  # Twilio echoed the first sentence's mark: it has been played
    echoed_at = twilio.echoed[0][0]
    await until(lambda: s1.duration_ms > 0)
    await asyncio.sleep(s1.duration_ms / 1000 * 0.4)  # the caller hears 40 % of the second sentence

    before = time.monotonic()
    heard = await manager.interrupt_async()
    after = time.monotonic()
    cleared_at = twilio.of("clear")[0][0]

    # what was heard: the first sentence and the played share of the second, never the third
    assert heard is not None and heard.startswith(first + " ")
    words = second.split()
    prefix = heard[len(first) + 1 :].split()
    assert prefix == words[: len(prefix)]
    low = int(len(words) * (before - echoed_at) * 1000 / s1.duration_ms)
    high = int(len(words) * (after - echoed_at) * 1000 / s1.duration_ms)
    assert low <= len(prefix) <= high
    assert 0 < len(prefix) < len(words)
    assert "book" not in heard

    # Twilio is told to drop its queue; afterwards nothing more is sent
    assert twilio.events().count("clear") == 1
    await asyncio.sleep(0.3)
    assert [m["event"] for t, m in twilio.messages if t > cleared_at] == []
    assert twilio.events()[-1] == "clear"
    assert "Shall I book one for you?" in tts.cancelled  # the TTS work for the reply was cancelled
    assert not manager.is_speaking
    assert utterance.done.is_set() and utterance.interrupted

    # marks echoed after the clear say nothing about what was heard
    manager.on_mark(s1.mark)
    manager.on_mark(s2.mark)
    assert not s1.heard and not s2.heard
    assert utterance.heard_text(time.monotonic() + 60).startswith(heard)
    assert await manager.interrupt_async() is None  # nothing left to interrupt


async def test_barge_in_during_the_first_sentence_keeps_the_heard_part_of_it(engine, cache) -> None:
    text = "Our advisors meet new clients every weekday afternoon."
    manager, twilio, _ = make(engine, cache)
    utterance = await manager.generate_and_send_response_async(text)
    await until(lambda: bool(twilio.of("media")))
    started = twilio.of("media")[0][0]
    duration_ms = utterance.sentences[0].duration_ms
    await asyncio.sleep(duration_ms / 1000 * 0.4)
    before = time.monotonic()
    heard = await manager.interrupt_async()
    after = time.monotonic()
    words = text.split()
    assert heard and words[: len(heard.split())] == heard.split()
    low = int(len(words) * (before - started) * 1000 / duration_ms)
    high = int(len(words) * (after - started) * 1000 / duration_ms)
    assert 0 < low <= len(heard.split()) <= high < len(words)
    assert twilio.events()[-1] == "clear"


async def test_a_new_reply_replaces_the_one_being_spoken(engine, cache) -> None:
    manager, twilio, _ = make(engine, cache)
    old = await manager.generate_and_send_response_async("Our advisors meet new clients every weekday.")
    await until(lambda: bool(twilio.of("media")))
    new = await manager.generate_and_send_response_async("Bye.")
    assert old.interrupted and old.done.is_set()
    await asyncio.wait_for(new.done.wait(), 10)
    assert new.heard_text(time.monotonic()) == "Bye."
    assert [name for _, name in twilio.echoed][-1] == new.sentences[0].mark


# --- failures -----------------------------------------------------------------------------------
async def test_a_tts_failure_mid_reply_ends_the_utterance_without_raising(engine, cache) -> None:
    manager, twilio, _ = make(engine, cache, fail_on="booked")
    utterance = await manager.generate_and_send_response_async(
        "Hi there. You are booked for Tuesday. Goodbye.")
    await asyncio.wait_for(utterance.done.wait(), 10)
    assert not manager.is_speaking
    assert [s.text for s in utterance.sentences] == ["Hi there."]
    assert utterance.heard_text(time.monotonic()) == "Hi there."
    assert twilio.events()[-1] == "mark"  # the first sentence went out whole, then nothing
    assert [name for _, name in twilio.echoed] == [utterance.sentences[0].mark]


async def test_a_tts_failure_on_the_first_sentence_sends_nothing(engine, cache) -> None:
    manager, twilio, _ = make(engine, cache, fail_on="Hello")
    utterance = await manager.generate_and_send_response_async("Hello there.")
    await asyncio.wait_for(utterance.done.wait(), 5)
    assert not manager.is_speaking
    assert twilio.messages == []
    assert utterance.heard_text(time.monotonic()) == ""
