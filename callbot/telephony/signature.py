"""Twilio request signatures: rebuild the URL Twilio signed and check ``X-Twilio-Signature``.

Webhooks are signed over the full URL plus the sorted POST params; the media-stream WebSocket
upgrade is signed over the wss URL from the TwiML with no params. Behind ngrok or a TLS proxy
the URL our server sees differs from the one Twilio used, so it is rebuilt from
``settings.public_host`` or the ``Host`` / ``X-Forwarded-Proto`` headers.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from callbot.config import Settings

logger = logging.getLogger("callbot.telephony.signature")

SIGNATURE_HEADER = "X-Twilio-Signature"

_SECURE_SCHEMES = frozenset({"https", "wss"})
_KNOWN_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as Starlette's Headers."""
    value = headers.get(name) or headers.get(name.lower())
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def _forwarded_proto(headers: Mapping[str, str]) -> str | None:
    raw = _header(headers, "x-forwarded-proto")
    if not raw:
        return None
    # A chain of proxies appends; the first entry is what the client (Twilio) used.
    proto = raw.split(",")[0].strip().lower()
    return proto if proto in _KNOWN_SCHEMES else None


def configured_host(settings: Settings) -> str | None:
    """``settings.public_host`` as a bare host[:port], tolerating a pasted scheme or trailing slash."""
    raw = (settings.public_host or "").strip()
    if not raw:
        return None
    if "://" in raw:
        raw = urlsplit(raw).netloc
    return raw.strip("/") or None


def is_loopback_host(host: str) -> bool:
    """True for localhost / 127.x / ::1, with or without a port."""
    hostname = urlsplit(f"//{host}").hostname or ""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def public_url(
    request_url: str,
    headers: Mapping[str, str],
    settings: Settings,
    websocket: bool = False,
) -> str:
    """The URL Twilio signed for this request: public scheme and host, the request's path and query.

    With ``settings.public_host`` the scheme is https (wss for the WebSocket). Otherwise the host
    comes from the ``Host`` header and the scheme from ``X-Forwarded-Proto`` or the request itself.
    For the WebSocket this mirrors the stream URL the voice webhook hands out: ``ws://`` only for
    plain traffic to a loopback host, ``wss://`` otherwise (Twilio only dials wss to public hosts).
    """
    parts = urlsplit(request_url)
    host = configured_host(settings)
    if host is not None:
        scheme = "wss" if websocket else "https"
    else:
        host = _header(headers, "host") or parts.netloc
        secure = (_forwarded_proto(headers) or parts.scheme.lower()) in _SECURE_SCHEMES
        if websocket:
            scheme = "ws" if not secure and is_loopback_host(host) else "wss"
        else:
            scheme = "https" if secure else "http"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


class SignatureValidator:
    """Checks ``X-Twilio-Signature`` on webhooks and media-stream upgrades, per the settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._enabled = settings.twilio_validate_signature
        token = settings.twilio_auth_token
        self._validator = RequestValidator(token) if token else None
        if not self._enabled:
            logger.warning(
                "Twilio signature validation is OFF: anyone can post webhooks and open media streams. "
                "Only use CALLBOT_TWILIO_VALIDATE_SIGNATURE=false for local testing."
            )
        elif self._validator is None:
            logger.error(
                "CALLBOT_TWILIO_AUTH_TOKEN is missing while signature validation is on: "
                "every Twilio request will be rejected. Set the token (or disable validation locally)."
            )

    @property
    def enabled(self) -> bool:
        return self._enabled

    def is_valid_http(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """Check a webhook signed over ``url`` (the public URL) plus its POST ``params``.

        ``params`` may be a multi-dict (``getlist``): repeated keys are signed like Twilio does.
        """
        return self._check(url, params, signature)

    def is_valid_websocket(self, url: str, signature: str | None) -> bool:
        """Check a media-stream upgrade, signed over the wss URL (query included) with no params."""
        return self._check(url, {}, signature)

    def verify_request(self, request_url: str, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        """``is_valid_http`` for a request as the server saw it (URL rebuilt, header read)."""
        url = public_url(request_url, headers, self._settings)
        return self.is_valid_http(url, params, _header(headers, SIGNATURE_HEADER))

    def verify_websocket(self, request_url: str, headers: Mapping[str, str]) -> bool:
        """``is_valid_websocket`` for an upgrade as the server saw it (URL rebuilt, header read)."""
        url = public_url(request_url, headers, self._settings, websocket=True)
        return self.is_valid_websocket(url, _header(headers, SIGNATURE_HEADER))

    def _check(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not self._enabled:
            return True
        if self._validator is None:
            return False
        if not signature:
            logger.warning("Rejected Twilio request: no %s header", SIGNATURE_HEADER)
            return False
        if not self._validator.validate(url, params, signature):
            # The URL is not logged: a query string may carry caller data.
            logger.warning("Rejected Twilio request: %s does not match", SIGNATURE_HEADER)
            return False
        return True
