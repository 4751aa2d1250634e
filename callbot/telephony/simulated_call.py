"""Place simulated calls and report them as `callbot call --json` prints them.

The callers' voices are synthesized before the calls start and the bot's audio is
transcribed after they end, so neither disturbs the timing being measured. What the bot
heard comes from the server's own call record (``GET /api/calls/{CallSid}``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from callbot.audio.speakable import to_speakable
from callbot.audio.stt.whisper import WhisperEngine
from callbot.audio.tts.local import load_local_tts
from callbot.telephony.simulated_caller import CallResult, Scenario, SimulatedCaller


def api_base(ws_url: str) -> str:
    base = ws_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    return base.split("/twilio/", 1)[0]


def fetch_call_record(ws_url: str, call_sid: str, api_key: str) -> dict[str, Any] | None:
    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        response = httpx.get(f"{api_base(ws_url)}/api/calls/{call_sid}", headers=headers, timeout=5)
        return response.json() if response.status_code == 200 else None
    except httpx.HTTPError:
        return None


def _report(result: CallResult, record: dict[str, Any] | None, stt: WhisperEngine) -> dict[str, Any]:
    for turn in result.turns:
        if turn.bot_audio:
            turn.bot_text = stt.transcribe(bytes(turn.bot_audio)).text
    outcome = result.outcome
    if record:
        outcome = record.get("end_reason") or outcome
        caller_turns = [t for t in record.get("turns", []) if t["speaker"] == "caller"]
        starts = [t.sent_at for t in result.turns] + [float("inf")]
        for index, turn in enumerate(result.turns):
            if turn.caller_text:  # the server's caller turns that ended while this line was the last said
                turn.heard_text = " ".join(
                    t["text"] for t in caller_turns
                    if starts[index] <= datetime.fromisoformat(t["ended_at"]).timestamp() < starts[index + 1])
    data = result.as_dict()
    data["outcome"] = outcome
    return data


def place_calls(url: str, scenarios: list[Scenario], auth_token: str = "", api_key: str = "") -> list[dict[str, Any]]:
    """Run the scenarios as simultaneous calls; one report per call, in order."""
    voice = load_local_tts()
    caller = SimulatedCaller(url, lambda text: voice.synthesize(to_speakable(text)).audio,
                             auth_token=auth_token or None)
    audio = [caller.prepare(scenario) for scenario in scenarios]

    async def run_all() -> list[CallResult]:
        return list(await asyncio.gather(*(caller.run(s, a) for s, a in zip(scenarios, audio, strict=True))))

    results = asyncio.run(run_all())
    stt = WhisperEngine()
    return [_report(result, fetch_call_record(url, result.call_sid, api_key), stt) for result in results]
