"""Settings every service shares, read from the environment (names match .safeguard/stack.env)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    """How long and how much a client may take to send a request, and how many may connect."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="From connecting (or the last answer) to whole headers."
    )
    http_max_header_bytes: int = Field(default=32 * 1024, gt=0)
    http_body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="From the headers to the whole body."
    )
    http_body_chunk_timeout_seconds: float = Field(
        default=10.0, gt=0, description="The longest wait for the next part of a body."
    )
    http_keep_alive_seconds: float = Field(default=5.0, gt=0)
    http_max_connections: int | None = Field(
        default=1000, description="Beyond it, a request answers 503 at once."
    )


class ServiceSettings(HttpSettings):
    """Connections, identity and security settings common to intake, routing and audit."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(description="postgresql://user:password@host:port/database")
    database_ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "disable"
    database_ssl_root_cert: Path | None = None
    database_pool_size: int = 20

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_replication_factor: int = Field(default=1, description="3 in production.")
    kafka_poison_attempts: int = Field(
        default=5, ge=1, description="Failures of one record before it goes to <topic>.dlq."
    )

    jwt_public_key_path: Path | None = Field(
        default=None, description="PEM public key that signs bearer tokens (local stack)."
    )
    jwt_jwks_url: str | None = Field(default=None, description="JWKS URL of the token issuer.")
    jwt_issuer: str = "safeguarding-exchange-local"
    jwt_audience: str = "safeguarding-exchange"

    outbox_retention: timedelta = Field(
        default=timedelta(hours=24),
        description="How long a published outbox row is kept (ISO 8601, e.g. PT24H, or seconds).",
    )
    processed_events_retention: timedelta = Field(
        default=timedelta(days=14),
        description="How long a handled event's id is kept: longer than Kafka could redeliver it.",
    )
    outbox_prune_interval_seconds: float = Field(default=300.0, gt=0)

    gc_young_threshold: int = Field(
        default=20_000,
        gt=0,
        description="New objects between collections of the youngest generation (CPython: 700).",
    )

    log_level: str = "INFO"
    # How long a starting service waits for Kafka and PostgreSQL before it gives up.
    startup_timeout_seconds: float = 120.0
    host: str = "127.0.0.1"
    port: int = 8000
    instance_id: str = Field(default="", description="Tells processes of one service apart.")
