"""A whole call: synthesized speech over a real socket to a real server, and back.

The caller hears the greeting; what it says is transcribed by the server closely enough
(word error rate ≤ 10 %); the bot's replies are real speech; the call ends cleanly.
"""

from __future__ import annotations

import asyncio
import re

import jiwer
import pytest

from callbot.audio.speakable import to_speakable
from callbot.audio.stt.whisper import WhisperEngine
from callbot.audio.tts.local import load_local_tts
from callbot.telephony.simulated_caller import CallResult, Scenario, SimulatedCaller, Step
from tests.conftest import RunningServer

pytestmark = pytest.mark.e2e

# Enough words that the rate means something: 8 kHz telephone audio loses what lies above
# 4 kHz, so Whisper sometimes drops a final "s" ("adults" → "adult"); over ~45 words that
# costs a few percent, not the whole budget.
CALLER_LINES = [
    "Hi, I am interested in your data science program for working adults.",
    "Can I study online in the evenings?",
    "My employer might pay for the course if it has a certificate.",
    "What would be the total price for the program?",
    "Great, thank you. Goodbye.",
]


CONTRACTIONS = {"i'm": "i am", "it's": "it is", "that's": "that is", "i'd": "i would", "can't": "cannot",
                "don't": "do not", "you're": "you are", "we're": "we are", "what's": "what is"}


def normalise(text: str) -> str:
    """Lower case, no punctuation, contractions spelled out (as WER scoring usually does)."""
    words = re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()
    return " ".join(CONTRACTIONS.get(word, word) for word in words)


@pytest.fixture(scope="module")
def finished_call(callbot_server: RunningServer) -> tuple[CallResult, dict]:
    voice = load_local_tts()
    caller = SimulatedCaller(callbot_server.ws_url, lambda text: voice.synthesize(to_speakable(text)).audio,
                             auth_token=callbot_server.auth_token)
    result = asyncio.run(caller.run(Scenario([Step(say=line) for line in CALLER_LINES])))
    return result, callbot_server.wait_for_call_end(result.call_sid)


def test_caller_hears_the_greeting(finished_call: tuple[CallResult, dict]) -> None:
    result, _record = finished_call
    greeting = WhisperEngine().transcribe(bytes(result.turns[0].bot_audio)).text
    assert "thanks for calling" in normalise(greeting)
    assert "help" in normalise(greeting)


def test_caller_speech_is_transcribed_with_low_word_error_rate(finished_call: tuple[CallResult, dict]) -> None:
    _result, record = finished_call
    heard = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    assert len(heard) == len(CALLER_LINES)
    error_rate = jiwer.wer([normalise(line) for line in CALLER_LINES], [normalise(h) for h in heard])
    assert error_rate <= 0.10, f"WER {error_rate:.2%}: {heard}"


def test_every_caller_line_gets_a_spoken_reply_and_the_bot_hangs_up(
    finished_call: tuple[CallResult, dict], callbot_server: RunningServer
) -> None:
    result, record = finished_call
    stt = WhisperEngine()
    for turn in result.turns[1:]:
        assert turn.latency_ms is not None and turn.latency_ms > 0
        assert len(turn.bot_audio) > 8000  # at least a second of speech
    assert "goodbye" in normalise(stt.transcribe(bytes(result.turns[-1].bot_audio)).text)
    assert result.outcome == "bot_hung_up"
    assert record["end_reason"] == "bot_ended"
    speakers = [t["speaker"] for t in record["turns"]]
    assert speakers == ["bot"] + ["caller", "bot"] * len(CALLER_LINES)
    hang_ups = [r for r in callbot_server.twilio.requests if result.call_sid in r.path]
    assert [r.form for r in hang_ups] == [{"Status": ["completed"]}]
