"""Delivery into agencies' own systems: what a webhook or feed carries, and delivery state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.v1.events import NotificationRoutedPayload


class DeliveredNotification(BaseModel):
    """The body of a webhook or of a record on `deliveries.<agency>`: one notification.

    Exactly what the agency's caseworker sees on opening it, cut to its sharing profile; routing's
    internal child id is never sent. The `webhook-id` header is the routed event's id.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["notification.routed"] = "notification.routed"
    notification: NotificationRoutedPayload


class DeliveryStatus(StrEnum):
    """Where one delivery of a notification to one destination stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    DISABLED = "disabled"


class DeliveryView(BaseModel):
    """One notification's delivery to one of the agency's destinations (ids, never content)."""

    model_config = ConfigDict(frozen=True)

    delivery_id: UUID
    webhook_id: UUID = Field(description="The `webhook-id` sent: the routed event's id.")
    notification_id: UUID
    concern_id: UUID
    agency: str
    destination: str = Field(description="The destination's id in the partnership file.")
    kind: Literal["webhook", "kafka"]
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far (kept across a redelivery).")
    next_attempt_at: datetime | None = Field(
        default=None, description="When it is next tried, while pending."
    )
    last_status_code: int | None = Field(
        default=None, description="The HTTP status of the last answer, if there was one."
    )
    last_error: str | None = Field(
        default=None, description="Why the last attempt failed: timeout, connection, http_503..."
    )
    created_at: datetime
    delivered_at: datetime | None = None


class DeliveryPage(BaseModel):
    """One page of an agency's deliveries, newest first."""

    model_config = ConfigDict(frozen=True)

    items: list[DeliveryView]
    next_cursor: str | None = None
