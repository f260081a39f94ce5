"""Signing in and out: the start page, the development sign-in, and sign-out."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from services.common.auth import Role, mint_token
from services.web.page_kit import SessionDep, WebDep, page
from services.web.session import (
    COOKIE,
    SignInRequired,
    check_form,
    check_origin,
    current_session,
    form_fields,
    local_path,
)
from services.web.upstream import UpstreamError

router = APIRouter(include_in_schema=False)
LIFETIME = timedelta(hours=8)


@router.get("/")
async def home(request: Request) -> Response:
    """Inbox for caseworkers, audit search for auditors, sign-in for anyone else."""
    try:
        session = current_session(request)
    except SignInRequired:
        return RedirectResponse("/login", status_code=303)
    target = (
        "/audit" if session.caller.role in (Role.AUDITOR, Role.PARTNERSHIP_AUDITOR) else "/inbox"
    )
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_form(request: Request, context: WebDep) -> Response:
    """Development sign-in: choose an agency, a role and a name."""
    if context.signing_key is None:
        raise UpstreamError(404, "Development sign-in is off; sign in through your organisation.")
    values = {"next": local_path(request.query_params.get("next"))}
    return page(request, "login.html", None, agencies=context.partnership.agencies, roles=Role,
                error=None, values=values,
                expired=request.query_params.get("expired") == "1")  # fmt: skip


@router.post("/login")
async def login(request: Request, context: WebDep) -> Response:
    """Mint a development token with the local signing key, then go back to the page asked for."""
    if context.signing_key is None:
        raise UpstreamError(404, "Development sign-in is off.")
    check_origin(request)
    fields = await form_fields(request)
    name = fields.get("name", "").strip()
    agency = fields.get("agency", "")
    role = fields.get("role", "")
    known = {a.id for a in context.partnership.agencies}
    if not name or len(name) > 100 or agency not in known or role not in set(Role):
        return page(request, "login.html", None, status_code=422,
                    agencies=context.partnership.agencies, roles=Role, values=fields,
                    error="Enter your name and choose an agency and a role.")  # fmt: skip
    token = mint_token(context.signing_key, agency=agency, role=Role(role), subject=name,
                       issuer=context.settings.jwt_issuer, audience=context.settings.jwt_audience,
                       lifetime=LIFETIME)  # fmt: skip
    response = RedirectResponse(local_path(fields.get("next")) or "/", status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="strict",
                        secure=context.settings.cookie_secure)  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """Forget the session cookie."""
    check_form(request, session, await form_fields(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
