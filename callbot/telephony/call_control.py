"""Async adapter over Twilio's Calls REST API: hang up a live call or replace its TwiML.

Uses httpx directly (the ``twilio`` client is synchronous). Every failure surfaces as an
``ExternalServiceError``; transient ones (429, 5xx, connection refused) are retried once.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from callbot.config import Settings
from callbot.errors import ExternalServiceError

logger = logging.getLogger("callbot.telephony.call_control")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 2.0


class TwilioAPIError(ExternalServiceError):
    """A failed Calls API request, with Twilio's error fields when it answered with them.

    ``status`` is the HTTP status (None for network errors); ``code``, ``message`` and
    ``more_info`` come from Twilio's JSON error body when present.
    """

    def __init__(
        self,
        summary: str,
        *,
        status: int | None = None,
        code: int | None = None,
        message: str | None = None,
        more_info: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info


class TwilioCallControl:
    """Hang up or redirect calls through ``POST /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json``."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = "https://api.twilio.com",
        timeout: float = 5.0,
        *,
        retry_backoff: float = 0.25,
    ) -> None:
        self._account_sid = account_sid
        self._base_url = base_url.rstrip("/")
        self._retry_backoff = retry_backoff
        self._is_configured = bool(account_sid and auth_token)
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_sid, auth_token),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "callbot"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioCallControl:
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            base_url=settings.twilio_api_base_url,
        )

    @property
    def is_configured(self) -> bool:
        return self._is_configured

    async def hang_up(self, call_sid: str) -> None:
        """End a live call (``Status=completed``)."""
        await self._update_call(call_sid, {"Status": "completed"}, "hang-up")
        logger.info("Call %s hung up via the REST API", call_sid)

    async def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace the TwiML a live call is running (e.g. ``<Dial>`` for a transfer)."""
        await self._update_call(call_sid, {"Twiml": twiml}, "TwiML update")
        logger.info("Call %s TwiML replaced via the REST API", call_sid)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> TwilioCallControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _call_url(self, call_sid: str) -> str:
        # Quoted so an odd SID can never walk to another endpoint.
        account = quote(self._account_sid, safe="")
        return f"{self._base_url}/2010-04-01/Accounts/{account}/Calls/{quote(call_sid, safe='')}.json"

    async def _update_call(self, call_sid: str, form: dict[str, str], operation: str) -> None:
        if not self._is_configured:
            raise TwilioAPIError(
                f"Twilio {operation} for call {call_sid} impossible: "
                "CALLBOT_TWILIO_ACCOUNT_SID / CALLBOT_TWILIO_AUTH_TOKEN not set"
            )
        url = self._call_url(call_sid)
        attempts = 2
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await self._client.post(url, data=form)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached Twilio, so a second try cannot apply the change twice.
                if not last:
                    logger.warning(
                        "Twilio %s for call %s: %s, retrying", operation, call_sid, type(exc).__name__
                    )
                    await asyncio.sleep(self._retry_backoff)
                    continue
                raise self._network_error(operation, call_sid, exc) from exc
            except httpx.HTTPError as exc:
                raise self._network_error(operation, call_sid, exc) from exc

            if response.is_success:
                return
            if response.status_code in _RETRY_STATUSES and not last:
                logger.warning(
                    "Twilio %s for call %s: HTTP %d, retrying", operation, call_sid, response.status_code
                )
                await asyncio.sleep(self._retry_delay(response))
                continue
            raise self._api_error(operation, call_sid, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, response: httpx.Response) -> float:
        retry_after = response.headers.get("retry-after", "")
        try:
            return min(max(float(retry_after), 0.0), _MAX_RETRY_AFTER)
        except ValueError:
            return self._retry_backoff

    @staticmethod
    def _network_error(operation: str, call_sid: str, exc: httpx.HTTPError) -> TwilioAPIError:
        logger.error("Twilio %s for call %s failed: %s", operation, call_sid, type(exc).__name__)
        return TwilioAPIError(f"Twilio {operation} for call {call_sid} failed: {type(exc).__name__}")

    @staticmethod
    def _api_error(operation: str, call_sid: str, response: httpx.Response) -> TwilioAPIError:
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = None
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
        code = fields.get("code")
        code = code if isinstance(code, int) else None
        status = fields.get("status")
        status = status if isinstance(status, int) else response.status_code
        message = fields.get("message") if isinstance(fields.get("message"), str) else None
        more_info = fields.get("more_info") if isinstance(fields.get("more_info"), str) else None
        # Twilio's message text stays out of logs and the summary: some error texts quote numbers.
        logger.error(
            "Twilio %s for call %s failed: HTTP %d, code %s", operation, call_sid, response.status_code, code
        )
        summary = f"Twilio {operation} for call {call_sid} failed: HTTP {response.status_code}, code {code}"
        if more_info:
            summary += f" ({more_info})"
        return TwilioAPIError(summary, status=status, code=code, message=message, more_info=more_info)
