"""How far each recipient has got, from notifications.changed, as the source agency sees it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from schemas.v1 import ConcernRouted, RecipientView
from schemas.v1.events import (
    ConcernRoutedPayload,
    NotificationChange,
    NotificationChanged,
    NotificationChangedPayload,
    NotificationKind,
    RoutedRecipient,
)
from services.intake.model import Routing
from services.intake.progress import is_overdue
from services.intake.service import concern_status, record_progress, record_routings
from tests.builders import RECEIVED
from tests.unit.intake.fakes import FakeUnitOfWork
from tests.unit.intake.test_routings_and_status import HOSPITAL, POLICE, a_submitted_concern

ROUTED = RECEIVED + timedelta(seconds=2)
ACKNOWLEDGE_BY = RECEIVED + timedelta(hours=4)
DECIDE_BY = RECEIVED + timedelta(days=1)


async def a_routed_concern(uow: FakeUnitOfWork) -> tuple[UUID, UUID]:
    """A concern routed to nm-csc with both deadlines: (concern id, nm-csc's notification id)."""
    concern_id = await a_submitted_concern(uow)
    notification_id = uuid4()
    recipient = RoutedRecipient(
        agency="nm-csc",
        reasons=["home-social-care"],
        notification_id=notification_id,
        acknowledge_by=ACKNOWLEDGE_BY,
        decide_by=DECIDE_BY,
    )
    event = ConcernRouted(
        correlation_id="corr-1",
        payload=ConcernRoutedPayload(
            concern_id=concern_id,
            source_agency="nm-hospital-ed",
            policy_version="test",
            routed_at=ROUTED,
            recipients=[recipient],
        ),
    )
    await record_routings(uow, [event])
    return concern_id, notification_id


def changed(
    concern_id: UUID,
    notification_id: UUID,
    change: NotificationChange,
    *,
    at: timedelta,
    kind: NotificationKind = NotificationKind.CONCERN,
    **state: Any,
) -> NotificationChanged:
    """The event routing publishes after one change of nm-csc's notification."""
    return NotificationChanged(
        correlation_id="corr-1",
        payload=NotificationChangedPayload(
            notification_id=notification_id,
            concern_id=concern_id,
            kind=kind,
            recipient_agency="nm-csc",
            source_agency="nm-hospital-ed",
            change=change,
            status=state.pop("status", change.value),
            changed_at=ROUTED + at,
            acknowledge_by=ACKNOWLEDGE_BY,
            decide_by=DECIDE_BY,
            **state,
        ),
    )


def acknowledged(concern_id: UUID, notification_id: UUID, at: timedelta) -> NotificationChanged:
    return changed(
        concern_id,
        notification_id,
        NotificationChange.ACKNOWLEDGED,
        at=at,
        acknowledged_at=ROUTED + at,
        acknowledged_by_role="caseworker",
    )


def decided(concern_id: UUID, notification_id: UUID, at: timedelta) -> NotificationChanged:
    return changed(
        concern_id,
        notification_id,
        NotificationChange.DECIDED,
        at=at,
        acknowledged_at=ROUTED + timedelta(minutes=10),
        assigned=True,
        decision="strategy_discussion",
        decision_label="Strategy discussion (s47)",
        decided_at=ROUTED + at,
        revision=1,
    )


async def csc_as_seen(uow: FakeUnitOfWork, concern_id: UUID, now: datetime) -> RecipientView:
    status = await concern_status(uow, caller=HOSPITAL, concern_id=concern_id, now=now)
    assert status is not None
    (csc,) = status.recipients
    return csc


async def test_a_routed_recipient_shows_its_notification_and_deadlines_before_any_change() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    assert await csc_as_seen(uow, concern_id, ROUTED) == RecipientView(
        agency="nm-csc",
        reasons=["home-social-care"],
        notification_id=notification_id,
        acknowledge_by=ACKNOWLEDGE_BY,
        decide_by=DECIDE_BY,
    )


async def test_a_routing_without_deadlines_shows_none() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    old = RoutedRecipient(agency="nm-csc", reasons=["home"], notification_id=uuid4())
    event = ConcernRouted(
        correlation_id="corr-1",
        payload=ConcernRoutedPayload(
            concern_id=concern_id,
            source_agency="nm-hospital-ed",
            policy_version="test",
            routed_at=ROUTED,
            recipients=[old],
        ),
    )
    await record_routings(uow, [event])
    csc = await csc_as_seen(uow, concern_id, ROUTED + timedelta(days=30))
    assert (csc.acknowledge_by, csc.decide_by, csc.overdue) == (None, None, False)


async def test_a_decision_is_shown_with_its_label_and_assignment() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    await record_progress(uow, [acknowledged(concern_id, notification_id, timedelta(minutes=10))])
    await record_progress(uow, [decided(concern_id, notification_id, timedelta(hours=2))])
    csc = await csc_as_seen(uow, concern_id, ROUTED + timedelta(hours=3))
    assert csc == RecipientView(
        agency="nm-csc",
        reasons=["home-social-care"],
        notification_id=notification_id,
        acknowledge_by=ACKNOWLEDGE_BY,
        decide_by=DECIDE_BY,
        acknowledged_at=ROUTED + timedelta(minutes=10),
        decision="strategy_discussion",
        decision_label="Strategy discussion (s47)",
        decided_at=ROUTED + timedelta(hours=2),
        assigned=True,
        overdue=False,
    )


async def test_an_older_change_delivered_after_a_newer_one_is_ignored() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    await record_progress(uow, [decided(concern_id, notification_id, timedelta(hours=2))])
    await record_progress(uow, [acknowledged(concern_id, notification_id, timedelta(minutes=10))])
    csc = await csc_as_seen(uow, concern_id, ROUTED + timedelta(hours=3))
    assert (csc.decision, csc.decided_at) == ("strategy_discussion", ROUTED + timedelta(hours=2))


async def test_within_one_batch_the_newest_change_wins_whatever_its_place() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    newer = decided(concern_id, notification_id, timedelta(hours=2))
    older = acknowledged(concern_id, notification_id, timedelta(minutes=10))
    await record_progress(uow, [newer, older])
    assert (await csc_as_seen(uow, concern_id, ROUTED)).decision == "strategy_discussion"
    assert len(uow.progress.recorded) == 1


async def test_a_change_delivered_again_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    first = acknowledged(concern_id, notification_id, timedelta(minutes=10))
    await record_progress(uow, [first, first])
    await record_progress(uow, [first])
    assert len(uow.progress.recorded) == 1
    assert first.event_id in uow.processed.seen
    seen = await csc_as_seen(uow, concern_id, ROUTED + timedelta(hours=1))
    assert seen.acknowledged_at == ROUTED + timedelta(minutes=10)


async def test_an_escalation_is_kept_when_a_later_acknowledgement_arrives_first() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    late = acknowledged(concern_id, notification_id, timedelta(hours=5))
    escalation = changed(
        concern_id, notification_id, NotificationChange.ESCALATED, at=timedelta(hours=4, seconds=1)
    )
    await record_progress(uow, [late])
    await record_progress(uow, [escalation])
    (held,) = uow.progress.committed.values()
    assert (held.escalated, held.acknowledged_at) == (True, ROUTED + timedelta(hours=5))


@pytest.mark.parametrize(
    "kind",
    [NotificationKind.FEEDBACK, NotificationKind.ESCALATION, NotificationKind.CUMULATIVE_CONCERN],
)
async def test_changes_of_notifications_other_than_the_concerns_own_are_not_kept(
    kind: NotificationKind,
) -> None:
    uow = FakeUnitOfWork()
    concern_id, _ = await a_routed_concern(uow)
    other = changed(
        concern_id, uuid4(), NotificationChange.ACKNOWLEDGED, at=timedelta(1), kind=kind
    )
    await record_progress(uow, [other])
    assert uow.progress.committed == {}
    assert other.event_id in uow.processed.seen


async def test_a_routing_recorded_without_notification_ids_finds_progress_by_agency() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    # As intake kept routings before it kept notification ids and deadlines.
    await uow.submissions.record_routings(
        [Routing(concern_id, ROUTED, [{"agency": "nm-csc", "reasons": ["home"]}])]
    )
    await uow.commit()
    notification_id = uuid4()
    await record_progress(uow, [acknowledged(concern_id, notification_id, timedelta(minutes=5))])
    csc = await csc_as_seen(uow, concern_id, ROUTED)
    assert (csc.notification_id, csc.acknowledge_by) == (notification_id, ACKNOWLEDGE_BY)


async def test_another_agency_finds_no_concern_however_far_it_got() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    await record_progress(uow, [decided(concern_id, notification_id, timedelta(hours=2))])
    assert await concern_status(uow, caller=POLICE, concern_id=concern_id, now=ROUTED) is None


async def test_a_recipient_past_its_acknowledgement_deadline_is_overdue() -> None:
    uow = FakeUnitOfWork()
    concern_id, _ = await a_routed_concern(uow)
    assert not (await csc_as_seen(uow, concern_id, ACKNOWLEDGE_BY)).overdue
    assert (await csc_as_seen(uow, concern_id, ACKNOWLEDGE_BY + timedelta(seconds=1))).overdue


SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("acknowledged_at", "decided_at", "now", "overdue"),
    [
        (None, None, ACKNOWLEDGE_BY - SECOND, False),
        (None, None, ACKNOWLEDGE_BY, False),  # at the deadline is in time
        (None, None, ACKNOWLEDGE_BY + SECOND, True),
        (ACKNOWLEDGE_BY, None, ACKNOWLEDGE_BY + SECOND, False),
        (ACKNOWLEDGE_BY + SECOND, None, ACKNOWLEDGE_BY + 2 * SECOND, False),  # late, but done
        (ACKNOWLEDGE_BY, None, DECIDE_BY, False),
        (ACKNOWLEDGE_BY, None, DECIDE_BY + SECOND, True),
        (ACKNOWLEDGE_BY, DECIDE_BY, DECIDE_BY + SECOND, False),
        (None, ACKNOWLEDGE_BY - SECOND, DECIDE_BY + SECOND, False),  # a decision acknowledges
    ],
)
def test_overdue_means_an_acknowledgement_or_decision_outstanding_past_its_deadline(
    acknowledged_at: datetime | None, decided_at: datetime | None, now: datetime, overdue: bool
) -> None:
    assert (
        is_overdue(
            acknowledge_by=ACKNOWLEDGE_BY,
            decide_by=DECIDE_BY,
            acknowledged_at=acknowledged_at,
            decided_at=decided_at,
            now=now,
        )
        is overdue
    )


def test_without_a_decision_deadline_only_the_acknowledgement_can_be_overdue() -> None:
    later = DECIDE_BY + timedelta(days=30)
    common = {"acknowledge_by": ACKNOWLEDGE_BY, "decide_by": None, "decided_at": None}
    assert not is_overdue(**common, acknowledged_at=ACKNOWLEDGE_BY, now=later)
    assert is_overdue(**common, acknowledged_at=None, now=later)
