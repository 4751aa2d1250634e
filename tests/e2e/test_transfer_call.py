"""A caller asks for a person during business hours: the bot says so, and once its words have
played, the call is handed to Twilio to dial the advisors' number (`<Dial>` over the REST API)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import callbot.business
from callbot.audio.speakable import to_speakable
from callbot.audio.tts.local import load_local_tts
from callbot.telephony.simulated_caller import Scenario, SimulatedCaller, Step
from tests.conftest import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def always_open_server(tmp_path_factory: pytest.TempPathFactory,
                       callbot_server: RunningServer) -> Iterator[RunningServer]:
    """A server whose business never closes, so the test does not depend on the hour it runs."""
    tmp = tmp_path_factory.mktemp("always-open")
    demo = Path(callbot.business.__file__).parent / "demo"
    profile = yaml.safe_load((demo / "profile.yaml").read_text())
    profile["business_hours"] = {day: ["00:00-23:59"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    profile["holidays"] = []
    profile["faq_dir"] = str(demo / "faq")
    (tmp / "profile.yaml").write_text(yaml.safe_dump(profile))
    process, server = start_server(tmp, callbot_server.twilio, CALLBOT_BUSINESS_PROFILE=str(tmp / "profile.yaml"))
    try:
        yield server
    finally:
        stop_server(process)


def test_asking_for_a_person_transfers_the_call(always_open_server: RunningServer) -> None:
    server = always_open_server
    voice = load_local_tts()
    caller = SimulatedCaller(server.ws_url, lambda text: voice.synthesize(to_speakable(text)).audio,
                             auth_token=server.auth_token)
    result = asyncio.run(caller.run(Scenario([Step(say="Can I talk to a real person, please?")])))
    record = server.wait_for_call_end(result.call_sid)
    assert record["end_reason"] == "transferred"
    updates = [r for r in server.twilio.requests if result.call_sid in r.path]
    assert len(updates) == 1
    dial = ET.fromstring(updates[0].form["Twiml"][0]).find("Dial")
    assert dial is not None and dial.text == "+15550100100"
    bot_turns = [t for t in record["turns"] if t["speaker"] == "bot"]
    assert "connecting you with an advisor" in bot_turns[-1]["text"]
