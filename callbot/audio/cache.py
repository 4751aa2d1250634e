"""On-disk cache of pre-generated audio for fixed phrases (greetings, hold lines) (seed API).

Entries are keyed by voice and whitespace-normalised text. Audio lives in ``<key>.ulaw``
files next to an ``index.json``; both are written atomically so a crash never leaves a
torn file behind. Lookups hit an in-memory dict first, so a miss costs no I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["MULAW_FORMAT", "CachedAudio", "PreGeneratedAudioCache", "cache_key"]

logger = logging.getLogger("callbot.audio.cache")

MULAW_FORMAT = "audio/x-mulaw;rate=8000"
_INDEX_NAME = "index.json"
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CachedAudio:
    """Audio ready to send to Twilio."""

    data: bytes  # 8 kHz mono G.711 mu-law bytes, ready for Twilio
    format: str  # "audio/x-mulaw;rate=8000"
    duration_ms: int


def _normalize(text: str) -> str:
    # Case is kept on purpose: it can change prosody.
    return " ".join(text.split())


def cache_key(text: str, voice: str) -> str:
    """The cache key: sha256 of voice and normalised text."""
    return hashlib.sha256(f"{voice}\n{_normalize(text)}".encode()).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, then rename over ``path``."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


class PreGeneratedAudioCache:
    """Audio for fixed phrases, stored on disk so the bot does not synthesise them again."""

    def __init__(self, cache_directory: str | Path) -> None:
        self._directory = Path(cache_directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        self._index_path = self._directory / _INDEX_NAME
        self._index: dict[str, dict[str, Any]] = self._load_index()
        # Serialises index writes so an older snapshot never replaces a newer one.
        self._write_lock = asyncio.Lock()

    def _load_index(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self._index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            logger.warning("audio cache index unreadable, starting empty (%s)", type(exc).__name__)
            return {}
        if not isinstance(raw, dict):
            logger.warning("audio cache index is not an object, starting empty")
            return {}
        index: dict[str, dict[str, Any]] = {}
        for key, entry in raw.items():
            if (
                isinstance(key, str)
                and _KEY_RE.match(key)
                and isinstance(entry, dict)
                and isinstance(entry.get("file"), str)
                and isinstance(entry.get("duration_ms"), int)
            ):
                index[key] = entry
        if len(index) != len(raw):
            logger.warning("audio cache index: skipped %d malformed entries", len(raw) - len(index))
        return index

    def _audio_path(self, entry: dict[str, Any]) -> Path:
        # Only the file name is trusted: an edited index must not point outside the folder.
        return self._directory / Path(entry["file"]).name

    async def get_audio_async(self, text: str, voice: str) -> CachedAudio | None:
        """The cached audio for ``text`` in ``voice``, or None on a miss."""
        key = cache_key(text, voice)
        entry = self._index.get(key)
        if entry is None:
            return None
        try:
            data = await asyncio.to_thread(self._audio_path(entry).read_bytes)
        except FileNotFoundError:
            logger.warning("audio cache file missing for key %s, dropping entry", key[:12])
            self._index.pop(key, None)
            return None
        except OSError as exc:
            logger.warning("audio cache read failed for key %s (%s)", key[:12], type(exc).__name__)
            return None
        return CachedAudio(data=data, format=MULAW_FORMAT, duration_ms=int(entry["duration_ms"]))

    async def cache_audio_async(self, text: str, audio_data: bytes, duration_ms: int, voice: str) -> None:
        """Store mu-law audio for ``text`` in ``voice``, replacing any earlier entry."""
        if not audio_data:
            raise ValueError("audio_data is empty")
        if duration_ms < 0:
            raise ValueError("duration_ms must not be negative")
        key = cache_key(text, voice)
        file_name = f"{key}.ulaw"
        entry = {
            "text": _normalize(text),
            "voice": voice,
            "file": file_name,
            "duration_ms": int(duration_ms),
            "created_at": datetime.now(UTC).isoformat(),
        }
        # The audio goes first: an index entry must never point at a file not yet written.
        await asyncio.to_thread(_atomic_write, self._directory / file_name, bytes(audio_data))
        async with self._write_lock:
            self._index[key] = entry
            payload = json.dumps(self._index, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
            await asyncio.to_thread(_atomic_write, self._index_path, payload)

    def contains(self, text: str, voice: str) -> bool:
        """Whether the index has ``text`` in ``voice`` (no disk access)."""
        return cache_key(text, voice) in self._index

    def __len__(self) -> int:
        return len(self._index)
