"""Bearer tokens: EdDSA-signed JWTs naming an agency, a role and a subject."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict

from schemas.v1 import Actor
from services.common.settings import ServiceSettings

ALGORITHMS = ["EdDSA", "ES256", "RS256"]


class Role(StrEnum):
    """What a token lets its holder do."""

    AGENCY_SYSTEM = "agency_system"
    CASEWORKER = "caseworker"
    AUDITOR = "auditor"
    PARTNERSHIP_AUDITOR = "partnership_auditor"
    DELIVERY_ADMIN = "delivery_admin"


class Caller(BaseModel):
    """The verified holder of a bearer token."""

    model_config = ConfigDict(frozen=True)

    subject: str
    agency: str
    role: Role

    def as_actor(self) -> Actor:
        """This caller as an audit actor."""
        return Actor(subject=self.subject, agency=self.agency, role=self.role.value)


class AuthError(Exception):
    """A token was missing, malformed, forged or expired."""


class TokenVerifier:
    """Checks signature, expiry, issuer and audience against a public key or a JWKS URL."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._key: Any = None
        if self._jwks is None:
            if settings.jwt_public_key_path is None:
                raise ValueError("Set JWT_PUBLIC_KEY_PATH or JWT_JWKS_URL to verify tokens.")
            self._key = serialization.load_pem_public_key(settings.jwt_public_key_path.read_bytes())
        # An agency system sends many requests with one token: check its signature once, and
        # its expiry on every use.
        self._verified = functools.lru_cache(maxsize=4096)(self._decode)

    def verify(self, token: str) -> Caller:
        """The caller a token names, or AuthError."""
        caller, expires = self._verified(token)
        if expires <= time.time():
            raise AuthError("Signature has expired")
        return caller

    def _decode(self, token: str) -> tuple[Caller, float]:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            role = Role(claims["role"])
            return Caller(subject=claims["sub"], agency=claims["agency"], role=role), claims["exp"]
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise AuthError(str(error)) from error

    async def verify_async(self, token: str) -> Caller:
        """verify() without blocking the event loop on a JWKS fetch."""
        if self._jwks is not None:
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)


def mint_token(
    private_key: Ed25519PrivateKey,
    *,
    agency: str,
    role: Role,
    subject: str,
    issuer: str,
    audience: str,
    lifetime: timedelta = timedelta(hours=8),
) -> str:
    """A signed bearer token for (agency, role, subject)."""
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "agency": agency,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now - timedelta(seconds=5),
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, private_key, algorithm="EdDSA")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "A bearer token is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def authenticated_caller(request: Request) -> Caller:
    """The caller of this request, or 401."""
    # async so that FastAPI does not hand every request to a worker thread for this.
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify_async(_bearer(request))
    except AuthError as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "The bearer token is invalid or has expired.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from error


CallerDep = Annotated[Caller, Depends(authenticated_caller)]


def require_role(caller: Caller, *roles: Role) -> None:
    """403 unless the caller holds one of roles."""
    if caller.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"This needs the role {allowed}.")
