"""The media-stream protocol over a real WebSocket against a real server process.

Signatures on the upgrade and the webhook; bad input in live calls (each call goes on, the
matching counter rises, nothing crashes, and a clean call running at the same time is untouched).
"""

from __future__ import annotations

import asyncio
import base64
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from callbot.agents.phrases import phrase
from tests.conftest import RunningServer
from tests.fakes.twilio_api import AUTH_TOKEN
from tests.twilio_client import (
    SILENCE,
    TwilioStream,
    active_calls,
    event_count,
    load_voice,
    open_stream,
    sign_upgrade,
)

VOICE_PARAMS = {
    "CallSid": "CA7e57c0ffee7e57c0ffee7e57c0ffee7e",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+15550142001",
    "To": "+15550142999",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}
LINE = "What time do you open on Saturday?"
GOODBYE = "Okay, thanks. Goodbye."


@pytest.fixture(scope="module")
def voice() -> Callable[[str], bytes]:
    return load_voice()


# --- signatures ---------------------------------------------------------------------------------

WRONG_SIGNATURES: dict[str, Callable[[str], dict[str, str]]] = {
    "no header": lambda url: {},
    "empty header": lambda url: {"X-Twilio-Signature": ""},
    "signed with another auth token": lambda url: {"X-Twilio-Signature": sign_upgrade(url, "f" * 32)},
    "signed for another URL": lambda url: {"X-Twilio-Signature": sign_upgrade(url + "?stream=other")},
    "signed for wss instead of ws": lambda url: {
        "X-Twilio-Signature": sign_upgrade(url.replace("ws://", "wss://", 1))},
}


@pytest.mark.parametrize("headers", list(WRONG_SIGNATURES.values()), ids=list(WRONG_SIGNATURES))
async def test_upgrade_without_a_valid_signature_is_refused_with_403(
        callbot_server: RunningServer, headers: Callable[[str], dict[str, str]]) -> None:
    before = event_count(callbot_server.base_url, "invalid_signature")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(callbot_server.ws_url, additional_headers=headers(callbot_server.ws_url),
                           open_timeout=10):
            pass
    assert refused.value.response.status_code == 403
    assert event_count(callbot_server.base_url, "invalid_signature") == before + 1


async def test_upgrade_with_a_valid_signature_is_accepted_and_the_bot_speaks(
        callbot_server: RunningServer) -> None:
    async with open_stream(callbot_server.ws_url) as stream:
        greeting = await stream.wait_for_media(limit_s=10)
        assert greeting.message["streamSid"] == stream.stream_sid
        assert len(greeting.message["media"]["payload"]) > 0
        await stream.stop()
    record = callbot_server.wait_for_call_end(stream.call_sid)
    assert record["ended_at"] is not None


def test_unsigned_or_tampered_webhook_is_refused_with_403(callbot_server: RunningServer) -> None:
    url = f"{callbot_server.base_url}/twilio/voice"
    unsigned = httpx.post(url, data=VOICE_PARAMS)
    assert unsigned.status_code == 403
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, VOICE_PARAMS)
    tampered = httpx.post(url, data={**VOICE_PARAMS, "From": "+15550000000"},
                          headers={"X-Twilio-Signature": signature})
    assert tampered.status_code == 403
    assert "<Stream" not in unsigned.text + tampered.text


async def test_signed_webhook_returns_twiml_whose_stream_url_carries_the_call(
        callbot_server: RunningServer) -> None:
    url = f"{callbot_server.base_url}/twilio/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, VOICE_PARAMS)
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=VOICE_PARAMS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(("application/xml", "text/xml"))
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    stream_element = root.find("./Connect/Stream")
    assert stream_element is not None, response.text
    stream_url = stream_element.get("url", "")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream_element.findall("./Parameter")}
    assert stream_url == callbot_server.ws_url
    assert parameters.get("caller") == VOICE_PARAMS["From"]
    assert parameters.get("called") == VOICE_PARAMS["To"]

    # Twilio now opens the stream it was given, signed over that URL, with those parameters.
    async with open_stream(stream_url, start=False) as stream:
        stream.call_sid = VOICE_PARAMS["CallSid"]
        await stream.connected()
        await stream.start(custom_parameters=parameters)
        await stream.wait_for_media(limit_s=10)
        await stream.stop()
    record = callbot_server.wait_for_call_end(VOICE_PARAMS["CallSid"])
    assert record["caller"] == VOICE_PARAMS["From"]
    assert record["called"] == VOICE_PARAMS["To"]


# --- bad input in live calls --------------------------------------------------------------------

OVERSIZED = '{"event": "media", "media": {"payload": "' + "A" * 70_000 + '"}}'
BAD_FRAMES: dict[str, str] = {
    "malformed_json": '{"event": "media", "streamSid": "MZ',
    "unknown_event": '{"event": "teleport", "sequenceNumber": "7", "streamSid": "MZ0"}',
    "bad_base64": '{"event": "media", "sequenceNumber": "7", "media": {"track": "inbound", '
                  '"chunk": "7", "timestamp": "140", "payload": "%%%not*base64%%%"}}',
    "oversized_frame": OVERSIZED,
}
BAD_EVENTS = [*BAD_FRAMES, "media_before_start"]


@dataclass
class CallRun:
    stream: TwilioStream
    bad_sent_at: float = 0.0
    greeting_audio: bytes = b""
    reply_since: float = 0.0
    record: dict = field(default_factory=dict)


def audio_between(stream: TwilioStream, since: float, until: float) -> bytes:
    frames = stream.events("media", since, until)
    return b"".join(base64.b64decode(r.message["media"]["payload"]) for r in frames)


async def misbehaving_call(server: RunningServer, line: bytes, bad: str) -> CallRun:
    async with open_stream(server.ws_url, start=False) as stream:
        outcome = CallRun(stream)
        await stream.connected()
        if bad == "media_before_start":
            await stream.media(SILENCE)
            outcome.bad_sent_at = time.monotonic()
            await stream.start()
            await stream.wait_for_media(limit_s=10)
        else:
            await stream.start()
            await stream.wait_for_media(limit_s=10)  # the greeting is playing
            await stream.send_raw(BAD_FRAMES[bad])
            outcome.bad_sent_at = time.monotonic()
        await stream.wait_until_quiet(since=0.0)
        speaking_at = time.monotonic()
        outcome.greeting_audio = audio_between(stream, 0.0, speaking_at)
        await stream.say(line)
        assert stream.speech_ended_at is not None
        outcome.reply_since = stream.speech_ended_at
        await stream.wait_until_quiet(since=outcome.reply_since)
        await stream.stop()
        await stream.wait_closed(limit_s=10)
    outcome.record = await asyncio.to_thread(server.wait_for_call_end, stream.call_sid)
    return outcome


async def clean_call(server: RunningServer, line: bytes, goodbye: bytes) -> CallRun:
    async with open_stream(server.ws_url) as stream:
        outcome = CallRun(stream)
        await stream.wait_until_quiet(since=0.0)
        outcome.greeting_audio = audio_between(stream, 0.0, time.monotonic())
        await stream.say(line)
        assert stream.speech_ended_at is not None
        outcome.reply_since = stream.speech_ended_at
        await stream.wait_until_quiet(since=outcome.reply_since)
        await stream.say(goodbye)
        await stream.wait_closed(limit_s=20)  # the bot says goodbye and hangs up
    outcome.record = await asyncio.to_thread(server.wait_for_call_end, stream.call_sid)
    return outcome


@dataclass
class BadInputRun:
    calls: dict[str, CallRun]
    clean: CallRun
    counter_rise: dict[str, float]


@pytest.fixture(scope="module")
def bad_input_run(callbot_server: RunningServer, voice: Callable[[str], bytes]) -> BadInputRun:
    """Five calls that each send one kind of bad input, and one clean call, all at once."""
    line, goodbye = voice(LINE), voice(GOODBYE)
    before = {event: event_count(callbot_server.base_url, event) for event in BAD_EVENTS}

    async def run_all() -> tuple[list[CallRun], CallRun]:
        clean = asyncio.create_task(clean_call(callbot_server, line, goodbye))
        bad = await asyncio.gather(*(misbehaving_call(callbot_server, line, event) for event in BAD_EVENTS))
        return bad, await clean

    bad, clean = asyncio.run(run_all())
    rise = {event: event_count(callbot_server.base_url, event) - before[event] for event in BAD_EVENTS}
    return BadInputRun(dict(zip(BAD_EVENTS, bad, strict=True)), clean, rise)


@pytest.mark.parametrize("bad", BAD_EVENTS)
def test_bad_input_is_counted_once(bad_input_run: BadInputRun, bad: str) -> None:
    assert bad_input_run.counter_rise[bad] == 1


@pytest.mark.parametrize("bad", BAD_EVENTS)
def test_call_goes_on_after_bad_input(bad_input_run: BadInputRun, bad: str) -> None:
    outcome = bad_input_run.calls[bad]
    clean = bad_input_run.clean
    # The greeting kept coming after the bad frame, whole: the very audio the clean call got.
    assert outcome.stream.events("media", since=outcome.bad_sent_at)
    assert len(outcome.greeting_audio) > 8000  # over a second of speech
    assert outcome.greeting_audio == clean.greeting_audio
    # The caller's next line was understood and answered.
    assert outcome.stream.events("media", since=outcome.reply_since), "no reply to the caller's line"
    turns = outcome.record["turns"]
    assert [t["speaker"] for t in turns][:3] == ["bot", "caller", "bot"], turns
    # On a loaded machine the hang-up can come after the silence prompt: the only other turn allowed.
    assert all(t["speaker"] == "bot" and t["text"].startswith(phrase("still_there_short")) for t in turns[3:]), turns
    assert "saturday" in turns[1]["text"].lower()
    assert turns[2]["text"] and not turns[2]["interrupted"]
    assert outcome.record["end_reason"] == "caller_hung_up"


def test_a_clean_call_beside_misbehaving_ones_completes_normally(bad_input_run: BadInputRun) -> None:
    clean = bad_input_run.clean
    record = clean.record
    assert record["end_reason"] == "bot_ended"
    turns = record["turns"]
    assert [t["speaker"] for t in turns] == ["bot", "caller", "bot", "caller", "bot"], turns
    assert "saturday" in turns[1]["text"].lower()
    assert not any(t["interrupted"] for t in turns)
    assert clean.stream.closed_at is not None
    assert clean.stream.events("media", since=clean.reply_since)


def test_bad_input_leaves_no_traceback_and_no_call_behind(
        callbot_server: RunningServer, bad_input_run: BadInputRun) -> None:
    log = callbot_server.log()
    assert "Traceback" not in log
    assert active_calls(callbot_server.base_url) == 0
