"""Twilio's side of one media stream, on the wire: for integration tests against a real server.

Independent of ``callbot.telephony.simulated_caller`` on purpose (a test of the server must not
share the server's own idea of the protocol). It does what Twilio does:

- signs the WebSocket upgrade (``X-Twilio-Signature`` over the wss/ws URL, no params);
- sends ``connected``, ``start``, ``media`` (one 20 ms μ-law frame every 20 ms from ``start`` on,
  silence when the caller says nothing), ``dtmf``, ``mark`` and ``stop``, each with a string
  ``sequenceNumber``;
- plays the bot's audio at real time, echoing each ``mark`` once the audio sent before it has
  played, and on ``clear`` drops the queued audio and echoes the marks that were pending.

Everything received is kept with its arrival time, so tests can assert on the exact sequence.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from callbot.audio.codec import mulaw_to_pcm16
from callbot.audio.speakable import to_speakable
from callbot.audio.tts.local import load_local_tts
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
SILENCE = b"\xff" * FRAME_BYTES  # μ-law code of a zero sample


def sign_upgrade(ws_url: str, token: str = AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio puts on a media-stream upgrade: the URL, no params."""
    return RequestValidator(token).compute_signature(ws_url, {})


def split_frames(mulaw: bytes) -> list[bytes]:
    """20 ms frames; the last one padded with silence."""
    out = [mulaw[i: i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
    if out and len(out[-1]) < FRAME_BYTES:
        out[-1] = out[-1] + SILENCE[: FRAME_BYTES - len(out[-1])]
    return out


@dataclass
class Received:
    at: float  # monotonic
    message: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.message.get("event"))


@dataclass
class TwilioStream:
    ws: ClientConnection
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    stream_sid: str = field(default_factory=lambda: "MZ" + secrets.token_hex(16))
    received: list[Received] = field(default_factory=list)
    echoed_marks: list[tuple[float, str]] = field(default_factory=list)
    played: bytearray = field(default_factory=bytearray)  # the bot audio the caller heard
    closed_at: float | None = None  # when the server closed the socket (or it went away)
    close_code: int | None = None
    speech_started_at: float | None = None  # first frame of the latest line sent
    speech_ended_at: float | None = None  # last frame of the latest line sent
    sequence: int = 0

    def __post_init__(self) -> None:
        self._speech: deque[bytes] = deque()
        self._playback: deque[bytes | str] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._chunk = 0
        self._tasks.append(asyncio.create_task(self._receive()))

    # --- sending, as Twilio does ----------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        self.sequence += 1
        await self.ws.send(json.dumps({**message, "sequenceNumber": str(self.sequence)}))

    async def send_raw(self, data: str | bytes) -> None:
        """A frame exactly as given (for malformed input)."""
        await self.ws.send(data)

    async def connected(self) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    async def start(self, custom_parameters: dict[str, str] | None = None, clock: bool = True) -> None:
        """Send ``start``; from then on a media frame goes out every 20 ms (unless ``clock=False``)."""
        params = custom_parameters if custom_parameters is not None else {
            "caller": "+15550100001", "called": "+15550100999", "call_sid": self.call_sid}
        await self.send({"event": "start", "streamSid": self.stream_sid, "start": {
            "accountSid": ACCOUNT_SID, "streamSid": self.stream_sid, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        if clock:
            self._tasks.append(asyncio.create_task(self._clock()))

    async def media(self, frame: bytes) -> None:
        """One media message now, outside the clock."""
        self._chunk += 1
        await self.send({"event": "media", "streamSid": self.stream_sid, "media": {
            "track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * FRAME_MS),
            "payload": base64.b64encode(frame).decode()}})

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid,
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid,
                         "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid}})

    async def say(self, mulaw: bytes) -> None:
        """Speak ``mulaw`` through the frame clock, in real time; returns when the last frame is out."""
        self._speech.extend(split_frames(mulaw))
        self.speech_started_at = self.speech_ended_at = None
        while self._speech and not self._closed.is_set():  # noqa: ASYNC110 (the clock drains it)
            await asyncio.sleep(0.005)

    def say_soon(self, mulaw: bytes) -> None:
        """Queue speech for the clock without waiting."""
        self.speech_started_at = self.speech_ended_at = None
        self._speech.extend(split_frames(mulaw))

    # --- the clock and the playback buffer ---------------------------------------------------
    async def _clock(self) -> None:
        next_tick = time.monotonic()
        while not self._closed.is_set():
            speech = self._speech.popleft() if self._speech else None
            try:
                await self.media(speech or SILENCE)
            except ConnectionClosed:
                return
            if speech is not None:
                now = time.monotonic()
                self.speech_started_at = self.speech_started_at or now
                self.speech_ended_at = now
            await self._play_one()
            next_tick += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    async def _play_one(self) -> None:
        await self._echo_leading_marks()
        if self._playback:
            frame = self._playback.popleft()
            assert isinstance(frame, bytes)
            self.played.extend(frame)
        await self._echo_leading_marks()

    async def _echo_leading_marks(self) -> None:
        while self._playback and isinstance(self._playback[0], str):
            await self._echo(str(self._playback.popleft()))

    async def _echo(self, name: str) -> None:
        self.echoed_marks.append((time.monotonic(), name))
        with contextlib.suppress(ConnectionClosed):
            await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                self.received.append(Received(time.monotonic(), message))
                event = message.get("event")
                if event == "media":
                    self._playback.append(base64.b64decode(message["media"]["payload"]))
                elif event == "mark":
                    self._playback.append(message["mark"]["name"])
                elif event == "clear":
                    pending = [m for m in self._playback if isinstance(m, str)]
                    self._playback.clear()
                    for name in pending:
                        await self._echo(name)
        except ConnectionClosed:
            pass
        finally:
            self.closed_at = time.monotonic()
            self.close_code = self.ws.close_code
            self._closed.set()

    # --- looking at what came back ------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        return self._closed.is_set()

    def events(self, name: str, since: float = 0.0, until: float = float("inf")) -> list[Received]:
        return [r for r in self.received if r.event == name and since <= r.at < until]

    def playback_idle(self) -> bool:
        return not self._playback

    async def wait_until(self, condition: Callable[[], bool], limit_s: float, what: str) -> None:
        deadline = time.monotonic() + limit_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
            await asyncio.sleep(0.01)

    async def wait_for_media(self, since: float = 0.0, limit_s: float = 15.0) -> Received:
        await self.wait_until(lambda: bool(self.events("media", since)), limit_s, "bot audio")
        return self.events("media", since)[0]

    async def wait_until_quiet(self, since: float, quiet_s: float = 0.8, limit_s: float = 20.0) -> None:
        """Until the bot has spoken after ``since`` and then nothing new came and played for ``quiet_s``."""
        await self.wait_for_media(since, limit_s)

        def quiet() -> bool:
            media = self.events("media", since)
            return self.playback_idle() and time.monotonic() - media[-1].at > quiet_s

        await self.wait_until(quiet, limit_s, "the bot to finish speaking")

    async def wait_closed(self, limit_s: float = 15.0) -> None:
        await asyncio.wait_for(self._closed.wait(), limit_s)

    async def aclose(self) -> None:
        self._closed.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ws.close()


@asynccontextmanager
async def open_stream(ws_url: str, *, token: str = AUTH_TOKEN, start: bool = True,
                      headers: dict[str, str] | None = None) -> AsyncIterator[TwilioStream]:
    """A signed media stream to ``ws_url``; with ``start``, already past ``connected`` and ``start``."""
    signed = {"X-Twilio-Signature": sign_upgrade(ws_url, token)} if headers is None else headers
    async with connect(ws_url, additional_headers=signed, max_size=2**22, open_timeout=10) as ws:
        stream = TwilioStream(ws)
        try:
            if start:
                await stream.connected()
                await stream.start()
            yield stream
        finally:
            await stream.aclose()


def trim_silence(mulaw: bytes, threshold: int = 300) -> bytes:
    """Drop leading and trailing near-silence, so a line's last frame sent is real speech."""
    loud = np.nonzero(np.abs(mulaw_to_pcm16(mulaw).astype(np.int32)) > threshold)[0]
    return mulaw[loud[0]: loud[-1] + 1] if loud.size else b""


def load_voice() -> Callable[[str], bytes]:
    """The caller's voice: local TTS (Piper, else espeak-ng), 8 kHz μ-law, silence trimmed."""
    engine = load_local_tts()
    return lambda text: trim_silence(engine.synthesize(to_speakable(text)).audio)


def event_count(base_url: str, event: str) -> float:
    """``callbot_events_total{event=...}`` from the server's /metrics (0 when never counted)."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    match = re.search(rf'^callbot_events_total\{{event="{re.escape(event)}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def active_calls(base_url: str) -> int:
    return int(httpx.get(f"{base_url}/health", timeout=5).json()["active_calls"])
