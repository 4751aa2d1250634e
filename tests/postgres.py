"""Where the PostgreSQL variants of the tests find their server, and why they skip without one."""

from __future__ import annotations

import importlib.util
import os

POSTGRES_URL = os.environ.get("CALLBOT_TEST_POSTGRES_URL", "")


def _skip_reason() -> str:
    if not POSTGRES_URL:
        return "CALLBOT_TEST_POSTGRES_URL is not set (point it at a throwaway PostgreSQL database)"
    if importlib.util.find_spec("asyncpg") is None:
        return "asyncpg is not installed (pip install asyncpg) but CALLBOT_TEST_POSTGRES_URL is set"
    return ""


PG_SKIP_REASON = _skip_reason()  # empty: PostgreSQL is there
