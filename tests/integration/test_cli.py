"""The `callbot` command as a user runs it: help, pregenerate, and a simulated call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from callbot.audio.cache import PreGeneratedAudioCache
from callbot.business.profile import load_profile
from callbot.services import phrase_sentences
from tests.conftest import RunningServer, free_port


def callbot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callbot.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def test_help_lists_the_commands_and_call_options() -> None:
    top = callbot("--help")
    assert top.returncode == 0
    for command in ("serve", "call", "pregenerate", "bench"):
        assert command in top.stdout
    call = callbot("call", "--help")
    for option in ("--say", "--audio", "--script", "--url", "--from", "--json"):
        assert option in call.stdout


def test_pregenerate_fills_the_cache_once(tmp_path: Path) -> None:
    env = {"CALLBOT_DATA_DIR": str(tmp_path), "CALLBOT_INFERENCE_WORKERS": "1"}
    first = callbot("pregenerate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    cache = PreGeneratedAudioCache(tmp_path / "audio-cache")
    sentences = phrase_sentences(load_profile(None).company_name)
    assert any("Northwind Academy" in s for s in sentences)  # the greeting, with the company's name
    assert len(cache) == len(sentences)
    assert all(cache.contains(s, "piper:en_US-joe-medium:1") for s in sentences)
    second = callbot("pregenerate", env=env, cwd=tmp_path)
    assert second.returncode == 0 and "0 phrases synthesized" in second.stderr


def test_scripted_call_prints_one_json_object(callbot_server: RunningServer, tmp_path: Path) -> None:
    script = tmp_path / "call.yaml"
    script.write_text(
        'from: "+15550142222"\n'
        "lines:\n"
        "  - say: \"Hello, I'd like some information about your courses.\"\n"
        "  - pause: 300\n"
        "    dtmf: \"1\"\n"
        "  - say: \"Thank you, goodbye.\"\n"
    )
    env = {"CALLBOT_TWILIO_AUTH_TOKEN": callbot_server.auth_token, "CALLBOT_API_KEY": callbot_server.api_key}
    result = callbot("call", "--script", str(script), "--url", callbot_server.ws_url, "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "bot_ended"
    assert [t["caller_text"] for t in data["turns"]] == [
        "", "Hello, I'd like some information about your courses.", "Thank you, goodbye."]
    for turn in data["turns"]:
        assert set(turn) == {"caller_text", "heard_text", "bot_text", "latency_ms"}
    assert "thanks for calling" in data["turns"][0]["bot_text"].lower()
    assert "information" in data["turns"][1]["heard_text"].lower()
    assert data["turns"][1]["latency_ms"] > 0
    assert "goodbye" in data["turns"][2]["bot_text"].lower()
    record = callbot_server.get_call(data["call_sid"])
    assert record["caller"] == "+15550142222"


def test_call_to_a_server_that_is_not_running_fails_clearly() -> None:
    result = callbot("call", "--say", "hello", "--url", f"ws://127.0.0.1:{free_port()}/twilio/media-stream")
    assert result.returncode == 2
    assert "callbot serve" in result.stderr
