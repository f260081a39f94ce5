"""Intake's settings."""

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings
from services.partnership.settings import PartnershipSettings


class IntakeSettings(ServiceSettings, PartnershipSettings):
    """Intake: where agency systems post concerns."""

    port: int = Field(default=8001, validation_alias=AliasChoices("port", "INTAKE_PORT"))
    max_body_bytes: int = 256 * 1024
