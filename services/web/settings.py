"""The web process's settings, read from the environment (names match .safeguard/stack.env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.partnership.settings import PartnershipSettings


class WebSettings(PartnershipSettings):
    """Where intake, routing and audit answer, how tokens are checked, whether dev login is on."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8004, validation_alias=AliasChoices("port", "WEB_PORT"))
    intake_url: str = Field(default="http://127.0.0.1:8001", description="INTAKE_URL")
    routing_url: str = Field(default="http://127.0.0.1:8002", description="ROUTING_URL")
    audit_url: str = Field(default="http://127.0.0.1:8003", description="AUDIT_URL")
    upstream_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for intake, routing or audit to answer."
    )

    jwt_public_key_path: Path | None = Field(
        default=None, description="PEM public key that signs bearer tokens (local stack)."
    )
    jwt_jwks_url: str | None = Field(default=None, description="JWKS URL of the token issuer.")
    jwt_issuer: str = "safeguarding-exchange-local"
    jwt_audience: str = "safeguarding-exchange"
    jwt_signing_key_path: Path | None = Field(
        default=None,
        description="Local Ed25519 signing key. Set only in development: it enables /login.",
    )
    cookie_secure: bool = Field(
        default=False, description="Mark the session cookie Secure (set true behind HTTPS)."
    )
    log_level: str = "INFO"
