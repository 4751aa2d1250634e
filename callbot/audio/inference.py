"""The bounded executor that runs STT and TTS for every call, in worker processes.

Measured: Whisper in a thread of the event loop's process delays 20 ms frame sends by up to
680 ms; in another process the worst frame is a few ms late. So engines live in worker
processes, are loaded once per worker, and are shared by all calls. Jobs beyond
``max_pending`` wait their turn here instead of piling up in the pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callbot.audio.stt.base import Transcription
from callbot.audio.tts.base import SynthesisResult
from callbot.audio.tts.espeak import ESPEAK_VOICE
from callbot.audio.tts.piper import piper_voice_name
from callbot.config import Settings

logger = logging.getLogger("callbot.inference")


@dataclass(frozen=True)
class EngineConfig:
    stt_model_path: Path | None = None
    stt_beam_size: int = 1
    threads: int = 2
    tts_engine: str = "piper"
    tts_voice_path: Path | None = None
    tts_length_scale: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(settings.stt_model_path, settings.stt_beam_size, settings.inference_threads,
                   settings.tts_engine, settings.tts_voice_path, settings.tts_length_scale)

    @property
    def voice(self) -> str:
        if self.tts_engine == "espeak":
            return ESPEAK_VOICE
        return piper_voice_name(self.tts_voice_path, self.tts_length_scale)


# --- inside a worker process -------------------------------------------------------------
_config: EngineConfig | None = None
_engines: dict[str, Any] = {}


def _init_worker(config: EngineConfig) -> None:
    global _config
    _config = config
    os.environ.setdefault("OMP_NUM_THREADS", str(config.threads))
    # Load eagerly so every worker is warm before the first call; a failure is logged here
    # and raised again, with its clear message, by the first job that needs the engine.
    for load in (_stt, _tts):
        try:
            load()
        except Exception as exc:
            logging.getLogger("callbot.inference").error("engine failed to load: %s", exc)


def _stt() -> Any:
    if "stt" not in _engines:
        from callbot.audio.stt.whisper import WhisperEngine

        assert _config is not None
        _engines["stt"] = WhisperEngine(_config.stt_model_path, _config.threads, _config.stt_beam_size)
    return _engines["stt"]


def _tts() -> Any:
    if "tts" not in _engines:
        from callbot.audio.tts.local import load_local_tts

        assert _config is not None
        _engines["tts"] = load_local_tts(_config.tts_engine, _config.tts_voice_path, _config.tts_length_scale)
    return _engines["tts"]


def _warm_up() -> str:
    _stt()
    return _tts().voice


def _transcribe(mulaw: bytes) -> Transcription:
    return _stt().transcribe(mulaw)


def _synthesize(text: str) -> SynthesisResult:
    return _tts().synthesize(text)


# --- in the event loop's process ------------------------------------------------------------
class InferencePool:
    """STT and TTS for all calls of this process."""

    def __init__(self, config: EngineConfig, workers: int = 2, max_pending: int | None = None) -> None:
        self.config = config
        self.workers = max(1, workers)
        # spawn: workers never inherit the event loop, sockets or locks of this process
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(config,),
        )
        self._slots = asyncio.Semaphore(max_pending or self.workers * 2)
        self._in_flight = 0
        self.voice = config.voice

    @property
    def has_idle_worker(self) -> bool:
        """Whether a job now would start at once: optional work (speculation) waits for this."""
        return self._in_flight < self.workers

    async def _run(self, func: Any, *args: Any) -> Any:
        async with self._slots:
            self._in_flight += 1
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, func, *args)
            finally:
                self._in_flight -= 1

    async def warm_up_async(self) -> None:
        """Load the engines in every worker, so the first call is as fast as the others."""
        voices = await asyncio.gather(*(self._run(_warm_up) for _ in range(self.workers)))
        self.voice = voices[0]  # espeak if Piper could not load

    async def transcribe_async(self, mulaw: bytes) -> Transcription:
        return await self._run(_transcribe, mulaw)

    async def synthesize_async(self, text: str) -> SynthesisResult:
        return await self._run(_synthesize, text)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
