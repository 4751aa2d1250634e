"""TwilioCallControl against a real local HTTP server speaking Twilio's Calls API format."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from callbot.config import Settings
from callbot.errors import ExternalServiceError
from callbot.telephony.call_control import TwilioAPIError, TwilioCallControl
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_SID,
    SLOW_CALL_SID,
    UNKNOWN_CALL_SID,
    FakeTwilio,
    run_fake_twilio,
)


@pytest.fixture(scope="module")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    with run_fake_twilio() as state:
        yield state


@pytest.fixture
def fake_twilio(fake_twilio_server: FakeTwilio) -> FakeTwilio:
    fake_twilio_server.reset()
    return fake_twilio_server


@pytest.fixture
async def control(fake_twilio: FakeTwilio) -> AsyncIterator[TwilioCallControl]:
    client = TwilioCallControl(ACCOUNT_SID, AUTH_TOKEN, base_url=fake_twilio.base_url, retry_backoff=0.01)
    yield client
    await client.aclose()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_hang_up_sends_documented_request(control: TwilioCallControl, fake_twilio: FakeTwilio) -> None:
    await control.hang_up(CALL_SID)
    assert len(fake_twilio.requests) == 1
    sent = fake_twilio.requests[0]
    assert sent.method == "POST"
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert sent.authorization == f"Basic {expected_auth}"
    assert sent.content_type.startswith("application/x-www-form-urlencoded")
    assert sent.form == {"Status": ["completed"]}


async def test_update_twiml_sends_twiml(control: TwilioCallControl, fake_twilio: FakeTwilio) -> None:
    twiml = "<Response><Dial>+15550001111</Dial></Response>"
    await control.update_twiml(CALL_SID, twiml)
    assert [r.form for r in fake_twilio.requests] == [{"Twiml": [twiml]}]


async def test_unknown_call_raises_with_twilio_error_fields(
    control: TwilioCallControl, fake_twilio: FakeTwilio
) -> None:
    with pytest.raises(ExternalServiceError) as info:
        await control.hang_up(UNKNOWN_CALL_SID)
    error = info.value
    assert isinstance(error, TwilioAPIError)
    assert error.code == 20404
    assert error.status == 404
    assert error.more_info == "https://www.twilio.com/docs/errors/20404"
    assert error.message is not None and "was not found" in error.message
    # 4xx answers are final: no retry.
    assert len(fake_twilio.requests) == 1


async def test_wrong_credentials_raise(fake_twilio: FakeTwilio) -> None:
    async with TwilioCallControl(ACCOUNT_SID, "wrong-token", base_url=fake_twilio.base_url) as control:
        with pytest.raises(TwilioAPIError) as info:
            await control.hang_up(CALL_SID)
    assert info.value.code == 20003
    assert info.value.status == 401


@pytest.mark.parametrize("status", [503, 429])
async def test_transient_failure_is_retried_once(
    control: TwilioCallControl, fake_twilio: FakeTwilio, status: int
) -> None:
    fake_twilio.fail_next(status)
    await control.hang_up(CALL_SID)
    assert len(fake_twilio.requests) == 2
    assert all(r.form == {"Status": ["completed"]} for r in fake_twilio.requests)


async def test_second_transient_failure_raises(control: TwilioCallControl, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(503, 503, 503)
    with pytest.raises(TwilioAPIError) as info:
        await control.hang_up(CALL_SID)
    assert info.value.status == 503
    assert info.value.code == 20500
    assert len(fake_twilio.requests) == 2


async def test_closed_port_raises_external_service_error() -> None:
    port = closed_port()
    async with TwilioCallControl(
        ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}", retry_backoff=0.01
    ) as control:
        with pytest.raises(ExternalServiceError) as info:
            await control.hang_up(CALL_SID)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_timeout_raises_external_service_error(fake_twilio: FakeTwilio) -> None:
    control = TwilioCallControl(ACCOUNT_SID, AUTH_TOKEN, base_url=fake_twilio.base_url, timeout=0.2)
    async with control:
        with pytest.raises(ExternalServiceError) as info:
            await control.hang_up(SLOW_CALL_SID)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    # The request may have reached Twilio: not repeated.
    assert len(fake_twilio.requests) == 1


async def test_unconfigured_client_raises_without_network() -> None:
    control = TwilioCallControl("", "", base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        assert not control.is_configured
        with pytest.raises(ExternalServiceError) as info:
            await control.hang_up(CALL_SID)
        assert info.value.__cause__ is None
    finally:
        await control.aclose()


async def test_from_settings(fake_twilio: FakeTwilio) -> None:
    settings = Settings(
        _env_file=None,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=fake_twilio.base_url + "/",
    )
    async with TwilioCallControl.from_settings(settings) as control:
        assert control.is_configured
        await control.hang_up(CALL_SID)
    expected_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json"
    assert [r.path for r in fake_twilio.requests] == [expected_path]
