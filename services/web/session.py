"""Who is signed in: a bearer token from a reverse proxy's Authorization header or our cookie.

The cookie is HttpOnly and SameSite=Strict. POST forms are also protected against cross-site
request forgery by a hidden field derived from the token (HMAC, so it needs no server state)
and by refusing a foreign Origin header.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from services.common.auth import AuthError, Caller, TokenVerifier
from services.common.settings import ServiceSettings
from services.web.settings import WebSettings

COOKIE = "sx_session"


@dataclass(frozen=True)
class Session:
    """A verified token and what it names."""

    token: str
    caller: Caller

    @property
    def csrf(self) -> str:
        """The value this session's POST forms must carry."""
        return csrf_token(self.token)


class SignInRequired(Exception):
    """No valid token came with the request (`expired`: one came, but no longer holds)."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("expired" if expired else "no session")
        self.expired = expired


class Forbidden(Exception):
    """A POST failed its cross-site request forgery checks."""


def token_verifier(settings: WebSettings) -> TokenVerifier:
    """The services' own verifier, built from the web settings' JWT fields."""
    jwt_only = ServiceSettings.model_construct(
        jwt_public_key_path=settings.jwt_public_key_path,
        jwt_jwks_url=settings.jwt_jwks_url,
        jwt_issuer=settings.jwt_issuer,
        jwt_audience=settings.jwt_audience,
    )
    return TokenVerifier(jwt_only)


def csrf_token(token: str) -> str:
    """An unguessable value tied to the session token."""
    return hmac.new(token.encode(), b"safeguarding-exchange csrf", hashlib.sha256).hexdigest()


def presented_token(request: Request) -> str | None:
    """The token a proxy forwarded (Authorization: Bearer) or the session cookie holds."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def current_session(request: Request) -> Session:
    """The signed-in session, or SignInRequired."""
    token = presented_token(request)
    if token is None:
        raise SignInRequired
    verifier: TokenVerifier = request.app.state.web.verifier
    try:
        return Session(token=token, caller=verifier.verify(token))
    except AuthError as error:
        raise SignInRequired(expired=True) from error


def optional_session(request: Request) -> Session | None:
    """The signed-in session, if there is a valid one (error pages keep the navigation)."""
    try:
        return current_session(request)
    except SignInRequired:
        return None


def local_path(value: str | None) -> str | None:
    """A path on this site to return to after signing in; None for anything else."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as single values."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


def check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (or, lacking one, Referer) is another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return  # Old clients send neither; SameSite=Strict and the form token still hold.
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden


def check_form(request: Request, session: Session, fields: dict[str, str]) -> None:
    """Refuse a POST without this session's form token or from another site."""
    check_origin(request)
    if not hmac.compare_digest(fields.get("csrf", ""), session.csrf):
        raise Forbidden
