"""Twilio Media Streams messages: every event Twilio sends parses, every bad frame is a
ProtocolViolation with a countable kind (never another exception that would end the call),
and what we send has exactly Twilio's shape."""

from __future__ import annotations

import base64
import json

import pytest

from callbot.telephony.protocol import (
    MAX_MEDIA_BYTES,
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolViolation,
    Start,
    Stop,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)

STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
FRAME = bytes(range(96, 256))  # 160 bytes of μ-law


def twilio(event: str, body: dict | None = None, sequence: int = 1, **top: object) -> str:
    """A message as Twilio sends it: sequenceNumber is a string, streamSid at the top level."""
    message: dict[str, object] = {"event": event, "sequenceNumber": str(sequence), "streamSid": STREAM}
    if body is not None:
        message[event] = body
    message.update(top)
    return json.dumps(message)


def media(payload: object = None, **fields: object) -> str:
    body: dict[str, object] = {"track": "inbound", "chunk": "2", "timestamp": "5120", **fields}
    if payload is not None:
        body["payload"] = payload
    return twilio("media", body, sequence=3)


# --- what Twilio sends ----------------------------------------------------------------------
def test_connected() -> None:
    event = parse_message('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
    assert event == Connected("Call")


def test_start_with_custom_parameters_and_media_format() -> None:
    text = twilio("start", {
        "accountSid": ACCOUNT, "streamSid": STREAM, "callSid": CALL, "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"from": "+15551234567", "campaign": "spring"},
    })
    event = parse_message(text)
    assert event == Start(STREAM, CALL, ACCOUNT, {"from": "+15551234567", "campaign": "spring"},
                          {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1})


def test_start_takes_the_stream_sid_from_the_start_object_too() -> None:
    text = json.dumps({"event": "start", "sequenceNumber": "1",
                       "start": {"streamSid": STREAM, "callSid": CALL, "accountSid": ACCOUNT}})
    event = parse_message(text)
    assert isinstance(event, Start)
    assert (event.stream_sid, event.custom_parameters, event.media_format) == (STREAM, {}, {})


def test_media_decodes_payload_and_string_numbers() -> None:
    event = parse_message(media(base64.b64encode(FRAME).decode()))
    assert event == Media(FRAME, 5120, 2)


def test_media_as_bytes_frame() -> None:
    event = parse_message(media(base64.b64encode(FRAME).decode()).encode())
    assert isinstance(event, Media) and event.payload == FRAME


def test_media_of_exactly_the_maximum_size_is_accepted() -> None:
    audio = b"\x7f" * MAX_MEDIA_BYTES
    event = parse_message(media(base64.b64encode(audio).decode()))
    assert isinstance(event, Media) and event.payload == audio


def test_mark_dtmf_and_stop() -> None:
    assert parse_message(twilio("mark", {"name": "u3s1"}, sequence=4)) == Mark("u3s1")
    for digit in "0123456789*#":
        assert parse_message(twilio("dtmf", {"track": "inbound_track", "digit": digit})) == Dtmf(digit)
    stop = twilio("stop", {"accountSid": ACCOUNT, "callSid": CALL}, sequence=9)
    assert parse_message(stop) == Stop(CALL)
    assert parse_message('{"event": "stop", "sequenceNumber": "9"}') == Stop("")


# --- every way a frame can be wrong ----------------------------------------------------------
BAD_FRAMES = {
    "malformed json": ("{\"event\": \"media\", ", "malformed_json"),
    "empty frame": ("", "malformed_json"),
    "not utf-8": (b"\xff\xfe\x00garbage", "malformed_json"),
    "deeply nested json": ("[" * 50_000 + "]" * 50_000, "malformed_json"),
    "json array": ('[{"event": "media"}]', "malformed_json"),
    "json string": ('"media"', "malformed_json"),
    "json null": ("null", "malformed_json"),
    "unknown event": (twilio("hello", {}), "unknown_event"),
    "no event": ('{"sequenceNumber": "1"}', "unknown_event"),
    "bad base64": (media("not base64!!"), "bad_base64"),
    "base64 with wrong padding": (media("AAA"), "bad_base64"),
    "non-ascii payload": (media("ééé="), "bad_base64"),
    "media without payload": (media(), "malformed_message"),
    "payload not a string": (media(12345), "malformed_message"),
    "media without media object": (twilio("media"), "malformed_message"),
    "media object not an object": (twilio("media", None, media="AAAA"), "malformed_message"),
    "oversized media": (media(base64.b64encode(b"\x00" * (MAX_MEDIA_BYTES + 3)).decode()), "oversized_media"),
    "start without streamSid": (json.dumps({"event": "start", "start": {"callSid": CALL}}), "malformed_message"),
    "start with empty streamSid": (twilio("start", {"callSid": CALL}, streamSid=""), "malformed_message"),
    "start without start object": (twilio("start"), "malformed_message"),
    "start with bad customParameters": (twilio("start", {"customParameters": ["a"]}), "malformed_message"),
    "start with bad mediaFormat": (twilio("start", {"mediaFormat": "audio/x-mulaw"}), "malformed_message"),
    "start with list mediaFormat": (twilio("start", {"mediaFormat": [1, 2]}), "malformed_message"),
    "mark without name": (twilio("mark", {}), "malformed_message"),
    "mark name not a string": (twilio("mark", {"name": 5}), "malformed_message"),
    "dtmf with a letter": (twilio("dtmf", {"digit": "x"}), "malformed_message"),
    "dtmf with two digits": (twilio("dtmf", {"digit": "12"}), "malformed_message"),
    "dtmf without digit": (twilio("dtmf", {"track": "inbound_track"}), "malformed_message"),
    "dtmf digit an object": (twilio("dtmf", {"digit": {"k": 1}}), "malformed_message"),
}


@pytest.mark.parametrize(("frame", "kind"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frames_raise_protocol_violation_with_their_kind(frame: str | bytes, kind: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_message(frame)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(kind)


def test_violation_is_a_value_error_so_callers_can_catch_broadly() -> None:
    assert issubclass(ProtocolViolation, ValueError)


# --- what we send -----------------------------------------------------------------------------
def test_media_message_shape() -> None:
    payload = base64.b64encode(FRAME).decode()
    assert json.loads(media_message(STREAM, payload)) == {
        "event": "media", "streamSid": STREAM, "media": {"payload": payload}}


def test_mark_message_shape() -> None:
    assert json.loads(mark_message(STREAM, "u1s0")) == {
        "event": "mark", "streamSid": STREAM, "mark": {"name": "u1s0"}}


def test_clear_message_shape() -> None:
    assert json.loads(clear_message(STREAM)) == {"event": "clear", "streamSid": STREAM}


def test_our_mark_parses_back_as_twilio_would_echo_it() -> None:
    assert parse_message(mark_message(STREAM, "u9s2")) == Mark("u9s2")
    sent = json.loads(media_message(STREAM, base64.b64encode(FRAME).decode()))
    assert base64.b64decode(sent["media"]["payload"]) == FRAME
