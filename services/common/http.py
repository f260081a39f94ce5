"""HTTP plumbing every service shares: correlation ids, body limits, health and metrics."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from services.common.logging import bind_correlation_id
from services.common.problems import problem_response

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "route"])
MAX_BODY_BYTES = 256 * 1024

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def install_middleware(app: FastAPI, *, service: str, max_body: int = MAX_BODY_BYTES) -> None:
    """Correlation ids, the body size limit and request metrics on every request."""

    @app.middleware("http")
    async def _around(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        structlog.contextvars.clear_contextvars()
        correlation_id = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        bind_correlation_id(correlation_id[:100])
        request.state.correlation_id = correlation_id[:100]
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            response: Response = problem_response(
                413, f"The body must be at most {max_body} bytes.", request=request
            )
        else:
            route = request.scope.get("route")
            with LATENCY.labels(service, getattr(route, "path", "other")).time():
                response = await call_next(request)
        route = request.scope.get("route")
        REQUESTS.labels(
            service, request.method, getattr(route, "path", "other"), response.status_code
        ).inc()
        response.headers["X-Correlation-ID"] = correlation_id[:100]
        return response


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
