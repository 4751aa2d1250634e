"""The Twilio webhooks router on a real FastAPI app, with requests signed like Twilio signs them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from callbot.config import Settings
from callbot.telephony.webhooks import MAX_BODY_BYTES, CallStatusSink, build_router

TOKEN = "12345678901234567890123456789012"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
VOICE_PARAMS = {
    "CallSid": CALL_SID,
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+15551230000",
    "To": "+15559870000",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}
STATUS_PARAMS = {**VOICE_PARAMS, "CallStatus": "completed", "CallDuration": "42"}


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    async def record_status(self, call_sid: str, status: str, params: Mapping[str, str]) -> None:
        self.calls.append((call_sid, status, dict(params)))


def make_app(sink: CallStatusSink, **settings: Any) -> FastAPI:
    values: dict[str, Any] = {"twilio_auth_token": TOKEN, "twilio_validate_signature": True}
    values.update(settings)
    values.setdefault("public_host", None)
    app = FastAPI()
    app.include_router(build_router(Settings(_env_file=None, **values), sink))
    return app


def signed_post(
    client: TestClient, url: str, params: dict[str, str], token: str = TOKEN, **headers: str
) -> Any:
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(url, data=params, headers={"X-Twilio-Signature": signature, **headers})


def parse_stream(xml: str) -> tuple[str, dict[str, str]]:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    stream = root.find("./Connect/Stream")
    assert stream is not None
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def client(sink: RecordingSink) -> TestClient:
    return TestClient(make_app(sink))


# --- /twilio/voice ----------------------------------------------------------------------------


def test_voice_webhook_answers_connect_stream_twiml(client: TestClient) -> None:
    response = signed_post(client, "http://testserver/twilio/voice", VOICE_PARAMS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    url, params = parse_stream(response.text)
    assert url == "wss://testserver/twilio/media-stream"
    assert params == {"caller": "+15551230000", "called": "+15559870000", "call_sid": CALL_SID}


def test_voice_webhook_uses_public_host(sink: RecordingSink) -> None:
    client = TestClient(make_app(sink, public_host="abc.ngrok.app"), base_url="http://127.0.0.1:8000")
    # Twilio signed the public https URL, not the local one.
    signature = RequestValidator(TOKEN).compute_signature("https://abc.ngrok.app/twilio/voice", VOICE_PARAMS)
    response = client.post("/twilio/voice", data=VOICE_PARAMS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    url, _ = parse_stream(response.text)
    assert url == "wss://abc.ngrok.app/twilio/media-stream"


def test_voice_webhook_behind_proxy_uses_forwarded_proto_and_host(sink: RecordingSink) -> None:
    client = TestClient(make_app(sink), base_url="http://127.0.0.1:8000")
    signature = RequestValidator(TOKEN).compute_signature("https://abc.ngrok.app/twilio/voice", VOICE_PARAMS)
    headers = {"X-Twilio-Signature": signature, "Host": "abc.ngrok.app", "X-Forwarded-Proto": "https"}
    response = client.post("/twilio/voice", data=VOICE_PARAMS, headers=headers)
    assert response.status_code == 200
    url, _ = parse_stream(response.text)
    assert url == "wss://abc.ngrok.app/twilio/media-stream"


def test_voice_webhook_on_loopback_over_http_uses_ws(sink: RecordingSink) -> None:
    client = TestClient(make_app(sink), base_url="http://127.0.0.1:8000")
    response = signed_post(client, "http://127.0.0.1:8000/twilio/voice", VOICE_PARAMS)
    assert response.status_code == 200
    url, _ = parse_stream(response.text)
    assert url == "ws://127.0.0.1:8000/twilio/media-stream"


def test_voice_webhook_rejects_invalid_signature(client: TestClient) -> None:
    response = signed_post(client, "http://testserver/twilio/voice", VOICE_PARAMS, token="x" * 32)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert "Connect" not in response.text


def test_voice_webhook_rejects_tampered_param(client: TestClient) -> None:
    url = "http://testserver/twilio/voice"
    signature = RequestValidator(TOKEN).compute_signature(url, VOICE_PARAMS)
    tampered = {**VOICE_PARAMS, "From": "+15550000000"}
    response = client.post(url, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_voice_webhook_rejects_missing_signature(client: TestClient) -> None:
    assert client.post("/twilio/voice", data=VOICE_PARAMS).status_code == 403


def test_voice_webhook_with_validation_off_needs_no_signature(sink: RecordingSink) -> None:
    client = TestClient(make_app(sink, twilio_validate_signature=False))
    response = client.post("/twilio/voice", data=VOICE_PARAMS)
    assert response.status_code == 200
    assert parse_stream(response.text)[1]["call_sid"] == CALL_SID


def test_voice_webhook_rejects_json_body(client: TestClient) -> None:
    assert client.post("/twilio/voice", json=VOICE_PARAMS).status_code == 415


# --- /twilio/status ---------------------------------------------------------------------------


def test_status_callback_is_recorded(client: TestClient, sink: RecordingSink) -> None:
    response = signed_post(client, "http://testserver/twilio/status", STATUS_PARAMS)
    assert response.status_code == 204
    assert response.content == b""
    assert sink.calls == [(CALL_SID, "completed", STATUS_PARAMS)]


def test_status_callback_with_invalid_signature_is_not_recorded(
    client: TestClient, sink: RecordingSink
) -> None:
    # Signed for the voice URL, posted to the status URL.
    signature = RequestValidator(TOKEN).compute_signature("http://testserver/twilio/voice", STATUS_PARAMS)
    response = client.post("/twilio/status", data=STATUS_PARAMS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert sink.calls == []


def test_status_callback_without_call_sid_is_400(client: TestClient, sink: RecordingSink) -> None:
    params = {k: v for k, v in STATUS_PARAMS.items() if k != "CallSid"}
    response = signed_post(client, "http://testserver/twilio/status", params)
    assert response.status_code == 400
    assert sink.calls == []


def test_status_callback_sink_failure_is_500() -> None:
    class FailingSink:
        async def record_status(self, call_sid: str, status: str, params: Mapping[str, str]) -> None:
            raise RuntimeError("database down")

    client = TestClient(make_app(FailingSink()), raise_server_exceptions=True)
    response = signed_post(client, "http://testserver/twilio/status", STATUS_PARAMS)
    assert response.status_code == 500


# --- body size ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status"])
def test_oversized_body_is_413(client: TestClient, sink: RecordingSink, path: str) -> None:
    params = {**STATUS_PARAMS, "Padding": "a" * (MAX_BODY_BYTES + 1)}
    response = signed_post(client, f"http://testserver{path}", params)
    assert response.status_code == 413
    assert sink.calls == []


def test_body_just_under_limit_is_accepted(client: TestClient, sink: RecordingSink) -> None:
    base = len(urlencode({**STATUS_PARAMS, "Padding": ""}))
    params = {**STATUS_PARAMS, "Padding": "a" * (MAX_BODY_BYTES - base)}
    assert len(urlencode(params)) == MAX_BODY_BYTES
    assert signed_post(client, "http://testserver/twilio/status", params).status_code == 204


CHUNK = b"a" * 8192
CHUNKS_ON_OFFER = 1024  # 8 MiB


async def post_raw(app: FastAPI, size_header: tuple[bytes, bytes]) -> tuple[int, int]:
    """POST an 8 MiB body straight through ASGI; return (status, body chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": CHUNK, "more_body": pulled < CHUNKS_ON_OFFER}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/twilio/status",
        "raw_path": b"/twilio/status",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            size_header,
            (b"x-twilio-signature", b"irrelevant"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], pulled


async def test_chunked_oversized_body_is_cut_off_without_reading_it_all(sink: RecordingSink) -> None:
    """Without Content-Length the router must stop pulling body chunks once past the limit."""
    status, pulled = await post_raw(make_app(sink), (b"transfer-encoding", b"chunked"))
    assert status == 413
    assert pulled * len(CHUNK) <= MAX_BODY_BYTES + len(CHUNK)
    assert sink.calls == []


async def test_declared_oversized_body_is_refused_before_reading(sink: RecordingSink) -> None:
    declared = str(len(CHUNK) * CHUNKS_ON_OFFER).encode()
    status, pulled = await post_raw(make_app(sink), (b"content-length", declared))
    assert status == 413
    assert pulled == 0
    assert sink.calls == []
