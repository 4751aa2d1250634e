"""FastAPI app factory: wires the routers; the lifespan builds the shared engines once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from callbot import __version__
from callbot.config import Settings, get_settings
from callbot.services import CallServices
from callbot.telephony import media_stream, webhooks
from callbot.telephony.signature import SignatureValidator
from callbot.web import api, health

logger = logging.getLogger("callbot.app")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = CallServices.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await services.start_async()
            logger.info("callbot %s ready (voice %s)", __version__, services.pool.voice)
            yield
        finally:
            await services.close_async()

    app = FastAPI(title="callbot", version=__version__, lifespan=lifespan)
    app.state.services = services
    validator = SignatureValidator(settings)
    app.include_router(webhooks.build_router(settings, services.records, validator=validator))
    app.include_router(media_stream.build_router(services, validator))
    app.include_router(health.build_router(services.perf, lambda: services.ready))
    app.include_router(api.build_router(services))
    return app
