"""Shared fixtures: a real callbot server process, with a fake Twilio REST API beside it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from callbot.agents.phrases import phrase
from callbot.business.profile import load_profile
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, run_fake_twilio

API_KEY = "test-api-key"
# What the test server (the demo profile) says first on every call.
GREETING = phrase("greeting_company", company=load_profile(None).company_name)


@dataclass
class RunningServer:
    base_url: str  # http://127.0.0.1:port
    ws_url: str  # ws://127.0.0.1:port/twilio/media-stream
    data_dir: Path
    log_path: Path
    twilio: FakeTwilio
    auth_token: str = AUTH_TOKEN
    api_key: str = API_KEY

    def get_call(self, call_sid: str) -> dict:
        response = httpx.get(f"{self.base_url}/api/calls/{call_sid}", headers={"X-API-Key": self.api_key})
        response.raise_for_status()
        return response.json()

    def wait_for_call_end(self, call_sid: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = self.get_call(call_sid)
            if record.get("ended_at") or time.monotonic() > deadline:
                return record
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp: Path, twilio: FakeTwilio, **extra_env: str) -> tuple[subprocess.Popen[bytes], RunningServer]:
    port = free_port()
    env = {
        **os.environ,
        "CALLBOT_DATA_DIR": str(tmp / "data"),
        "CALLBOT_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CALLBOT_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CALLBOT_TWILIO_VALIDATE_SIGNATURE": "true",
        "CALLBOT_TWILIO_API_BASE_URL": twilio.base_url,
        "CALLBOT_API_KEY": API_KEY,
        "CALLBOT_LOG_LEVEL": "INFO",
        **extra_env,
    }
    log_path = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "callbot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/twilio/media-stream",
                           tmp / "data", log_path, twilio)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"callbot server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return process, server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"callbot server did not become healthy:\n{server.log()}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def callbot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server for the whole session (engines load once), signature checks on."""
    tmp = tmp_path_factory.mktemp("callbot-server")
    with run_fake_twilio(accept_any_call=True) as twilio:
        process, server = start_server(tmp, twilio)
        try:
            yield server
        finally:
            stop_server(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (CALLBOT_REQUIRE_SERVICES=1) every service is there: a skip is a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CALLBOT_REQUIRE_SERVICES") == "1" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every service must be present: {report.longrepr}"
