"""Builds the web process: server-rendered pages over intake's, routing's and audit's APIs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from services.common.http import health_router, install_middleware
from services.common.keys import load_or_create_signing_key
from services.common.logging import configure_logging
from services.partnership.holder import PartnershipHolder
from services.partnership.reload import watch_partnership
from services.web.context import HERE, WebContext, make_templates
from services.web.errors import install_error_pages
from services.web.pages import router
from services.web.session import token_verifier
from services.web.settings import WebSettings
from services.web.upstream import Upstream

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def build_app(settings: WebSettings | None = None) -> FastAPI:
    """The web app; it holds no data and calls the services as the signed-in person."""
    settings = settings or WebSettings()
    configure_logging("web", settings.log_level)
    signing_key = (
        load_or_create_signing_key(settings.jwt_signing_key_path)
        if settings.jwt_signing_key_path
        else None
    )
    holder = PartnershipHolder(settings.partnership_path)
    context = WebContext(
        settings=settings,
        holder=holder,
        verifier=token_verifier(settings),
        signing_key=signing_key,
        templates=make_templates(holder),
        upstream=Upstream(
            intake_url=settings.intake_url,
            routing_url=settings.routing_url,
            audit_url=settings.audit_url,
            timeout=settings.upstream_timeout,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(watch_partnership(holder), name="web-partnership")
        yield
        watcher.cancel()
        await context.upstream.aclose()

    app = FastAPI(title="Safeguarding Exchange web", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)  # fmt: skip
    app.state.web = context
    install_middleware(app, service="web")

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    install_error_pages(app, context)

    async def upstreams_ready() -> dict[str, bool]:
        async def answers(url: str) -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{url}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        # Intake only serves "Concerns we raised": the inbox works without it.
        return {
            "routing": await answers(settings.routing_url),
            "audit": await answers(settings.audit_url),
        }

    app.include_router(health_router(upstreams_ready))

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


def main() -> None:
    """Serve the pages (python -m services.web.app)."""
    settings = WebSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
