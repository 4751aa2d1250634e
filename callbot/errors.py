"""The managers' error hierarchy (seed API) and the decorator that maps failures onto it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

logger = logging.getLogger("callbot.errors")

P = ParamSpec("P")
R = TypeVar("R")


class ManagerError(Exception):
    """Base exception for manager errors."""


class AudioProcessingError(ManagerError):
    """Audio processing related errors."""


class ConversationError(ManagerError):
    """Conversation management errors."""


class ExternalServiceError(ManagerError):
    """External service integration errors."""


def handle_manager_errors(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """Turn any failure of an async manager method into a ``ManagerError``.

    A ``ManagerError`` passes through unchanged; anything else is wrapped, keeping the
    original as ``__cause__``. The log names the operation and the exception type only:
    exception messages may carry what a caller said, their number or e-mail.
    """

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except ManagerError:
            raise
        except Exception as exc:
            logger.error("%s failed: %s", func.__qualname__, type(exc).__name__)
            raise ManagerError(f"{func.__qualname__} failed ({type(exc).__name__})") from exc

    return wrapper
