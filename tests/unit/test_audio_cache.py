"""Tests for the on-disk pre-generated audio cache."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from callbot.audio.cache import CachedAudio, PreGeneratedAudioCache

VOICE = "en_US-joe-medium"
AUDIO = bytes(range(256)) * 4


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _delete_audio_files(folder: Path) -> None:
    for audio_file in folder.glob("*.ulaw"):
        audio_file.unlink()


async def test_miss_on_empty_cache(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    assert await cache.get_audio_async("Hello!", VOICE) is None
    assert not cache.contains("Hello!", VOICE)
    assert len(cache) == 0


async def test_creates_missing_directory(tmp_path: Path) -> None:
    folder = tmp_path / "nested" / "audio"
    PreGeneratedAudioCache(str(folder))
    assert folder.is_dir()


async def test_hit_after_store(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hello, thanks for calling!", AUDIO, 1280, VOICE)

    cached = await cache.get_audio_async("Hello, thanks for calling!", VOICE)

    assert cached == CachedAudio(data=AUDIO, format="audio/x-mulaw;rate=8000", duration_ms=1280)
    assert cache.contains("Hello, thanks for calling!", VOICE)
    assert len(cache) == 1


async def test_other_text_misses(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)
    assert await cache.get_audio_async("Goodbye!", VOICE) is None


async def test_keyed_by_voice(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)

    assert await cache.get_audio_async("Hello!", "en_US-amy-low") is None
    assert not cache.contains("Hello!", "en_US-amy-low")

    other = b"\x7f" * 100
    await cache.cache_audio_async("Hello!", other, 12, "en_US-amy-low")
    first = await cache.get_audio_async("Hello!", VOICE)
    second = await cache.get_audio_async("Hello!", "en_US-amy-low")
    assert first is not None and first.data == AUDIO
    assert second is not None and second.data == other
    assert len(cache) == 2


async def test_whitespace_is_normalised_but_case_is_kept(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("  Hello,\n  how can I\thelp?  ", AUDIO, 900, VOICE)

    hit = await cache.get_audio_async("Hello, how can I help?", VOICE)
    assert hit is not None and hit.data == AUDIO
    assert cache.contains("Hello,   how can I help?", VOICE)
    assert await cache.get_audio_async("hello, how can i help?", VOICE) is None


async def test_files_and_index_layout(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async(" Hello  there ", AUDIO, 700, VOICE)

    key = hashlib.sha256(f"{VOICE}\nHello there".encode()).hexdigest()
    assert (tmp_path / f"{key}.ulaw").read_bytes() == AUDIO
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert set(index) == {key}
    entry = index[key]
    assert entry["text"] == "Hello there"
    assert entry["voice"] == VOICE
    assert entry["file"] == f"{key}.ulaw"
    assert entry["duration_ms"] == 700
    assert isinstance(entry["created_at"], str) and entry["created_at"]
    # Atomic writes leave no temp files behind.
    assert _names(tmp_path) == sorted(["index.json", f"{key}.ulaw"])


async def test_persists_across_instances(tmp_path: Path) -> None:
    first = PreGeneratedAudioCache(tmp_path)
    await first.cache_audio_async("Please hold.", AUDIO, 640, VOICE)
    await first.cache_audio_async("Goodbye!", b"\xff" * 80, 10, VOICE)

    second = PreGeneratedAudioCache(tmp_path)

    assert len(second) == 2
    assert second.contains("Please hold.", VOICE)
    cached = await second.get_audio_async("Please hold.", VOICE)
    assert cached is not None
    assert cached.data == AUDIO
    assert cached.duration_ms == 640


async def test_overwrite_replaces_entry(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hi!", b"\x01" * 10, 1, VOICE)
    await cache.cache_audio_async("Hi!", b"\x02" * 20, 2, VOICE)

    cached = await PreGeneratedAudioCache(tmp_path).get_audio_async("Hi!", VOICE)
    assert cached is not None
    assert cached.data == b"\x02" * 20
    assert cached.duration_ms == 2
    assert len(cache) == 1


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", '"text"', "", "\udcff"])
async def test_corrupt_index_is_tolerated(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "index.json").write_bytes(content.encode("utf-8", "surrogateescape"))

    with caplog.at_level(logging.WARNING, logger="callbot.audio.cache"):
        cache = PreGeneratedAudioCache(tmp_path)

    assert len(cache) == 0
    assert await cache.get_audio_async("Hello!", VOICE) is None
    assert any(record.levelno == logging.WARNING for record in caplog.records)
    # The cache still works and rewrites a valid index.
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)
    assert len(PreGeneratedAudioCache(tmp_path)) == 1


async def test_malformed_entries_are_skipped(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    index["not-a-key"] = {"file": "x.ulaw", "duration_ms": 1}
    index["0" * 64] = "not a dict"
    (tmp_path / "index.json").write_text(json.dumps(index), encoding="utf-8")

    reloaded = PreGeneratedAudioCache(tmp_path)

    assert len(reloaded) == 1
    assert await reloaded.get_audio_async("Hello!", VOICE) is not None


async def test_vanished_audio_file_is_a_miss(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)
    _delete_audio_files(tmp_path)

    assert await cache.get_audio_async("Hello!", VOICE) is None
    assert not cache.contains("Hello!", VOICE)
    # A new instance reading the stale index also misses.
    assert await PreGeneratedAudioCache(tmp_path).get_audio_async("Hello!", VOICE) is None


async def test_index_cannot_point_outside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    secret = tmp_path / "secret.ulaw"
    secret.write_bytes(b"secret")
    cache = PreGeneratedAudioCache(folder)
    await cache.cache_audio_async("Hello!", AUDIO, 500, VOICE)
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    for entry in index.values():
        entry["file"] = "../secret.ulaw"
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")

    assert await PreGeneratedAudioCache(folder).get_audio_async("Hello!", VOICE) is None


async def test_rejects_empty_audio(tmp_path: Path) -> None:
    cache = PreGeneratedAudioCache(tmp_path)
    with pytest.raises(ValueError):
        await cache.cache_audio_async("Hello!", b"", 0, VOICE)
    assert len(cache) == 0
    assert not (tmp_path / "index.json").exists()
