"""handle_manager_errors: failures become ManagerError, keep their cause, log no personal data."""

from __future__ import annotations

import logging

import pytest

from callbot.errors import AudioProcessingError, ManagerError, handle_manager_errors


@handle_manager_errors
async def fails_with(exc: Exception) -> None:
    raise exc


@handle_manager_errors
async def succeeds() -> str:
    return "ok"


async def test_result_passes_through() -> None:
    assert await succeeds() == "ok"


async def test_any_failure_becomes_manager_error_with_its_cause(caplog: pytest.LogCaptureFixture) -> None:
    original = ValueError("caller said: my number is +1 555 123 4567")
    with caplog.at_level(logging.ERROR), pytest.raises(ManagerError) as info:
        await fails_with(original)
    assert info.value.__cause__ is original
    assert "ValueError" in caplog.text and "fails_with" in caplog.text
    assert "555" not in caplog.text and "555" not in str(info.value)  # no personal data


async def test_manager_errors_pass_unchanged() -> None:
    original = AudioProcessingError("model missing")
    with pytest.raises(AudioProcessingError) as info:
        await fails_with(original)
    assert info.value is original
