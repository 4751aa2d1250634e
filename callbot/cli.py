"""The ``callbot`` command: serve, call (a simulated caller), pregenerate, bench."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from callbot.config import get_settings

app = typer.Typer(help="callbot: an AI phone agent that answers inbound sales calls.", no_args_is_help=True)
console = Console(stderr=True)

DEFAULT_URL = "ws://127.0.0.1:8000/twilio/media-stream"


# Libraries that log the values they handle — SQL parameters (phone numbers, e-mails), request
# headers (keys) — at the level given here or below: kept above it even when callbot logs at
# DEBUG, so the logs never carry a caller's personal data or a secret.
_CHATTY_LIBRARIES = {"aiosqlite": logging.INFO, "sqlalchemy.engine": logging.WARNING, "asyncpg": logging.INFO,
                     "httpcore": logging.INFO}


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, quiet_from in _CHATTY_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(quiet_from, logging.getLogger().level))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default CALLBOT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default CALLBOT_PORT).")] = None,
) -> None:
    """Start the server: Twilio webhook, media stream, /health, /metrics, /api."""
    import uvicorn

    from callbot.app import create_app

    settings = get_settings()
    _setup_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level.lower(), ws_max_size=max(settings.max_frame_bytes * 4, 2**20))


@app.command()
def pregenerate() -> None:
    """Synthesize every fixed phrase into the audio cache (done at start-up too)."""
    from callbot.audio.cache import PreGeneratedAudioCache
    from callbot.audio.inference import EngineConfig, InferencePool
    from callbot.business.profile import load_profile
    from callbot.services import phrase_sentences, pregenerate_phrases_async

    settings = get_settings()
    _setup_logging("WARNING")
    company = load_profile(settings.business_profile).company_name

    async def run() -> int:
        pool = InferencePool(EngineConfig.from_settings(settings), settings.inference_workers)
        try:
            await pool.warm_up_async()
            cache = PreGeneratedAudioCache(settings.resolved_audio_cache_dir)
            todo = sum(not cache.contains(s, pool.voice) for s in phrase_sentences(company))
            with Progress(console=console) as progress:
                task = progress.add_task(f"Synthesizing with {pool.voice}", total=todo)
                made = await pregenerate_phrases_async(pool, cache, lambda: progress.advance(task), company)
            console.print(f"{made} phrases synthesized; the cache holds {len(cache)} in "
                          f"{settings.resolved_audio_cache_dir}")
            return made
        finally:
            pool.close()

    asyncio.run(run())


@app.command()
def call(
    say: Annotated[list[str] | None, typer.Option("--say", help="A caller line, spoken by TTS (repeat).")] = None,
    audio: Annotated[list[Path] | None, typer.Option("--audio", help="A caller line from a WAV file.")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="YAML scenario: lines, pauses, DTMF, "
                                                "barge-in timing.")] = None,
    url: Annotated[str, typer.Option(help="Media stream URL of a running callbot.")] = DEFAULT_URL,
    from_number: Annotated[str | None, typer.Option("--from", help="Caller's number [default: +15550100001, "
                                                    "or the script's 'from']")] = None,
    to_number: Annotated[str | None, typer.Option("--to", help="Number called [default: +15550100999, "
                                                  "or the script's 'to']")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Play a caller over Twilio's media-stream protocol against a running server."""
    from callbot.telephony.simulated_call import place_calls
    from callbot.telephony.simulated_caller import Scenario, Step

    settings = get_settings()
    _setup_logging("WARNING")
    if script:
        scenario = Scenario.from_yaml(script)
    else:
        steps = [Step(say=text) for text in say or []] + [Step(audio=path) for path in audio or []]
        scenario = Scenario(steps)
    scenario.from_number = from_number or scenario.from_number
    scenario.to_number = to_number or scenario.to_number
    try:
        data = place_calls(url, [scenario], settings.twilio_auth_token, settings.api_key)[0]
    except OSError as exc:
        console.print(f"[red]Could not reach {url}: {exc}. Is `callbot serve` running?[/red]")
        raise typer.Exit(2) from exc
    problems = _check_expectations(url, scenario, data, settings.api_key) if scenario.expect else []
    if as_json:
        print(json.dumps({**data, "expectation_failures": problems} if scenario.expect else data))
    else:
        _print_call(data)
    if problems:
        console.print("[red]The call did not produce what the script expects:[/red]")
        for line in problems:
            console.print(f"[red]  - {line}[/red]")
        raise typer.Exit(1)


def _check_expectations(url: str, scenario: Any, data: dict[str, Any], api_key: str) -> list[str]:
    from callbot.telephony.expectations import compare, fetch_actual
    from callbot.telephony.simulated_call import api_base

    return compare(scenario.expect, fetch_actual(api_base(url), data["call_sid"], scenario.from_number, api_key))


def _print_call(data: dict[str, Any]) -> None:
    for turn in data["turns"]:
        if turn["caller_text"]:
            console.print(f"[cyan]caller[/cyan] {turn['caller_text']}")
            console.print(f"[dim]  bot heard: {turn['heard_text']}[/dim]")
        latency = f"{turn['latency_ms']:.0f} ms" if turn["latency_ms"] is not None else "-"
        console.print(f"[green]bot[/green]    {turn['bot_text']}  [dim]({latency})[/dim]")
    console.print(f"outcome: {data['outcome']}")


@app.command()
def bench(
    turns: Annotated[int, typer.Option(help="Caller turns in each benchmark call.")] = 10,
    calls: Annotated[int, typer.Option(help="Calls placed at the same time.")] = 1,
    port: Annotated[int, typer.Option(help="Port for the server the benchmark starts.")] = 8765,
    conversation: Annotated[bool, typer.Option(
        "--conversation", help="Time only the conversation step (transcript in, reply text out), offline, "
        "over --calls scripted calls; no server, no audio.")] = False,
) -> None:
    """Start a server, place calls of N turns, print latency per stage and the server's cost."""
    from callbot.benchmark import run_benchmark, run_conversation_benchmark

    _setup_logging("WARNING")
    result = run_conversation_benchmark(calls) if conversation else run_benchmark(turns, port, calls)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app()
