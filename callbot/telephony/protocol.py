"""Twilio Media Streams messages: parse what Twilio sends, build what we send.

Every way a message can be wrong raises ``ProtocolViolation`` with a short ``kind`` that is
logged and counted; the call goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


class ProtocolViolation(ValueError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Connected:
    protocol: str = ""


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    payload: bytes  # decoded μ-law
    timestamp_ms: int | None
    chunk: int | None


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Stop:
    call_sid: str = ""


TwilioEvent = Connected | Start | Media | Mark | Dtmf | Stop
MAX_MEDIA_BYTES = 16000  # two seconds of μ-law: far beyond Twilio's 20 ms frames
DTMF_DIGITS = set("0123456789*#ABCD")


def _section(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise ProtocolViolation("malformed_message", f"'{key}' object missing")
    return value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_message(text: str | bytes) -> TwilioEvent:
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: deeply nested arrays; uncaught it would end the call's receive loop.
        raise ProtocolViolation("malformed_json", "frame is not JSON") from exc
    if not isinstance(message, dict):
        raise ProtocolViolation("malformed_json", "frame is not a JSON object")
    event = message.get("event")
    if event == "media":
        media = _section(message, "media")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise ProtocolViolation("malformed_message", "media without payload")
        if len(payload) > MAX_MEDIA_BYTES * 4 // 3 + 4:
            raise ProtocolViolation("oversized_media", "media payload too large")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolViolation("bad_base64", "media payload is not base64") from exc
        return Media(audio, _int_or_none(media.get("timestamp")), _int_or_none(media.get("chunk")))
    if event == "start":
        start = _section(message, "start")
        stream_sid = message.get("streamSid") or start.get("streamSid")
        if not isinstance(stream_sid, str) or not stream_sid:
            raise ProtocolViolation("malformed_message", "start without streamSid")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise ProtocolViolation("malformed_message", "customParameters is not an object")
        media_format = start.get("mediaFormat") or {}
        if not isinstance(media_format, dict):
            raise ProtocolViolation("malformed_message", "mediaFormat is not an object")
        return Start(stream_sid, str(start.get("callSid") or ""), str(start.get("accountSid") or ""),
                     {str(k): str(v) for k, v in params.items()}, dict(media_format))
    if event == "mark":
        name = _section(message, "mark").get("name")
        if not isinstance(name, str):
            raise ProtocolViolation("malformed_message", "mark without name")
        return Mark(name)
    if event == "dtmf":
        digit = str(_section(message, "dtmf").get("digit", ""))
        if digit not in DTMF_DIGITS:
            raise ProtocolViolation("malformed_message", "dtmf digit is not a key")
        return Dtmf(digit)
    if event == "connected":
        return Connected(str(message.get("protocol", "")))
    if event == "stop":
        stop = message.get("stop")
        return Stop(str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    raise ProtocolViolation("unknown_event", f"event {str(event)[:32]!r}")


# --- what we send ----------------------------------------------------------------------------
def media_message(stream_sid: str, payload_b64: str) -> str:
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload_b64}})


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
