"""What every page handler shares: its dependencies, the role check, and rendering a page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from services.common.auth import Role
from services.web.context import WebContext, web
from services.web.session import Session, current_session
from services.web.upstream import UpstreamError

WebDep = Annotated[WebContext, Depends(web)]
SessionDep = Annotated[Session, Depends(current_session)]
READERS = (Role.CASEWORKER, Role.AGENCY_SYSTEM)


def page(
    request: Request, name: str, session: Session | None, status_code: int = 200, **values: Any
) -> Response:
    """A rendered page with the signed-in session in its context."""
    context = web(request)
    return context.templates.TemplateResponse(
        request,
        name,
        {"session": session, "agency_name": context.agency_name, **values},
        status_code=status_code,
    )


def need(session: Session, *roles: Role) -> None:
    """Refuse a person whose role may not see the page (403, as the services would)."""
    if session.caller.role not in roles:
        raise UpstreamError(403, "role")


def correlation(request: Request) -> str | None:
    """The request's correlation id, passed on so the services' logs join up."""
    value: str | None = getattr(request.state, "correlation_id", None)
    return value
