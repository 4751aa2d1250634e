"""TwilioCallControl against a real local HTTP server speaking Twilio's Calls API format."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callbot.config import Settings
from callbot.errors import ExternalServiceError
from callbot.telephony.call_control import TwilioAPIError, TwilioCallControl

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "12345678901234567890123456789012"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
UNKNOWN_CALL_SID = "CAffffffffffffffffffffffffffffffff"
SLOW_CALL_SID = "CA5105105105105105105105105105105a"


def twilio_error(code: int, message: str, status: int) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorization: str | None
    content_type: str
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """State of the fake Calls API: what it received and what it should fail with next."""

    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    base_url: str = ""

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def reset(self) -> None:
        self.requests.clear()
        self.failures.clear()


def build_fake_twilio(state: FakeTwilio) -> Starlette:
    async def update_call(request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        state.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                authorization=request.headers.get("authorization"),
                content_type=request.headers.get("content-type", ""),
                form=parse_qs(body, keep_blank_values=True),
            )
        )
        if state.failures:
            status = state.failures.pop(0)
            if status == 429:
                return twilio_error(20429, "Too Many Requests", 429)
            return twilio_error(20500, "An internal server error has occurred", status)

        expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        account_sid = request.path_params["account_sid"]
        if request.headers.get("authorization") != expected_auth or account_sid != ACCOUNT_SID:
            return twilio_error(20003, "Authenticate", 401)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return twilio_error(20001, "Expected a form-encoded body", 400)

        call_sid = request.path_params["call_sid"]
        if call_sid == SLOW_CALL_SID:
            await asyncio.sleep(1.0)
        if call_sid not in (CALL_SID, SLOW_CALL_SID):
            resource = f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json"
            return twilio_error(20404, f"The requested resource {resource} was not found", 404)
        form = parse_qs(body)
        if form.get("Status") == ["completed"]:
            status_value = "completed"
        elif form.get("Twiml"):
            status_value = "in-progress"
        else:
            return twilio_error(20001, "Missing required parameter", 400)
        return JSONResponse(
            {
                "sid": call_sid,
                "account_sid": account_sid,
                "status": status_value,
                "direction": "inbound",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json",
            }
        )

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json", update_call, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    state = FakeTwilio()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_fake_twilio(state), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake Twilio server did not start")
        time.sleep(0.01)
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
