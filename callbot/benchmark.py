"""``callbot bench``: latency per stage over a real call, and what the call costs the server.

Starts ``callbot serve`` in its own process (so its CPU and memory are measured apart from
the simulated caller's), places one call of N caller turns, and reports the median and p95
of the caller-measured latency (last speech frame sent → first bot audio frame received)
and of each server stage, plus the server's CPU seconds and peak memory for that call.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from callbot.managers.performance import percentile_nearest_rank
from callbot.telephony.simulated_caller import Scenario, Step

# A prospect's call on the demo profile: a question, lead capture, qualification, a question in
# the middle of booking, a slot picked and booked.
LINES = [
    "Hi, I'm calling about your online courses.",
    "What kind of programs do you offer?",
    "I'm mostly interested in the data analytics bootcamp.",
    "My name is Peter Parker.",
    "peter dot parker at gmail dot com",
    "Yes, that's right.",
    "Within a month.",
    "My employer would pay.",
    "Yes, I can.",
    "Is there a certificate at the end?",
    "The second one, please.",
    "Yes, please book it.",
]


def _process_tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            pids.append(child)
            frontier.append(child)
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def _peak_rss_mb(pids: list[int]) -> dict[int, float]:
    peaks = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 1), "p95": round(percentile_nearest_rank(ordered, 95), 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1)}


def run_benchmark(turns: int, port: int, calls: int = 1) -> dict[str, Any]:
    from callbot.telephony.simulated_call import place_calls

    workdir = Path(tempfile.mkdtemp(prefix="callbot-bench-"))
    env = {**os.environ, "CALLBOT_DATA_DIR": str(workdir / "data"), "CALLBOT_TWILIO_VALIDATE_SIGNATURE": "false",
           "CALLBOT_API_KEY": "", "CALLBOT_LOG_LEVEL": "WARNING", "CALLBOT_TWILIO_AUTH_TOKEN": ""}
    server = subprocess.Popen([sys.executable, "-m", "callbot.cli", "serve", "--port", str(port)],
                              env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.3)
        pids = _process_tree(server.pid)
        cpu_before = _cpu_seconds(pids)
        lines = [LINES[i % (len(LINES) - 1)] for i in range(turns - 1)] + [LINES[-1]]
        # calls start their lines in a different order, so they don't talk in lockstep
        scenarios = [Scenario([Step(say=line) for line in lines[n % len(lines):] + lines[:n % len(lines)]])
                     for n in range(calls)]
        started = time.monotonic()
        reports = place_calls(f"ws://127.0.0.1:{port}/twilio/media-stream", scenarios)
        call_seconds = time.monotonic() - started
        pids = _process_tree(server.pid)
        cpu_used = _cpu_seconds(pids) - cpu_before
        peaks = _peak_rss_mb(pids)
        timings = [turn for report in reports
                   for turn in httpx.get(f"{base}/api/calls/{report['call_sid']}/timings", timeout=5).json()]
    finally:
        server.terminate()
        server.wait(timeout=30)
    answered = [t for report in reports for t in report["turns"] if t["caller_text"]]
    latencies = [t["latency_ms"] for t in answered if t["latency_ms"] is not None]
    stages: dict[str, list[float]] = {}
    for turn in timings:
        for stage, value in turn["stages_ms"].items():
            stages.setdefault(stage, []).append(value)
    return {
        "calls": calls,
        "caller_turns": len(answered),
        "unanswered_turns": len(answered) - len(latencies),
        "caller_measured_latency_ms": _percentiles(latencies),
        "server_stage_ms": {stage: _percentiles(values) for stage, values in stages.items()},
        "server_cpu_seconds_per_call": round(cpu_used / calls, 2),
        "call_seconds": round(call_seconds, 1),
        "server_peak_rss_mb": {"main": round(peaks.get(server.pid, 0.0), 1),
                               "workers": [round(v, 1) for pid, v in peaks.items() if pid != server.pid]},
        "transcripts": [report["turns"] for report in reports],
    }


async def _conversation_rounds(rounds: int) -> tuple[list[float], dict[str, list[float]]]:
    """Run LINES as text through the conversation ``rounds`` times; step times in ms, overall and by phase."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from callbot.agents.graph import AgentConfig, AgentGraph
    from callbot.agents.knowledge import shared_knowledge_base
    from callbot.agents.nlu import get_classifier
    from callbot.agents.state import CallerInfo
    from callbot.business.profile import load_profile
    from callbot.integrations.calendar.local import LocalCalendarProvider
    from callbot.integrations.crm.local import LocalCRMProvider
    from callbot.integrations.crm.outbox import CRMOutbox
    from callbot.managers.calendar import CalendarManager
    from callbot.managers.conversation import ConversationConfig, ConversationManager
    from callbot.managers.crm import CRMManager
    from callbot.managers.state import StateManager
    from callbot.storage.state import MemoryStorageBackend

    workdir = Path(tempfile.mkdtemp(prefix="callbot-bench-"))
    profile = load_profile(None)
    now = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo(profile.timezone))  # business hours, every run alike
    calendar = CalendarManager(profile, LocalCalendarProvider(f"sqlite:///{workdir / 'calendar.db'}"),
                               now=lambda: now)
    crm_url = f"sqlite:///{workdir / 'crm.db'}"
    crm_provider = LocalCRMProvider(crm_url)
    crm = CRMManager(crm_provider, CRMOutbox(crm_url, crm_provider))
    for store in (calendar.provider, crm_provider, crm.outbox):
        await store.init_async()
    assert crm.outbox is not None and profile.faq_dir is not None
    crm.outbox.start()
    get_classifier().warm_up()  # as the server does at start-up
    graph = AgentGraph(AgentConfig(company_name=profile.company_name, profile=profile, calendar=calendar, crm=crm,
                                   knowledge=shared_knowledge_base(profile.faq_dir), now=lambda: now))
    conversations = ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph, crm=crm)
    times: list[float] = []
    by_phase: dict[str, list[float]] = {}
    try:
        for n in range(rounds):
            call_id, phone = f"CA{n:06d}", f"+1555017{n:04d}"
            await conversations.start_conversation_async(call_id, CallerInfo(phone_number=phone))
            for line in LINES:
                started = time.perf_counter()
                response = await conversations.process_user_input_async(call_id, line)
                elapsed = (time.perf_counter() - started) * 1000
                times.append(elapsed)
                by_phase.setdefault(response.conversation_phase.value, []).append(elapsed)
            await conversations.end_conversation_async(call_id, "caller_hung_up")
    finally:
        await crm.outbox.close_async()
        await crm_provider.close_async()
        await calendar.provider.close_async()
    return times, by_phase


def run_conversation_benchmark(rounds: int) -> dict[str, Any]:
    """Latency of the conversation step alone (transcript in → reply text out), offline, no audio."""
    import asyncio

    times, by_phase = asyncio.run(_conversation_rounds(rounds))
    return {"calls": rounds, "turns": len(times), "step_ms": _percentiles(times),
            "step_ms_by_phase_reached": {phase: _percentiles(values) for phase, values in by_phase.items()}}
