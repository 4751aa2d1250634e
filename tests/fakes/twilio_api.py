"""A local HTTP server that speaks Twilio's documented Calls API (update a call: hang up,
new TwiML), with Twilio's error format, for tests of everything that calls Twilio's REST API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.local_server import serve_in_thread

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
    accept_any_call: bool = False  # any CA… sid is a live call (for whole-server tests)

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
        known = call_sid in (CALL_SID, SLOW_CALL_SID) or (state.accept_any_call and call_sid.startswith("CA"))
        if not known:
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


@contextmanager
def run_fake_twilio(accept_any_call: bool = False) -> Iterator[FakeTwilio]:
    """Serve the fake Calls API on a free loopback port for the duration of the block."""
    state = FakeTwilio(accept_any_call=accept_any_call)
    with serve_in_thread(build_fake_twilio(state), "fake Twilio server") as port:
        state.base_url = f"http://127.0.0.1:{port}"
        yield state


