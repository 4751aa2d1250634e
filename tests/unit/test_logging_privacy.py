"""Logs never carry a caller's personal data, even at DEBUG: libraries that log SQL parameters stay quiet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbot.cli import _setup_logging
from callbot.integrations.crm.base import LeadFields
from callbot.integrations.crm.local import LocalCRMProvider


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def debug_logs() -> Iterator[Collect]:
    root = logging.getLogger()
    level, handler = root.level, Collect()
    root.setLevel(logging.DEBUG)  # what CALLBOT_LOG_LEVEL=DEBUG gives (pytest's handlers stop basicConfig)
    _setup_logging("DEBUG")
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_debug_logging_keeps_phone_numbers_and_emails_out(tmp_path: Path, debug_logs: Collect) -> None:
    async def write_a_lead() -> None:
        crm = LocalCRMProvider(f"sqlite:///{tmp_path / 'crm.db'}")
        await crm.init_async()
        await crm.upsert_lead_async(LeadFields(name="Jane Roe", email="jane.roe@example.com"), "+15550142777")
        await crm.close_async()

    asyncio.run(write_a_lead())
    logged = "\n".join(debug_logs.messages)
    assert "callbot.integrations.crm" in logged  # callbot's own DEBUG/INFO lines are there
    for secret in ("+15550142777", "jane.roe@example.com", "Jane Roe"):
        assert secret not in logged
