"""Routing's Kafka subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from schemas.v1 import AuditEvent, ConcernReceived, ConcernRouted, NotificationRouted, Topic
from schemas.v1.events import NotificationChanged
from services.common.kafka import ConsumedMessage, FromContext, declare_publications
from services.common.poison import PoisonGuard
from services.common.poison_runtime import guarded_batches, poison_guard
from services.common.runtime import ServiceRuntime
from services.partnership.holder import PartnershipHolder
from services.routing import service
from services.routing.store_children import ChildIndexSecret
from services.routing.unit_of_work import routing_unit_of_work

RuntimeContext = Annotated[ServiceRuntime, FromContext("runtime")]
HolderContext = Annotated[PartnershipHolder, FromContext("partnership_holder")]
ChildIndexContext = Annotated[ChildIndexSecret, FromContext("child_index")]
GuardContext = Annotated[PoisonGuard[ConcernReceived], FromContext("received_guard")]
GROUP = "routing"
# A batch is one transaction: larger batches cost fewer round trips per concern, smaller ones
# hold the child-index locks for less time.
BATCH = 200


async def on_concerns_received(
    events: list[ConcernReceived],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    holder: HolderContext,
    child_index: ChildIndexContext,
    guard: GuardContext,
) -> None:
    """Route a batch of received concerns, add each to its child's chronology, alert if due.

    One transaction for the batch; the outcome is the same as routing the concerns one at a time
    in the order they came. A record that fails on its own goes to concerns.received.dlq.
    The partnership is read once: a batch (and every part the guard splits it into) uses one
    policy version.
    """
    partnership = holder.current

    async def route(decoded: list[ConcernReceived]) -> None:
        secret = await child_index.value(runtime.sessions)
        await service.route_received_concerns(
            routing_unit_of_work(runtime),
            decoded,
            partnership=partnership,
            secret=secret,
            now=datetime.now(UTC),
        )

    await guard.handle(message.raw_message, route)


def register(
    runtime: ServiceRuntime, holder: PartnershipHolder, child_index: ChildIndexSecret
) -> None:
    """Subscribe routing's handlers on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("partnership_holder", holder)
    runtime.broker.context.set_global("child_index", child_index)
    runtime.broker.context.set_global("received_guard", poison_guard(runtime, ConcernReceived))
    declare_publications(
        runtime.broker,
        "routing",
        {
            Topic.NOTIFICATIONS_ROUTED.value: (NotificationRouted, "One per recipient, by child."),
            Topic.CONCERNS_ROUTED.value: (ConcernRouted, "Where each concern went."),
            Topic.NOTIFICATIONS_CHANGED.value: (
                NotificationChanged,
                "Each acknowledgement, assignment, decision and escalation, by concern.",
            ),
            Topic.AUDIT_EVENTS.value: (AuditEvent, "Routing, delivery and every caseworker look."),
            Topic.CONCERNS_RECEIVED_DLQ.value: (
                bytes,
                "Records that kept failing, with dlq-reason.",
            ),
        },
    )
    guarded_batches(
        runtime.broker, Topic.CONCERNS_RECEIVED.value, group_id=GROUP, max_records=BATCH
    )(on_concerns_received)
