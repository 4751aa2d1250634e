"""The prospect conversation, end to end: real calls over the WebSocket with synthesized speech.

Each scenario in ``scenarios/`` is a call script (`callbot call --script` reads the same files)
with an ``expect:`` block, checked against the records the server wrote: the lead, the
appointment, the call's outcome. A ``given:`` block (read here only) seeds the CRM and the
calendar first: a known caller's lead, meetings that already exist. The server's clock starts
on Tuesday 2026-12-01 at 10:00 in New York, so "tomorrow", "Friday at 10" and the slots
offered mean the same on every run. Scenarios run four at a time, like a busy line.
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from callbot.audio.speakable import to_speakable
from callbot.audio.tts.local import load_local_tts
from callbot.business.profile import load_profile
from callbot.integrations.calendar.local import LocalCalendarProvider
from callbot.integrations.crm.base import LeadFields
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.models import AppointmentRequest, LeadStatus
from callbot.managers.calendar import CalendarManager
from callbot.telephony.expectations import compare, fetch_actual
from callbot.telephony.simulated_caller import CallResult, Scenario, SimulatedCaller, Step
from tests.conftest import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))
CLOCK_START = datetime.fromisoformat("2026-12-01T10:00:00-05:00")  # a Tuesday, business hours
CALLS_AT_ONCE = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, callbot_server: RunningServer) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("scenarios")
    process, running = start_server(tmp, callbot_server.twilio, CALLBOT_CLOCK_START=CLOCK_START.isoformat(),
                                    CALLBOT_SILENCE_PROMPT_SECONDS="3")
    try:
        yield running
    finally:
        stop_server(process)


async def seed(server: RunningServer, phone: str, given: dict[str, Any]) -> None:
    """Write a scenario's ``given`` lead and meetings straight into the server's stores."""
    crm = LocalCRMProvider(f"sqlite:///{server.data_dir / 'crm.db'}")
    calendar = CalendarManager(load_profile(None), LocalCalendarProvider(
        f"sqlite:///{server.data_dir / 'calendar.db'}"), now=lambda: CLOCK_START)
    await crm.init_async()
    await calendar.provider.init_async()
    try:
        lead_id = None
        if lead := given.get("lead"):
            record = await crm.upsert_lead_async(
                LeadFields(**{k: v for k, v in lead.items() if k != "status"}), phone)
            lead_id = record.id
            if "status" in lead:
                await crm.update_status_async(record.id, LeadStatus(lead["status"]), "seeded by the scenario")
        for meeting in given.get("appointments") or []:
            result = await calendar.schedule_appointment_async(AppointmentRequest(
                start=datetime.fromisoformat(meeting["start"]), advisor_id=meeting["advisor"],
                prospect_phone=meeting.get("phone", phone), lead_id=None if "phone" in meeting else lead_id))
            assert result.success, f"seeding {meeting} failed: {result.reason}"
    finally:
        await crm.close_async()
        await calendar.provider.close_async()


@dataclass
class Outcome:
    scenario: Scenario
    call: CallResult
    record: dict[str, Any]
    problems: list[str]

    def transcript(self) -> str:
        return "\n".join(f"  {t['speaker']}: {t['text']}" for t in self.record.get("turns", []))


def run_calls(server: RunningServer, scenarios: list[Scenario]) -> list[CallResult]:
    voice = load_local_tts()
    caller = SimulatedCaller(server.ws_url, lambda text: voice.synthesize(to_speakable(text)).audio,
                             auth_token=server.auth_token)
    audio = [caller.prepare(s) for s in scenarios]

    async def run_all() -> list[CallResult]:
        return list(await asyncio.gather(*(caller.run(s, a) for s, a in zip(scenarios, audio, strict=True))))

    return asyncio.run(run_all())


@pytest.fixture(scope="module")
def outcomes(server: RunningServer) -> dict[str, Outcome]:
    """Every scenario, called in batches of four; what each produced and how it differs from ``expect``."""
    scenarios = {}
    for path in SCENARIOS:
        scenarios[path.stem] = Scenario.from_yaml(path)
        asyncio.run(seed(server, scenarios[path.stem].from_number, yaml.safe_load(path.read_text()).get("given") or {}))
    results: dict[str, Outcome] = {}
    names = list(scenarios)
    for start in range(0, len(names), CALLS_AT_ONCE):
        batch = names[start:start + CALLS_AT_ONCE]
        for name, call in zip(batch, run_calls(server, [scenarios[n] for n in batch]), strict=True):
            record = server.wait_for_call_end(call.call_sid)
            actual = fetch_actual(server.base_url, call.call_sid, scenarios[name].from_number, server.api_key)
            results[name] = Outcome(scenarios[name], call, record, compare(scenarios[name].expect, actual))
    right = sum(not o.problems for o in results.values())
    print(f"\nscenarios with the right records: {right}/{len(results)}")
    return results


def test_there_are_at_least_twelve_scenarios() -> None:
    assert len(SCENARIOS) >= 12


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_scenario_ends_with_the_right_records(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    assert not outcome.problems, "\n".join([*outcome.problems, "transcript:", outcome.transcript()])


def test_known_caller_is_greeted_by_name(outcomes: dict[str, Outcome]) -> None:
    greeting = outcomes["02_known_caller_moves_the_meeting"].record["turns"][0]["text"]
    assert greeting.startswith("Welcome back, Maria!")
    assert "Thursday at 2 PM" in greeting  # the meeting they have, in the business's time


def bot_lines(outcome: Outcome) -> list[str]:
    return [t["text"] for t in outcome.record["turns"] if t["speaker"] == "bot"]


def test_slots_offered_are_read_back_before_booking(outcomes: dict[str, Outcome]) -> None:
    bot = bot_lines(outcomes["01_new_prospect_books_an_offered_slot"])
    offer = next(i for i, text in enumerate(bot) if "I can offer" in text)
    assert "tomorrow at 9 AM" in bot[offer]
    assert "tomorrow at 9 AM. Shall I book it?" in bot[offer + 1]  # the read-back, then the yes


def test_a_question_during_booking_is_answered_then_booking_resumes(outcomes: dict[str, Outcome]) -> None:
    bot = bot_lines(outcomes["06_question_in_the_middle_of_booking"])
    answer = next(text for text in bot if "online" in text.lower())
    assert "I can offer" in answer  # the slots again, after the answer


def test_the_transfer_dials_the_advisors(outcomes: dict[str, Outcome], server: RunningServer) -> None:
    call_sid = outcomes["09_transfer_to_a_person"].call.call_sid
    updates = [r for r in server.twilio.requests if call_sid in r.path]
    assert len(updates) == 1
    dial = ET.fromstring(updates[0].form["Twiml"][0]).find("Dial")
    assert dial is not None and dial.text == load_profile(None).transfer_number


# --- two callers, one slot ------------------------------------------------------------------------

RACE_START = "2026-12-03T16:00:00-05:00"  # Thursday 4 PM; James is busy then, only Maria is free


def test_two_callers_racing_for_one_slot_get_it_once(server: RunningServer) -> None:
    phones = ["+15550170101", "+15550170102"]
    for n, phone in enumerate(phones):
        lead = {"name": f"Racer {'AB'[n]}", "email": f"racer{n}@example.com", "interest": "AI for Managers",
                "status": "qualified"}
        asyncio.run(seed(server, phone, {"lead": lead}))
    asyncio.run(seed(server, "+15550179003", {"appointments": [{"start": RACE_START, "advisor": "james"}]}))
    lines = [Step(say="I'd like to book a meeting on Thursday at 4 PM."), Step(say="Yes."), Step(say="Yes.")]
    calls = run_calls(server, [Scenario(list(lines), from_number=phone) for phone in phones])

    booked: dict[str, list[dict[str, Any]]] = {}
    for phone, call in zip(phones, calls, strict=True):
        server.wait_for_call_end(call.call_sid)
        response = httpx.get(f"{server.base_url}/api/appointments", params={"phone": phone},
                             headers={"X-API-Key": server.api_key})
        booked[phone] = [a for a in response.json() if a["status"] == "scheduled"]
    at_four = [phone for phone, meetings in booked.items()
               if any(datetime.fromisoformat(a["start"]) == datetime.fromisoformat(RACE_START) for a in meetings)]
    assert len(at_four) == 1, booked
    loser = next(phone for phone in phones if phone not in at_four)
    record = server.get_call(calls[phones.index(loser)].call_sid)
    said = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "bot")
    assert re.search(r"just taken|already taken", said), said  # told, and offered another time
    assert all(datetime.fromisoformat(a["start"]) != datetime.fromisoformat(RACE_START) for a in booked[loser])


def test_the_call_record_holds_the_conversation_summary(outcomes: dict[str, Outcome]) -> None:
    summary = outcomes["01_new_prospect_books_an_offered_slot"].record["summary"]
    assert summary["outcome"] == "completed"
    assert summary["phases"][:4] == ["greeting", "lead_capture", "qualification", "scheduling"]
    assert summary["prospect_info"]["name"] == "John Smith"
    assert summary["qualification_score"] == 8
    assert datetime.fromisoformat(summary["appointment"]) == datetime.fromisoformat("2026-12-02T09:00:00-05:00")
    assert summary["turn_count"] >= 9  # one per line, or more where a pause split one
