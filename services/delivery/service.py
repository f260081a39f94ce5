"""Delivery's use cases on a unit of work: record, claim, settle attempts, list, redeliver."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from schemas.v1 import AuditAction, NotificationRouted
from schemas.v1.delivery import DeliveryStatus
from services.common.auth import Caller
from services.delivery import policy
from services.delivery.deliveries import Delivery, DestinationKey, Outcome, deliveries_of
from services.delivery.policy import AttemptResult, Lease, NextStep, RetrySchedule
from services.delivery.records import delivery_audit
from services.delivery.unit_of_work import DeliveryUnitOfWork
from services.partnership import Partnership

REDELIVERABLE = frozenset(
    {DeliveryStatus.FAILED, DeliveryStatus.DEAD_LETTERED, DeliveryStatus.DISABLED}
)


class DeliveryNotFound(LookupError):
    """No such delivery for the caller's agency (missing, or another agency's)."""


class NotRedeliverable(ValueError):
    """A delivery that is pending or delivered: there is nothing to redeliver."""

    def __init__(self, status: DeliveryStatus) -> None:
        super().__init__(status.value)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How a destination's failed attempts are retried, and for how long."""

    schedule: RetrySchedule
    window: timedelta


async def record_routed_notifications(
    uow: DeliveryUnitOfWork,
    events: Sequence[NotificationRouted],
    *,
    partnership: Partnership,
    now: datetime,
) -> set[DestinationKey]:
    """One delivery per notification and destination, once however often it comes; their
    destinations that are in use (to be woken)."""
    new = deliveries_of(list(events), partnership)
    if not new:
        return set()
    async with uow:
        disabled = await uow.deliveries.record(new, now=now)
        await uow.commit()
    return {d.key for d in new} - disabled


async def claim_attempts(
    uow: DeliveryUnitOfWork,
    key: DestinationKey,
    *,
    now: datetime,
    limit: int,
    lease: Lease,
) -> list[Delivery]:
    """Take a destination's due deliveries for one attempt each; each attempt is audited."""
    async with uow:
        claimed = await uow.deliveries.claim_due(key, now=now, limit=limit, lease=lease)
        if claimed:
            await uow.outbox.add(
                [delivery_audit(d, AuditAction.DELIVERY_ATTEMPTED) for d in claimed]
            )
            await uow.commit()
    return claimed


@dataclass(frozen=True)
class EndedAttempt:
    """How the attempt at a claimed delivery ended, and the draw its retry's jitter takes."""

    delivery: Delivery
    result: AttemptResult
    draw: float


# The outcome of an attempt claimed, then not sent: its destination was disabled meanwhile.
WITHHELD: dict[str, object] = {
    "http_status": None,
    "error": "destination_disabled",
    "status": DeliveryStatus.DISABLED.value,
    "retry_at": None,
    "sent": False,
}


async def settle_attempts(
    uow: DeliveryUnitOfWork,
    ended: Sequence[EndedAttempt],
    *,
    withheld: Sequence[Delivery] = (),
    now: datetime,
    retry: RetryPolicy,
) -> list[NextStep]:
    """Record how these attempts ended and what comes next, in one transaction; each audited, a
    410 disables its destination. Withheld deliveries are audited as not sent, left as they are."""
    steps = [
        policy.after_attempt(
            attempt.result,
            attempts=attempt.delivery.attempts,
            window_started_at=attempt.delivery.window_started_at,
            window=retry.window,
            now=now,
            schedule=retry.schedule,
            draw=attempt.draw,
        )
        for attempt in ended
    ]
    details = [_attempt_details(a.result, step) for a, step in zip(ended, steps, strict=True)]
    first_gone: dict[DestinationKey, int] = {}
    for index, (attempt, step) in enumerate(zip(ended, steps, strict=True)):
        if step.disables_destination:
            first_gone.setdefault(attempt.delivery.key, index)
    async with uow:
        disabling: set[int] = set()
        # Before any row's own update, destinations in one order: concurrent 410s then queue on
        # the destination's row instead of each holding a delivery the other's disabling needs
        # (a deadlock).
        for key, index in sorted(first_gone.items()):
            disabled = await uow.destinations.disable(
                key, now=now, delivery_id=ended[index].delivery.delivery_id
            )
            if disabled is not None:
                disabling.add(index)
                details[index] |= {
                    "destination_disabled": True,
                    "deliveries_disabled": len(disabled),
                }
        # Attempts already in flight may all answer 410: only the first disables.
        steps = [
            dataclasses.replace(step, disables_destination=False)
            if step.disables_destination and index not in disabling
            else step
            for index, step in enumerate(steps)
        ]
        if ended:
            await uow.deliveries.record_outcomes(
                [
                    Outcome(
                        attempt.delivery.delivery_id,
                        status=step.status,
                        next_attempt_at=step.next_attempt_at,
                        last_status_code=attempt.result.status_code,
                        last_error=attempt.result.reason,
                        delivered_at=now if step.status is DeliveryStatus.DELIVERED else None,
                    )
                    for attempt, step in zip(ended, steps, strict=True)
                ]
            )
        await uow.outbox.add(
            [
                delivery_audit(attempt.delivery, action, details=detail)
                for attempt, step, detail in zip(ended, steps, details, strict=True)
                for action in step.actions
            ]
            + [delivery_audit(d, AuditAction.DELIVERY_FAILED, details=WITHHELD) for d in withheld]
        )
        await uow.commit()
    return steps


def _attempt_details(result: AttemptResult, step: NextStep) -> dict[str, object]:
    return {
        "http_status": result.status_code,
        "error": result.reason,
        "status": step.status.value,
        "retry_at": step.next_attempt_at.isoformat() if step.next_attempt_at else None,
    }


async def settle_attempt(
    uow: DeliveryUnitOfWork,
    delivery: Delivery,
    result: AttemptResult,
    *,
    now: datetime,
    retry: RetryPolicy,
    draw: float,
) -> NextStep:
    """Record how one attempt ended and what comes next; audited, a 410 disables the destination."""
    [step] = await settle_attempts(
        uow, [EndedAttempt(delivery, result, draw)], now=now, retry=retry
    )
    return step


def _own(caller: Caller, agency: str) -> None:
    if agency != caller.agency:
        raise PermissionError(agency)


async def list_deliveries(
    uow: DeliveryUnitOfWork,
    caller: Caller,
    *,
    agency: str,
    status: DeliveryStatus | None,
    limit: int,
    before_seq: int | None,
) -> list[Delivery]:
    """The caller's agency's deliveries, newest first (PermissionError for another agency)."""
    _own(caller, agency)
    async with uow:
        return await uow.deliveries.find(
            agency=agency, status=status, limit=limit, before_seq=before_seq
        )


async def redeliver(
    uow: DeliveryUnitOfWork,
    caller: Caller,
    delivery_id: UUID,
    *,
    now: datetime,
    correlation_id: str,
    path: str,
) -> Delivery:
    """Put a failed, dead-lettered or disabled delivery back to pending; attempts are kept.

    A disabled one takes its destination back into use, with every delivery it had disabled.
    """
    actor = caller.as_actor()
    async with uow:
        found = await uow.deliveries.get(delivery_id)
        if found is None or found.agency != caller.agency:
            if found is not None:
                denied = delivery_audit(
                    found,
                    AuditAction.ACCESS_DENIED,
                    actor=actor,
                    correlation_id=correlation_id,
                    details={"path": path},
                )
                await uow.outbox.add([denied])
                await uow.commit()
            raise DeliveryNotFound(delivery_id)
        if found.status not in REDELIVERABLE:
            raise NotRedeliverable(found.status)
        again = [found]
        if found.status is DeliveryStatus.DISABLED:
            for other_id in await uow.destinations.enable(found.key):
                other = await uow.deliveries.get(other_id)
                if other is not None and other_id != found.delivery_id:
                    again.append(other)
        await uow.deliveries.make_due([d.delivery_id for d in again], now=now)
        await uow.outbox.add(
            [
                delivery_audit(d, AuditAction.DELIVERY_REDELIVERED, actor=actor,
                               correlation_id=correlation_id,
                               details={"previous_status": d.status.value,
                                        "requested_for": str(found.delivery_id)})
                for d in again
            ]
        )  # fmt: skip
        await uow.commit()
        redelivered = await uow.deliveries.get(delivery_id)
    assert redelivered is not None
    return redelivered
