"""Twilio HTTP webhooks: the voice webhook (answers with a media-stream TwiML) and status callbacks.

Both check ``X-Twilio-Signature`` before acting on anything and refuse bodies over 64 KiB
without reading past that limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.datastructures import ImmutableMultiDict

from callbot.config import Settings
from callbot.telephony.signature import SignatureValidator, public_url
from callbot.telephony.twiml import connect_stream_twiml

logger = logging.getLogger("callbot.telephony.webhooks")

MEDIA_STREAM_PATH = "/twilio/media-stream"
MAX_BODY_BYTES = 64 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"


class CallStatusSink(Protocol):
    """Where status callbacks go (call records, metrics...)."""

    async def record_status(self, call_sid: str, status: str, params: Mapping[str, str]) -> None: ...


class _Rejected(Exception):
    """Ends a webhook early with a short plain-text answer."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(text)
        self.response = PlainTextResponse(text, status_code=status_code)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise _Rejected(400, "bad content-length") from None
        if declared_size > limit:
            raise _Rejected(413, "body too large")
    body = bytearray()
    # Chunked bodies have no declared size: stop pulling as soon as the limit is passed.
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Rejected(413, "body too large")
    return bytes(body)


def build_router(
    settings: Settings,
    status_sink: CallStatusSink,
    *,
    media_stream_path: str = MEDIA_STREAM_PATH,
    max_body_bytes: int = MAX_BODY_BYTES,
    validator: SignatureValidator | None = None,
) -> APIRouter:
    """Routes ``POST /twilio/voice`` and ``POST /twilio/status``."""
    validator = validator or SignatureValidator(settings)
    router = APIRouter()

    async def signed_form(request: Request) -> ImmutableMultiDict[str, str]:
        """The form of a signed Twilio request about a call, or a rejection."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != _FORM_TYPE:
            raise _Rejected(415, "expected a form-encoded body")
        body = await _read_body(request, max_body_bytes)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise _Rejected(400, "malformed form body") from None
        # A multi-dict keeps repeated keys, which Twilio's signature covers too.
        form: ImmutableMultiDict[str, str] = ImmutableMultiDict(pairs)
        if not validator.verify_request(str(request.url), request.headers, form):
            raise _Rejected(403, "invalid signature")
        if not form.get("CallSid"):
            raise _Rejected(400, "missing CallSid")
        return form

    def stream_url(request: Request) -> str:
        parts = urlsplit(str(request.url))
        # Same rebuild as the upgrade's signature check, so the URL we hand out is the one Twilio signs.
        local = urlunsplit((parts.scheme, parts.netloc, media_stream_path, "", ""))
        return public_url(local, request.headers, settings, websocket=True)

    @router.post("/twilio/voice")
    async def voice_webhook(request: Request) -> Response:
        try:
            form = await signed_form(request)
        except _Rejected as rejected:
            return rejected.response
        call_sid = form["CallSid"]
        parameters = {
            "caller": form.get("From", ""),
            "called": form.get("To", ""),
            "call_sid": call_sid,
        }
        logger.info("Incoming call %s: connecting media stream", call_sid)
        twiml = connect_stream_twiml(stream_url(request), parameters)
        return Response(content=twiml, media_type="application/xml")

    @router.post("/twilio/status", status_code=204)
    async def status_callback(request: Request) -> Response:
        try:
            form = await signed_form(request)
        except _Rejected as rejected:
            return rejected.response
        call_sid = form["CallSid"]
        call_status = form.get("CallStatus", "")
        logger.info("Call %s status: %s", call_sid, call_status)
        try:
            await status_sink.record_status(call_sid, call_status, dict(form))
        except Exception as exc:
            # Type only: the message may quote caller data.
            logger.error("Recording status of call %s failed: %s", call_sid, type(exc).__name__)
            return PlainTextResponse("status not recorded", status_code=500)
        return Response(status_code=204)

    return router
