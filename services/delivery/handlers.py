"""Delivery's Kafka subscriber: every routed notification becomes one delivery per destination."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from schemas.v1 import AuditEvent, NotificationRouted, Topic
from schemas.v1.delivery import DeliveredNotification
from services.common.kafka import ConsumedMessage, FromContext, declare_publications
from services.common.poison import PoisonGuard
from services.common.poison_runtime import guarded_batches, poison_guard
from services.common.runtime import ServiceRuntime
from services.delivery import service
from services.delivery.sender import DeliverySender
from services.delivery.unit_of_work import delivery_unit_of_work
from services.partnership import KafkaDestination, Partnership, feed_topic
from services.partnership.holder import PartnershipHolder

RuntimeContext = Annotated[ServiceRuntime, FromContext("runtime")]
HolderContext = Annotated[PartnershipHolder, FromContext("partnership_holder")]
SenderContext = Annotated[DeliverySender, FromContext("delivery_sender")]
GuardContext = Annotated[PoisonGuard[NotificationRouted], FromContext("routed_guard")]
GROUP = "delivery"
BATCH = 500
# A notification reaches its caseworkers through routing; its copy into the agency's own system
# can wait a few milliseconds for others to go with it in one batch.
GATHER_MS = 50
FEED_PARTITIONS = 6


async def on_notifications_routed(
    events: list[NotificationRouted],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    holder: HolderContext,
    sender: SenderContext,
    guard: GuardContext,
) -> None:
    """Record a batch of routed notifications for delivery, once each, and wake their senders.

    A record that fails on its own goes to notifications.routed.dlq.
    """
    partnership = holder.current

    async def record(decoded: list[NotificationRouted]) -> None:
        woken = await service.record_routed_notifications(
            delivery_unit_of_work(runtime), decoded, partnership=partnership, now=datetime.now(UTC)
        )
        sender.wake(woken)

    await guard.handle(message.raw_message, record)


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
    runtime.broker.context.set_global("routed_guard", poison_guard(runtime, NotificationRouted))
    runtime.extra_topics.update(feed_topics(partnership))
    declare_publications(
        runtime.broker,
        "delivery",
        {
            Topic.AUDIT_EVENTS.value: (AuditEvent, "Every delivery attempt and redelivery."),
            Topic.NOTIFICATIONS_ROUTED_DLQ.value: (
                bytes,
                "Records that kept failing, with dlq-reason.",
            ),
            **{
                topic: (DeliveredNotification, "An agency's own feed; header webhook-id.")
                for topic in feed_topics(partnership)
            },
        },
    )
    guarded_batches(
        runtime.broker,
        Topic.NOTIFICATIONS_ROUTED.value,
        group_id=GROUP,
        max_records=BATCH,
        gather_ms=GATHER_MS,
    )(on_notifications_routed)
