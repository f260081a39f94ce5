"""Builds the web process: server-rendered pages over routing's and audit's HTTP APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.common.http import health_router, install_middleware
from services.common.keys import load_or_create_signing_key
from services.common.logging import configure_logging
from services.partnership import load_partnership
from services.web.context import HERE, WebContext, make_templates, web
from services.web.pages import router
from services.web.session import COOKIE, Forbidden, SignInRequired, token_verifier
from services.web.settings import WebSettings
from services.web.upstream import Upstream, UpstreamError

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
    """The web app; it holds no data and calls routing and audit as the signed-in person."""
    settings = settings or WebSettings()
    configure_logging("web", settings.log_level)
    signing_key = (
        load_or_create_signing_key(settings.jwt_signing_key_path)
        if settings.jwt_signing_key_path
        else None
    )
    context = WebContext(
        settings=settings,
        partnership=load_partnership(settings.partnership_path),
        verifier=token_verifier(settings),
        signing_key=signing_key,
        templates=make_templates(),
        upstream=Upstream(settings.routing_url, settings.audit_url),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, error: SignInRequired) -> Response:
        if context.signing_key is not None:
            response: Response = RedirectResponse("/login", status_code=303)
        else:
            response = error_page(request, 401, "Sign in through your organisation first.")
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden) -> Response:
        return error_page(request, 403, "The form came from elsewhere or has expired.")

    @app.exception_handler(UpstreamError)
    async def _upstream(request: Request, error: UpstreamError) -> Response:
        if error.status == 401:
            return await _sign_in(request, SignInRequired())
        messages = {
            403: "Your role may not see this page.",
            404: "There is no such notification for your agency.",
        }
        status = error.status if error.status in (403, 404, 422) else 502
        return error_page(request, status, messages.get(error.status, error.detail))

    async def upstreams_ready() -> dict[str, bool]:
        async def answers(url: str) -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{url}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        return {
            "routing": await answers(settings.routing_url),
            "audit": await answers(settings.audit_url),
        }

    app.include_router(health_router(upstreams_ready))

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


def error_page(request: Request, status: int, message: str) -> Response:
    """A page explaining what went wrong."""
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 422: "Check the request"}
    return web(request).templates.TemplateResponse(
        request,
        "error.html",
        {"title": titles.get(status, "Something went wrong"), "message": message, "session": None},
        status_code=status,
    )


def main() -> None:
    """Serve the pages (python -m services.web.app)."""
    settings = WebSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
