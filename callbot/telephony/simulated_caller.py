"""A caller without a phone: plays Twilio's side of a media stream against a running server.

It sends the caller's lines as real-time 20 ms μ-law frames (silence in between, as a phone
line does), plays the bot's audio back at real time — echoing each ``mark`` when the audio
before it has played and honouring ``clear`` — and measures each turn's latency: from the
caller's last speech frame sent to the bot's first audio frame received.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
import wave
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from callbot.audio.codec import FRAME_BYTES, FRAME_MS, MULAW_SILENCE, frames, mulaw_to_pcm16, to_telephony

FRAME_S = FRAME_MS / 1000
SILENCE_FRAME = bytes([MULAW_SILENCE]) * FRAME_BYTES
BOT_QUIET_S = 0.8  # the bot is done when nothing new has played for this long
BOT_TIMEOUT_S = 15.0
HANG_UP_WAIT_S = 2.0


@dataclass
class Step:
    """One thing the caller does: say, play a file, pause, press a key."""

    say: str | None = None
    audio: Path | None = None
    pause_ms: int = 0
    dtmf: str | None = None
    barge_in_after_ms: int | None = None  # start this line this long after the bot starts talking


@dataclass
class Scenario:
    steps: list[Step]
    from_number: str = "+15550100001"
    to_number: str = "+15550100999"
    expect: dict[str, Any] = field(default_factory=dict)  # checked against the server's records

    @classmethod
    def from_yaml(cls, path: Path) -> Scenario:
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
        steps = []
        for item in data.get("lines") or data.get("steps") or []:
            if isinstance(item, str):
                item = {"say": item}
            steps.append(Step(say=item.get("say"), audio=Path(item["audio"]) if item.get("audio") else None,
                              pause_ms=int(item.get("pause", 0) or 0), dtmf=item.get("dtmf"),
                              barge_in_after_ms=item.get("barge_in_after_ms")))
        return cls(steps, str(data.get("from", cls.from_number)), str(data.get("to", cls.to_number)),
                   dict(data.get("expect") or {}))


@dataclass
class TurnResult:
    caller_text: str
    heard_text: str | None = None
    bot_text: str = ""
    latency_ms: float | None = None
    sent_at: float = 0.0  # wall clock: when the caller started this line
    bot_audio: bytearray = field(default_factory=bytearray)

    def as_dict(self) -> dict[str, Any]:
        return {"caller_text": self.caller_text, "heard_text": self.heard_text, "bot_text": self.bot_text,
                "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1)}


@dataclass
class CallResult:
    call_sid: str
    turns: list[TurnResult]
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {"call_sid": self.call_sid, "turns": [t.as_dict() for t in self.turns], "outcome": self.outcome}


def load_wav_as_mulaw(path: Path) -> bytes:
    with wave.open(str(path)) as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
        if reader.getnchannels() > 1:
            samples = samples.reshape(-1, reader.getnchannels()).mean(axis=1).astype(np.int16)
        return to_telephony(samples, reader.getframerate())


def trim_silence(mulaw: bytes, threshold: int = 300) -> bytes:
    """Drop leading and trailing near-silence, so the last frame sent is real speech."""
    pcm = np.abs(mulaw_to_pcm16(mulaw).astype(np.int32))
    loud = np.nonzero(pcm > threshold)[0]
    if loud.size == 0:
        return b""
    return mulaw[loud[0]: loud[-1] + 1]


class _TwilioSide:
    """The media stream as Twilio runs it: a frame clock out, a playback buffer in."""

    def __init__(self, ws: ClientConnection, stream_sid: str) -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.outgoing: deque[bytes] = deque()  # caller frames waiting for the clock
        self.playback: deque[bytes | str] = deque()  # bot frames and mark names, in order
        self.last_speech_sent = 0.0  # monotonic
        self.sending_speech = False
        self.first_bot_frame_at: float | None = None  # first bot frame received since the turn reset
        self.last_played_at = 0.0
        self.bot_started_at: float | None = None
        self.turn: TurnResult | None = None
        self.closed = asyncio.Event()
        self.spoken = asyncio.Event()  # the caller's queued speech has all been sent
        self.sequence = 0

    async def speak(self, speech: list[bytes]) -> None:
        """Queue the caller's frames for the clock and wait until the last one is sent."""
        self.spoken.clear()
        self.outgoing.extend(speech)
        await self.spoken.wait()

    def close(self) -> None:
        self.closed.set()
        self.spoken.set()  # nobody waits for speech on a closed line

    async def send(self, message: dict[str, Any]) -> None:
        self.sequence += 1
        message["sequenceNumber"] = str(self.sequence)
        await self.ws.send(json.dumps(message))

    async def clock(self) -> None:
        """Every 20 ms: send one caller frame and play one bot frame."""
        next_tick = time.monotonic()
        chunk = 0
        while not self.closed.is_set():
            speech = self.outgoing.popleft() if self.outgoing else None
            chunk += 1
            payload = base64.b64encode(speech or SILENCE_FRAME).decode()
            try:
                await self.send({"event": "media", "streamSid": self.stream_sid,
                                 "media": {"track": "inbound", "chunk": str(chunk),
                                           "timestamp": str(int(chunk * FRAME_MS)), "payload": payload}})
            except ConnectionClosed:
                self.close()
                return
            if speech is not None:
                self.last_speech_sent = time.monotonic()
                if not self.outgoing:
                    self.spoken.set()
            self.sending_speech = bool(self.outgoing)
            await self._play_one()
            next_tick += FRAME_S
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    async def _play_one(self) -> None:
        while self.playback and isinstance(self.playback[0], str):
            await self._echo_mark(str(self.playback.popleft()))
        if self.playback:
            frame = self.playback.popleft()
            assert isinstance(frame, bytes)
            self.last_played_at = time.monotonic()
            if self.turn is not None:
                self.turn.bot_audio.extend(frame)
        while self.playback and isinstance(self.playback[0], str):
            await self._echo_mark(str(self.playback.popleft()))

    async def _echo_mark(self, name: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def receive(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                event = message.get("event")
                if event == "media":
                    now = time.monotonic()
                    if self.first_bot_frame_at is None:
                        self.first_bot_frame_at = now
                    if self.bot_started_at is None:
                        self.bot_started_at = now
                    self.playback.append(base64.b64decode(message["media"]["payload"]))
                elif event == "mark":
                    self.playback.append(message["mark"]["name"])
                elif event == "clear":
                    marks = [m for m in self.playback if isinstance(m, str)]
                    self.playback.clear()
                    for name in marks:  # Twilio echoes the marks a clear drops
                        await self._echo_mark(name)
        except ConnectionClosed:
            pass
        finally:
            self.close()

    def bot_is_quiet(self) -> bool:
        return not self.playback and time.monotonic() - self.last_played_at > BOT_QUIET_S

    async def wait_for_bot_reply(self, since: float, until_start: bool = False) -> None:
        """Until the bot has answered (audio after ``since``) and gone quiet — or only started
        answering, with ``until_start`` — or timed out."""
        deadline = time.monotonic() + BOT_TIMEOUT_S
        while not self.closed.is_set() and time.monotonic() < deadline:
            answered = self.first_bot_frame_at is not None and self.first_bot_frame_at >= since
            if answered and (until_start or self.bot_is_quiet()):
                return
            await asyncio.sleep(0.02)


class SimulatedCaller:
    def __init__(self, url: str, synthesize: Any, auth_token: str | None = None) -> None:
        """``synthesize(text) -> μ-law bytes`` makes the caller's voice."""
        self.url = url
        self.synthesize = synthesize
        self.auth_token = auth_token

    def _headers(self) -> dict[str, str]:
        if not self.auth_token:
            return {}
        from twilio.request_validator import RequestValidator

        return {"X-Twilio-Signature": RequestValidator(self.auth_token).compute_signature(self.url, {})}

    def _prepare(self, step: Step) -> bytes:
        if step.say:
            return trim_silence(self.synthesize(step.say))
        if step.audio:
            return trim_silence(load_wav_as_mulaw(step.audio))
        return b""

    def prepare(self, scenario: Scenario) -> list[bytes]:
        """The caller's audio for every step, made before the call so its timing stays real."""
        return [self._prepare(step) for step in scenario.steps]

    async def run(self, scenario: Scenario, audio: list[bytes] | None = None) -> CallResult:
        audio = audio if audio is not None else self.prepare(scenario)
        call_sid = "CA" + secrets.token_hex(16)
        stream_sid = "MZ" + secrets.token_hex(16)
        turns: list[TurnResult] = [TurnResult(caller_text="", sent_at=time.time())]
        outcome = "caller_hung_up"
        async with connect(self.url, additional_headers=self._headers(), max_size=2**20) as ws:
            side = _TwilioSide(ws, stream_sid)
            side.turn = turns[0]
            await side.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await side.send({"event": "start", "streamSid": stream_sid, "start": {
                "streamSid": stream_sid, "accountSid": "AC" + "0" * 32, "callSid": call_sid,
                "tracks": ["inbound"], "customParameters": {
                    "caller": scenario.from_number, "called": scenario.to_number, "call_sid": call_sid},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
            tasks = [asyncio.create_task(side.clock()), asyncio.create_task(side.receive())]
            try:
                barges = [step.barge_in_after_ms is not None for step in scenario.steps] + [False]
                await side.wait_for_bot_reply(since=0.0, until_start=barges[0])  # the greeting
                for index, (step, speech) in enumerate(zip(scenario.steps, audio, strict=True)):
                    if side.closed.is_set():
                        break
                    await self._perform(side, step, speech, turns, next_barges_in=barges[index + 1])
                with contextlib.suppress(TimeoutError):  # a bot saying goodbye hangs up itself
                    await asyncio.wait_for(side.closed.wait(), HANG_UP_WAIT_S)
                if side.closed.is_set():
                    outcome = "bot_hung_up"
                else:
                    await side.send({"event": "stop", "streamSid": stream_sid,
                                     "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid}})
            finally:
                side.close()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return CallResult(call_sid, turns, outcome)

    async def _perform(self, side: _TwilioSide, step: Step, speech: bytes, turns: list[TurnResult],
                       next_barges_in: bool) -> None:
        if step.pause_ms:
            await asyncio.sleep(step.pause_ms / 1000)
        if step.dtmf:
            pressed_at = time.monotonic()
            side.first_bot_frame_at = None
            for digit in step.dtmf:
                await side.send({"event": "dtmf", "streamSid": side.stream_sid,
                                 "dtmf": {"track": "inbound_track", "digit": digit}})
            if not speech:  # a key press is a turn: the bot answers it
                await side.wait_for_bot_reply(since=pressed_at, until_start=next_barges_in)
                return
        if not speech:
            return
        if step.barge_in_after_ms is not None and side.first_bot_frame_at is not None:
            # speak over the bot: this long after its reply began
            start_at = side.first_bot_frame_at + step.barge_in_after_ms / 1000
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        turn = TurnResult(caller_text=step.say or str(step.audio), sent_at=time.time())
        turns.append(turn)
        await side.speak(frames(speech))
        last_speech = side.last_speech_sent
        side.first_bot_frame_at = None
        side.turn = turn
        await side.wait_for_bot_reply(since=last_speech, until_start=next_barges_in)
        if side.first_bot_frame_at is not None:
            turn.latency_ms = (side.first_bot_frame_at - last_speech) * 1000
