"""X-Twilio-Signature checks against signatures computed exactly like Twilio computes them."""

from __future__ import annotations

import logging

import pytest
from twilio.request_validator import RequestValidator

from callbot.config import Settings
from callbot.telephony.signature import SignatureValidator, is_loopback_host, public_url

TOKEN = "12345678901234567890123456789012"
PARAMS = {
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+15551230000",
    "To": "+15559870000",
    "CallStatus": "ringing",
    "Direction": "inbound",
}


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "twilio_auth_token": TOKEN,
        "twilio_validate_signature": True,
        "public_host": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


# --- public_url -------------------------------------------------------------------------------


def test_public_url_uses_public_host_with_https_and_keeps_path_and_query() -> None:
    settings = make_settings(public_host="abc.ngrok.app")
    url = public_url("http://10.0.0.5:8000/twilio/voice?lang=en&x=1", {"host": "10.0.0.5:8000"}, settings)
    assert url == "https://abc.ngrok.app/twilio/voice?lang=en&x=1"


def test_public_url_tolerates_scheme_in_public_host() -> None:
    settings = make_settings(public_host="https://abc.ngrok.app/")
    assert public_url("http://x/twilio/voice", {}, settings) == "https://abc.ngrok.app/twilio/voice"


def test_public_url_websocket_with_public_host_is_wss() -> None:
    settings = make_settings(public_host="abc.ngrok.app")
    local = "ws://127.0.0.1:8000/twilio/media-stream?t=1"
    url = public_url(local, {"host": "127.0.0.1:8000"}, settings, websocket=True)
    assert url == "wss://abc.ngrok.app/twilio/media-stream?t=1"


def test_public_url_from_host_header_and_forwarded_proto() -> None:
    headers = {"Host": "abc.ngrok.app", "X-Forwarded-Proto": "https"}
    url = public_url("http://127.0.0.1:8000/twilio/voice", headers, make_settings())
    assert url == "https://abc.ngrok.app/twilio/voice"


def test_public_url_takes_first_forwarded_proto_of_a_chain() -> None:
    headers = {"host": "calls.example.com", "x-forwarded-proto": "https, http"}
    assert public_url("http://10.1.1.1/s", headers, make_settings()) == "https://calls.example.com/s"


def test_public_url_without_forwarded_proto_keeps_request_scheme() -> None:
    url = public_url("http://127.0.0.1:8000/twilio/voice", {"host": "127.0.0.1:8000"}, make_settings())
    assert url == "http://127.0.0.1:8000/twilio/voice"


def test_public_url_without_host_header_uses_request_netloc() -> None:
    assert (
        public_url("https://calls.example.com/v?a=b", {}, make_settings())
        == "https://calls.example.com/v?a=b"
    )


@pytest.mark.parametrize(
    ("request_url", "headers", "expected"),
    [
        # Plain traffic to a loopback host: local testing, ws:// is what the TwiML said.
        (
            "ws://127.0.0.1:8000/twilio/media-stream",
            {"host": "127.0.0.1:8000"},
            "ws://127.0.0.1:8000/twilio/media-stream",
        ),
        (
            "ws://localhost:8000/twilio/media-stream",
            {"host": "localhost:8000"},
            "ws://localhost:8000/twilio/media-stream",
        ),
        # A TLS-terminating proxy telling us the original scheme.
        (
            "ws://127.0.0.1:8000/twilio/media-stream",
            {"host": "abc.ngrok.app", "x-forwarded-proto": "https"},
            "wss://abc.ngrok.app/twilio/media-stream",
        ),
        # A public host is always wss: Twilio only streams to wss there.
        (
            "ws://10.0.0.5/twilio/media-stream?x=1",
            {"host": "calls.example.com"},
            "wss://calls.example.com/twilio/media-stream?x=1",
        ),
    ],
)
def test_public_url_websocket(request_url: str, headers: dict[str, str], expected: str) -> None:
    assert public_url(request_url, headers, make_settings(), websocket=True) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8000", True),
        ("localhost", True),
        ("[::1]:8000", True),
        ("127.0.0.2", True),
        ("abc.ngrok.app", False),
        ("10.0.0.1:80", False),
        ("localhost.evil.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# --- webhook (HTTP) signatures --------------------------------------------------------------

URL = "https://abc.ngrok.app/twilio/voice"


def test_valid_webhook_signature_passes() -> None:
    assert SignatureValidator(make_settings()).is_valid_http(URL, PARAMS, sign(URL, PARAMS))


def test_signature_with_wrong_token_fails() -> None:
    signature = sign(URL, PARAMS, token="another-token-another-token-abcd")
    assert not SignatureValidator(make_settings()).is_valid_http(URL, PARAMS, signature)


def test_altered_param_fails() -> None:
    signature = sign(URL, PARAMS)
    tampered = {**PARAMS, "From": "+15550000000"}
    assert not SignatureValidator(make_settings()).is_valid_http(URL, tampered, signature)


def test_extra_param_fails() -> None:
    signature = sign(URL, PARAMS)
    assert not SignatureValidator(make_settings()).is_valid_http(URL, {**PARAMS, "Extra": "1"}, signature)


def test_other_url_fails() -> None:
    signature = sign(URL, PARAMS)
    other = "https://abc.ngrok.app/twilio/status"
    assert not SignatureValidator(make_settings()).is_valid_http(other, PARAMS, signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_fails(signature: str | None) -> None:
    assert not SignatureValidator(make_settings()).is_valid_http(URL, PARAMS, signature)


def test_verify_request_behind_proxy_uses_forwarded_proto_and_host() -> None:
    validator = SignatureValidator(make_settings())
    signed_url = "https://abc.ngrok.app/twilio/voice?tenant=7"
    headers = {
        "host": "abc.ngrok.app",
        "x-forwarded-proto": "https",
        "x-twilio-signature": sign(signed_url, PARAMS),
    }
    # The server itself sees plain http on its local port.
    assert validator.verify_request("http://127.0.0.1:8000/twilio/voice?tenant=7", headers, PARAMS)
    # Without the proxy's header the rebuilt URL is http://..., which Twilio did not sign.
    del headers["x-forwarded-proto"]
    assert not validator.verify_request("http://127.0.0.1:8000/twilio/voice?tenant=7", headers, PARAMS)


def test_verify_request_with_public_host_ignores_local_host_header() -> None:
    validator = SignatureValidator(make_settings(public_host="abc.ngrok.app"))
    headers = {"Host": "127.0.0.1:8000", "X-Twilio-Signature": sign(URL, PARAMS)}
    assert validator.verify_request("http://127.0.0.1:8000/twilio/voice", headers, PARAMS)


def test_verify_request_reads_header_case_insensitively() -> None:
    validator = SignatureValidator(make_settings(public_host="abc.ngrok.app"))
    headers = {"X-TWILIO-SIGNATURE": sign(URL, PARAMS)}
    assert validator.verify_request("http://x/twilio/voice", headers, PARAMS)


# --- media-stream (WebSocket) signatures -----------------------------------------------------

WS_URL = "wss://abc.ngrok.app/twilio/media-stream"


def test_websocket_signature_over_wss_url_without_params() -> None:
    validator = SignatureValidator(make_settings())
    assert validator.is_valid_websocket(WS_URL, sign(WS_URL, {}))
    # Signed as https (not what the TwiML said) does not pass.
    assert not validator.is_valid_websocket(WS_URL, sign("https://abc.ngrok.app/twilio/media-stream", {}))
    assert not validator.is_valid_websocket(WS_URL, None)


def test_websocket_signature_covers_query_string() -> None:
    validator = SignatureValidator(make_settings())
    with_query = WS_URL + "?token=abc"
    assert validator.is_valid_websocket(with_query, sign(with_query, {}))
    assert not validator.is_valid_websocket(with_query, sign(WS_URL, {}))
    assert not validator.is_valid_websocket(WS_URL, sign(with_query, {}))


def test_verify_websocket_rebuilds_url_from_public_host() -> None:
    validator = SignatureValidator(make_settings(public_host="abc.ngrok.app"))
    headers = {"host": "127.0.0.1:8000", "x-twilio-signature": sign(WS_URL, {})}
    assert validator.verify_websocket("ws://127.0.0.1:8000/twilio/media-stream", headers)
    headers["x-twilio-signature"] = sign(WS_URL, {}, token="another-token-another-token-abcd")
    assert not validator.verify_websocket("ws://127.0.0.1:8000/twilio/media-stream", headers)


def test_verify_websocket_local_ws_url() -> None:
    validator = SignatureValidator(make_settings())
    local = "ws://127.0.0.1:8000/twilio/media-stream"
    headers = {"host": "127.0.0.1:8000", "x-twilio-signature": sign(local, {})}
    assert validator.verify_websocket(local, headers)


# --- configuration -----------------------------------------------------------------------------


def test_validation_off_accepts_everything_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="callbot.telephony.signature"):
        validator = SignatureValidator(make_settings(twilio_validate_signature=False, twilio_auth_token=""))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "OFF" in warnings[0].getMessage()
    assert "local" in warnings[0].getMessage()
    assert validator.is_valid_http(URL, PARAMS, None)
    assert validator.is_valid_http(URL, PARAMS, "garbage")
    assert validator.is_valid_websocket(WS_URL, None)


def test_validation_on_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="callbot.telephony.signature"):
        SignatureValidator(make_settings())
    assert caplog.records == []


def test_missing_token_rejects_everything_and_logs_error_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="callbot.telephony.signature"):
        validator = SignatureValidator(make_settings(twilio_auth_token=""))
        # Even a signature made with the same (empty) token must not pass.
        assert not validator.is_valid_http(URL, PARAMS, sign(URL, PARAMS, token=""))
        assert not validator.is_valid_http(URL, PARAMS, sign(URL, PARAMS))
        assert not validator.is_valid_websocket(WS_URL, sign(WS_URL, {}, token=""))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "CALLBOT_TWILIO_AUTH_TOKEN" in errors[0].getMessage()


def test_rejection_logs_carry_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    validator = SignatureValidator(make_settings())
    with caplog.at_level(logging.DEBUG):
        validator.is_valid_http(URL + "?From=%2B15551230000", PARAMS, "bad")
    assert caplog.records
    assert all("5551230000" not in r.getMessage() for r in caplog.records)
