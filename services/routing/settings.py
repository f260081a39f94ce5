"""Routing's settings."""

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    """Routing: decides recipients and serves caseworkers' inboxes."""

    port: int = Field(default=8002, validation_alias=AliasChoices("port", "ROUTING_PORT"))
    escalation_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often overdue notifications are looked for and escalated.",
    )
