"""The envelope every event travels in."""

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


def new_event_id() -> UUID:
    """A fresh, globally unique event id."""
    return uuid4()


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields every event carries, whatever its payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(
        default_factory=new_event_id,
        description="Unique id of this event; consumers deduplicate on it.",
    )
    type: str = Field(description="What happened, e.g. `concern.received`.")
    schema_version: Literal["1"] = Field(default="1", description="Version of the event's schema.")
    occurred_at: datetime = Field(default_factory=utc_now, description="When it happened (UTC).")
    producer: str = Field(description="The service that published it: intake, routing or audit.")
    correlation_id: str = Field(
        description="Ties together everything that follows from one submission or request."
    )
