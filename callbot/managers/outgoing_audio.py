"""OutgoingAudioManager (seed API): reply text → speech → paced Twilio media frames.

A reply is made speakable, split into sentences, and each sentence comes from the phrase
cache or from TTS (the next sentence is synthesized while the current one plays). Frames
are sent at most ``send_ahead_ms`` ahead of real time, with a ``mark`` after each sentence;
Twilio echoes a mark when the audio before it has been played, so what the caller has
actually heard is known from the echoes, not guessed from the send clock.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import count

from callbot.audio.cache import PreGeneratedAudioCache
from callbot.audio.codec import FRAME_MS, frames
from callbot.audio.speakable import split_sentences, to_speakable
from callbot.audio.tts.base import TextToSpeech
from callbot.telephony import protocol

logger = logging.getLogger("callbot.outgoing")

SendJson = Callable[[str], Awaitable[None]]
# Without any mark echo, playback is assumed over this long after the audio's end: a
# client that never echoes marks must not leave the bot "speaking" forever.
MARK_GRACE_S = 2.0


class AudioSource(StrEnum):
    CACHE = "cache"
    TTS = "tts"


@dataclass
class AudioResponse:
    audio_data: bytes
    format: str
    duration_ms: int
    source: AudioSource


@dataclass
class SentencePlayback:
    text: str
    mark: str
    duration_ms: int = 0
    source: AudioSource | None = None
    sent: bool = False
    heard: bool = False


@dataclass
class Utterance:
    """One reply being spoken: its sentences and how far the caller has heard it."""

    id: int
    text: str
    sentences: list[SentencePlayback]
    started: float = 0.0  # monotonic time of the first frame sent
    first_audio_ms: float | None = None  # reply text → first audio ready
    first_frame_ms: float | None = None  # first audio ready → first frame sent
    audio_ready: float = 0.0  # monotonic time the first audio was ready
    playing_since: float = 0.0  # when the sentence now playing began (last mark echo)
    interrupted: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)  # played out, or cut
    on_air: asyncio.Event = field(default_factory=asyncio.Event)  # first frame sent, or done without one

    def finish(self) -> None:
        self.done.set()
        self.on_air.set()

    def heard_text(self, now: float) -> str:
        """The words the caller has heard: whole sentences echoed, plus the part of the
        sentence in play that its playing time covers."""
        words: list[str] = []
        for sentence in self.sentences:
            if sentence.heard:
                words.append(sentence.text)
                continue
            # duration_ms is set when the sentence's audio starts streaming: it is in play
            # before all its frames are sent (``sent``), which send-ahead delays to its last 200 ms.
            if sentence.duration_ms and self.playing_since:
                share = min(1.0, (now - self.playing_since) * 1000 / sentence.duration_ms)
                spoken = sentence.text.split()
                partial = spoken[: int(len(spoken) * share)]
                if partial:
                    words.append(" ".join(partial))
            break
        return " ".join(words)

    @property
    def fully_heard(self) -> bool:
        return all(s.heard for s in self.sentences)


class OutgoingAudioManager:
    def __init__(self, send_json: SendJson, tts_client: TextToSpeech, audio_cache: PreGeneratedAudioCache,
                 stream_sid: str = "", send_ahead_ms: int = 200) -> None:
        self.send_json = send_json
        self.tts_client = tts_client
        self.audio_cache = audio_cache
        self.stream_sid = stream_sid
        self.send_ahead_s = send_ahead_ms / 1000
        self.current: Utterance | None = None
        self._ids = count(1)
        self._task: asyncio.Task[None] | None = None
        self._play_clock = 0.0  # monotonic time at which all audio sent so far has played
        self.frames_sent = 0

    # --- speaking ---------------------------------------------------------------------------
    async def generate_and_send_response_async(self, text: str) -> Utterance:
        """Start speaking ``text``; returns at once. Await ``utterance.done`` for the end."""
        await self.interrupt_async(send_clear=False)
        sentences = [s for s in split_sentences(text) if s.strip()]
        utterance = Utterance(next(self._ids), text, [])
        utterance.sentences = [SentencePlayback(s, f"u{utterance.id}s{i}") for i, s in enumerate(sentences)]
        self.current = utterance
        self._task = asyncio.create_task(self._speak(utterance), name=f"speak-{utterance.id}")
        return utterance

    async def create_audio_response_async(self, response_text: str, use_cache: bool = True) -> AudioResponse:
        """One sentence's audio: from the phrase cache when it holds it, else from TTS."""
        speakable = to_speakable(response_text)
        if use_cache:
            cached = await self.audio_cache.get_audio_async(speakable, self.tts_client.voice)
            if cached:
                return AudioResponse(cached.data, cached.format, cached.duration_ms, AudioSource.CACHE)
        result = await self.tts_client.synthesize_async(speakable)
        return AudioResponse(result.audio, "audio/x-mulaw;rate=8000", result.duration_ms, AudioSource.TTS)

    async def _speak(self, utterance: Utterance) -> None:
        requested = time.monotonic()
        pending: list[asyncio.Task[AudioResponse]] = []
        try:
            # Synthesis of sentence n+1 overlaps the playing of sentence n.
            pending = [asyncio.create_task(self.create_audio_response_async(s.text))
                       for s in utterance.sentences[:1]]
            for index, sentence in enumerate(utterance.sentences):
                if index + 1 < len(utterance.sentences):
                    pending.append(asyncio.create_task(
                        self.create_audio_response_async(utterance.sentences[index + 1].text)))
                response = await pending[index]
                if utterance.first_audio_ms is None:
                    utterance.audio_ready = time.monotonic()
                    utterance.first_audio_ms = (utterance.audio_ready - requested) * 1000
                sentence.duration_ms, sentence.source = response.duration_ms, response.source
                await self.stream_audio_to_twilio_async(response.audio_data, utterance)
                await self.send_json(protocol.mark_message(self.stream_sid, sentence.mark))
                sentence.sent = True
            if utterance.fully_heard:  # every echo came before we got here (or nothing to say)
                utterance.finish()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("speaking failed; the rest of this reply is dropped")
            utterance.sentences = [s for s in utterance.sentences if s.sent]
            if utterance.fully_heard:
                utterance.finish()
        finally:
            for task in pending:
                task.cancel()

    async def stream_audio_to_twilio_async(self, audio_data: bytes, utterance: Utterance | None = None) -> None:
        """Send μ-law audio as 20 ms media frames, never more than send_ahead ahead of playback."""
        frame_s = FRAME_MS / 1000
        for frame in frames(audio_data):
            now = time.monotonic()
            ahead = self._play_clock - now
            if ahead > self.send_ahead_s:
                await asyncio.sleep(ahead - self.send_ahead_s)
                now = time.monotonic()
            await self.send_json(protocol.media_message(self.stream_sid, base64.b64encode(frame).decode()))
            self.frames_sent += 1
            if utterance and not utterance.started:
                utterance.started = utterance.playing_since = now
                utterance.on_air.set()
                utterance.first_frame_ms = (now - (utterance.audio_ready or now)) * 1000
            self._play_clock = max(self._play_clock, now) + frame_s

    # --- what the caller heard ----------------------------------------------------------------
    def on_mark(self, name: str) -> None:
        """Twilio played everything up to this mark."""
        utterance = self.current
        if utterance is None or utterance.interrupted:
            return  # echoes of marks cleared by a barge-in say nothing about what was heard
        for sentence in utterance.sentences:
            if sentence.mark == name:
                sentence.heard = True
                utterance.playing_since = time.monotonic()
        if utterance.fully_heard and (self._task is None or self._task.done()):
            utterance.finish()

    @property
    def is_speaking(self) -> bool:
        """Audio is being produced or the caller has not heard all of it yet."""
        utterance = self.current
        if utterance is None or utterance.done.is_set() or utterance.interrupted:
            return False
        if self._task is not None and not self._task.done():
            return True
        if time.monotonic() > self._play_clock + MARK_GRACE_S:
            utterance.finish()  # no echo came back: assume it played
            return False
        return not utterance.fully_heard

    async def wait_until_heard_async(self) -> None:
        """Until the current reply has been played out (by the marks) or interrupted."""
        utterance = self.current
        if utterance is None:
            return
        while self.is_speaking:  # polled: the no-echo grace period has no event of its own
            try:
                await asyncio.wait_for(utterance.done.wait(), 0.1)
            except TimeoutError:
                continue

    async def interrupt_async(self, send_clear: bool = True) -> str | None:
        """Barge-in: stop producing audio, drop what Twilio has queued, and return the text the
        caller actually heard of the reply (None when nothing was being said)."""
        utterance = self.current
        if utterance is None or utterance.done.is_set() or utterance.interrupted:
            return None
        heard = utterance.heard_text(time.monotonic())
        utterance.interrupted = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if send_clear:
            await self.send_json(protocol.clear_message(self.stream_sid))
        self._play_clock = 0.0
        utterance.finish()
        return heard

    async def close_async(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
