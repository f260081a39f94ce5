"""Routing's settings."""

from pydantic import AliasChoices, Field, SecretStr

from services.common.settings import ServiceSettings
from services.partnership.settings import PartnershipSettings


class RoutingSettings(ServiceSettings, PartnershipSettings):
    """Routing: decides recipients and serves caseworkers' inboxes."""

    port: int = Field(default=8002, validation_alias=AliasChoices("port", "ROUTING_PORT"))
    escalation_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often overdue notifications are looked for and escalated.",
    )
    stream_max_per_agency: int = Field(
        default=20,
        ge=1,
        description="Open inbox streams an agency may hold at once; one more answers 429.",
    )
    retention_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "How often concerns past the partnership's retention are looked for and their "
            "personal content removed (RETENTION_INTERVAL_SECONDS)."
        ),
    )
    child_index_key: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC key of the child index's match keys (CHILD_INDEX_KEY). Set it in production "
            "from a secret store; when unset, routing generates one at first start and keeps "
            "it in its own schema (local stack and tests). Changing it breaks every match."
        ),
    )
