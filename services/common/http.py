"""HTTP plumbing every service shares: correlation ids, body limits, health and metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.http_body import (
    BODY_CHUNK_TIMEOUT_SECONDS,
    BODY_TIMEOUT_SECONDS,
    MAX_BODY_BYTES,
    BodyRefused,
    GuardedBody,
)
from services.common.logging import bind_correlation_id
from services.common.problems import problem_response

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "route"])
BODIES_REFUSED = Counter(
    "http_bodies_refused_total", "Bodies refused as too large or slow", ["service", "status"]
)

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def install_middleware(
    app: FastAPI,
    *,
    service: str,
    max_body: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
    body_chunk_timeout: float = BODY_CHUNK_TIMEOUT_SECONDS,
) -> None:
    """Correlation ids, the body size and time limits and request metrics on every request."""
    app.add_middleware(
        RequestPlumbing,
        service=service,
        max_body=max_body,
        body_timeout=body_timeout,
        body_chunk_timeout=body_chunk_timeout,
    )


class RequestPlumbing:
    """Correlation id, body size and time limits, and metrics, as plain ASGI middleware.

    Plain ASGI rather than @app.middleware("http"): that form runs every request in a task
    group of its own, a cost paid on the hot path of every concern submitted.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body: int,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        body_chunk_timeout: float = BODY_CHUNK_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.body_chunk_timeout = body_chunk_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bind the correlation id, refuse bodies too large or slow, count and time the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        structlog.contextvars.clear_contextvars()
        correlation_id = (headers.get("x-correlation-id") or str(uuid.uuid4()))[:100]
        bind_correlation_id(correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500
        body = GuardedBody(
            receive,
            max_bytes=self.max_body,
            timeout=self.body_timeout,
            chunk_timeout=self.body_chunk_timeout,
        )
        answered_refusal = answer_started = False

        async def answering(message: Message) -> None:
            nonlocal status, answer_started
            if message["type"] == "http.response.start":
                status, answer_started = message["status"], True
                MutableHeaders(scope=message).append("X-Correlation-ID", correlation_id)
            await send(message)

        async def refusing(refusal: BodyRefused) -> None:
            nonlocal answered_refusal
            answered_refusal = True
            BODIES_REFUSED.labels(self.service, refusal.status).inc()
            response = problem_response(refusal.status, refusal.detail, request=Request(scope))
            # The rest of the body is never read: close rather than keep the connection.
            response.headers["Connection"] = "close"
            await response(scope, receive, answering)

        async def sending(message: Message) -> None:
            if answered_refusal:
                return  # the app's own answer after its body was refused
            if message["type"] == "http.response.start" and body.refusal is not None:
                # The app caught the refusal (FastAPI answers 400 for any body error): ours wins.
                await refusing(body.refusal)
                return
            await answering(message)

        started = time.perf_counter()
        try:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await refusing(BodyRefused(413, f"The body must be at most {self.max_body} bytes."))
            else:
                try:
                    await self.app(scope, body.receive, sending)
                except BodyRefused as refusal:
                    if not answer_started:
                        await refusing(refusal)
                    elif not answered_refusal:
                        raise  # the answer had begun: the server closes the connection
        finally:
            route = getattr(scope.get("route"), "path", "other")
            LATENCY.labels(self.service, route).observe(time.perf_counter() - started)
            REQUESTS.labels(self.service, scope["method"], route, status).inc()


def health_router(ready: ReadinessCheck) -> APIRouter:
    """/healthz (the process answers), /readyz (its Kafka and PostgreSQL do) and /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive.")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Ready when Kafka and PostgreSQL both answer.",
        responses={503: {"description": "Kafka or PostgreSQL is not reachable."}},
    )
    async def readyz() -> JSONResponse:
        """Ready only when every dependency answers."""
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
