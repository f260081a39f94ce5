"""Errors as RFC 9457 problem details (application/problem+json), field by field."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger()

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    """One bad field: where it is and what to do about it."""

    field: str = Field(description="Path of the field, e.g. subject.nhs_number.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document; a service may add extension members (RFC 9457, 3.2)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an answer sent as a Problem."""
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


def problem_response(
    status: int,
    detail: str | None,
    *,
    request: Request | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; `extra` are the service's own extension members."""
    body = Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path if request else None,
        **extra,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM)


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """'subject.household[0].name' from pydantic's ('body', 'household', 0, 'name')."""
    parts: list[str] = []
    for part in location:
        if part == "body" and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error.get("type") == "extra_forbidden":
        return "is not a known field; remove it"
    return message


async def _validation_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "The body is not valid JSON.", request=request)
    return problem_response(
        422,
        f"{len(errors)} field(s) need correcting.",
        request=request,
        errors=[
            FieldError(field=field_path(e.get("loc", ())), message=_message(e)) for e in errors
        ],
    )


async def _http_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    response = problem_response(error.status_code, str(error.detail), request=request)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


# What a database that is restarting, unreachable or out of connections raises.
UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    OSError,
)


async def _unavailable_problem(request: Request, error: Exception) -> JSONResponse:
    # A client may retry this (an agency system resends the same reference): nothing was kept.
    log.warning("database.unavailable", error=type(error).__name__, path=request.url.path)
    response = problem_response(
        503, "The service cannot reach its database just now; retry shortly.", request=request
    )
    response.headers["Retry-After"] = "2"
    return response


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error answer application/problem+json."""
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable_problem)
