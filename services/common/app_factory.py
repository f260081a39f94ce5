"""Builds a service's FastAPI app around its runtime: lifespan, errors, health, middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from services.common.heap import settle_heap
from services.common.http import health_router, install_middleware
from services.common.logging import configure_logging
from services.common.openapi_docs import problem_media_types
from services.common.problems import install_problem_handlers
from services.common.runtime import ServiceRuntime
from services.common.settings import ServiceSettings


def build_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    metadata: MetaData,
    versions: Path,
    routers: list[APIRouter],
    register_handlers: Callable[[ServiceRuntime], None],
    max_body: int = 256 * 1024,
) -> FastAPI:
    """A FastAPI app whose lifespan runs the service's runtime."""
    configure_logging(name, settings.log_level)
    runtime = ServiceRuntime(name=name, settings=settings, metadata=metadata, versions=versions)
    register_handlers(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            settle_heap(settings.gc_young_threshold)
            yield

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.token_verifier = runtime.token_verifier
    install_problem_handlers(app)
    app.state.settings = settings
    install_middleware(
        app,
        service=name,
        max_body=max_body,
        body_timeout=settings.http_body_timeout_seconds,
        body_chunk_timeout=settings.http_body_chunk_timeout_seconds,
    )
    app.include_router(health_router(runtime.ready))
    for router in routers:
        app.include_router(router)
    problem_media_types(app)
    return app
