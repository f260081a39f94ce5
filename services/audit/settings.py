"""Audit's settings."""

from pathlib import Path

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings
from services.partnership.settings import PartnershipSettings


class AuditSettings(ServiceSettings, PartnershipSettings):
    """Audit: the append-only log and the auditors' API."""

    port: int = Field(default=8003, validation_alias=AliasChoices("port", "AUDIT_PORT"))
    audit_signing_key_path: Path | None = Field(
        default=None, description="Ed25519 key (0600) that signs tree heads."
    )
