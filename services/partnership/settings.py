"""Where a service finds its partnership file (SAFEGUARD_PARTNERSHIP)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.partnership.loader import default_partnership_path


class PartnershipSettings(BaseSettings):
    """The partnership file a service routes, checks or labels by."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    partnership_path: Path = Field(
        default_factory=default_partnership_path,
        validation_alias=AliasChoices("partnership_path", "SAFEGUARD_PARTNERSHIP"),
    )
