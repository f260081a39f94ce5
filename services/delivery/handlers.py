"""Delivery's Kafka subscriber: every routed notification becomes one delivery per destination."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, NotificationRouted, Topic
from schemas.v1.delivery import DeliveredNotification
from services.common.kafka import batch_of, declare_publications
from services.common.runtime import ServiceRuntime
from services.delivery import service
from services.delivery.sender import DeliverySender
from services.delivery.unit_of_work import delivery_unit_of_work
from services.partnership import KafkaDestination, Partnership, feed_topic
from services.partnership.holder import PartnershipHolder

RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
HolderContext = Annotated[PartnershipHolder, Context("partnership_holder")]
SenderContext = Annotated[DeliverySender, Context("delivery_sender")]
GROUP = "delivery"
BATCH = 500
BATCH_WAIT_MS = 20
FEED_PARTITIONS = 6


async def on_notifications_routed(
    events: list[NotificationRouted],
    runtime: RuntimeContext,
    holder: HolderContext,
    sender: SenderContext,
) -> None:
    """Record a batch of routed notifications for delivery, once each, and wake their senders."""
    woken = await service.record_routed_notifications(
        delivery_unit_of_work(runtime), events, partnership=holder.current, now=datetime.now(UTC)
    )
    sender.wake(woken)


def feed_topics(partnership: Partnership) -> dict[str, int]:
    """The per-agency topics of the partnership's Kafka destinations, with their partitions."""
    return {
        feed_topic(agency.id): FEED_PARTITIONS
        for agency in partnership.agencies
        if any(isinstance(d, KafkaDestination) for d in agency.deliveries)
    }


def register(runtime: ServiceRuntime, holder: PartnershipHolder, sender: DeliverySender) -> None:
    """Subscribe delivery's handler on the runtime's broker; its feeds are made at start."""
    partnership = holder.current
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("partnership_holder", holder)
    runtime.broker.context.set_global("delivery_sender", sender)
    runtime.extra_topics.update(feed_topics(partnership))
    declare_publications(
        runtime.broker,
        "delivery",
        {
            Topic.AUDIT_EVENTS.value: (AuditEvent, "Every delivery attempt and redelivery."),
            **{
                topic: (DeliveredNotification, "An agency's own feed; header webhook-id.")
                for topic in feed_topics(partnership)
            },
        },
    )
    runtime.broker.subscriber(
        Topic.NOTIFICATIONS_ROUTED.value,
        group_id=GROUP,
        batch=True,
        decoder=batch_of(NotificationRouted),
        max_records=BATCH,
        batch_timeout_ms=BATCH_WAIT_MS,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(on_notifications_routed)
