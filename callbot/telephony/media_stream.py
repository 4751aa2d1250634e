"""``WS /twilio/media-stream``: the receive loop of one call.

It checks the upgrade's signature, then reads frames and hands parsed events to the call's
session. Bad input (oversized frames, malformed JSON, unknown events, bad base64) is logged
and counted and the call goes on; nothing a caller's line sends raises out of here.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from callbot.services import CallServices
from callbot.telephony.protocol import ProtocolViolation, Stop, parse_message
from callbot.telephony.session import CallSession
from callbot.telephony.signature import SignatureValidator

logger = logging.getLogger("callbot.media_stream")


def build_router(services: CallServices, validator: SignatureValidator) -> APIRouter:
    router = APIRouter()
    settings = services.settings

    @router.websocket("/twilio/media-stream")
    async def media_stream(websocket: WebSocket) -> None:
        if not validator.verify_websocket(str(websocket.url), websocket.headers):
            services.perf.count_event("invalid_signature")
            logger.warning("media stream rejected: invalid X-Twilio-Signature")
            await websocket.close(code=1008)  # before accept: the client gets HTTP 403
            return
        await websocket.accept()

        async def close_socket() -> None:
            if websocket.application_state == WebSocketState.CONNECTED:
                await websocket.close()

        session = CallSession(services, websocket.send_text, close_socket)
        reason = "caller_hung_up"
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text") if message.get("text") is not None else message.get("bytes")
                if data is None:
                    continue
                if len(data) > settings.max_frame_bytes:
                    services.perf.count_event("oversized_frame")
                    logger.warning("call %s: frame of %d bytes dropped (limit %d)", session.call_sid or "-",
                                   len(data), settings.max_frame_bytes)
                    continue
                try:
                    event = parse_message(data)
                except ProtocolViolation as violation:
                    services.perf.count_event(violation.kind)
                    logger.warning("call %s: %s", session.call_sid or "-", violation)
                    continue
                if isinstance(event, Stop):
                    break
                await session.handle_event(event)
        except WebSocketDisconnect:
            pass  # the caller's side went away
        except RuntimeError:
            if websocket.application_state == WebSocketState.CONNECTED:
                reason = "error"
                logger.error("call %s: receive loop failed", session.call_sid or "-", exc_info=True)
            # else: we closed the socket to hang up, and receive() says so
        except Exception as exc:
            reason = "error"
            logger.error("call %s: receive loop failed (%s)", session.call_sid or "-", type(exc).__name__,
                         exc_info=True)
        finally:
            await session.close_async(reason)
            if websocket.application_state == WebSocketState.CONNECTED:
                try:
                    await websocket.close()
                except Exception:  # already gone
                    pass

    return router
