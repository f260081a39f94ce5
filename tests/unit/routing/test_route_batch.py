"""route_batch: a batch's routing decided from plain values, with no store and no clock."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from schemas.v1 import ChronologyEntry, NotificationKind, Topic
from services.routing.routing import IndexedChild, chronology_entry, route_batch
from tests.builders import (
    RECEIVED,
    a_chronology_entry,
    a_received_concern,
    the_reference_partnership,
)

NOW = RECEIVED + timedelta(seconds=1)
CHILD = IndexedChild(child_id=uuid4(), last_alerted_at=None)


def earlier(*agencies_and_days: tuple[str, float]) -> list[ChronologyEntry]:
    return [a_chronology_entry(source_agency=a, days_before=d) for a, d in agencies_and_days]


def test_a_concern_alone_gives_its_notifications_events_and_outcome() -> None:
    event = a_received_concern(category="neglect")
    routed = route_batch(
        [event], [CHILD], {CHILD.child_id: []}, partnership=the_reference_partnership(), now=NOW
    )
    assert [n.recipient_agency for n in routed.notifications] == ["nm-csc", "nm-school-oakfield"]
    assert {n.child_id for n in routed.notifications} == {CHILD.child_id}
    assert [m.topic for m in routed.messages] == [
        Topic.NOTIFICATIONS_ROUTED, Topic.NOTIFICATIONS_ROUTED, Topic.CONCERNS_ROUTED,
        Topic.AUDIT_EVENTS, Topic.AUDIT_EVENTS, Topic.AUDIT_EVENTS,
    ]  # fmt: skip
    assert {m.event.occurred_at for m in routed.messages} == {NOW}
    assert routed.newly_alerted == {}
    (outcome,) = routed.outcomes
    assert outcome.recipients == ("nm-csc", "nm-school-oakfield")
    assert outcome.cumulative_alert is None
    assert outcome.correlation_id == event.correlation_id


def test_the_alert_comes_before_the_concern_notifications_it_rides_with() -> None:
    event = a_received_concern(source_agency="nm-hospital-ed")
    routed = route_batch(
        [event], [CHILD], {CHILD.child_id: earlier(("nme-police", 20), ("nm-school-oakfield", 3))},
        partnership=the_reference_partnership(), now=NOW,
    )  # fmt: skip
    kinds = [n.kind for n in routed.notifications]
    assert kinds == [NotificationKind.CUMULATIVE_CONCERN, NotificationKind.CONCERN]
    assert routed.newly_alerted == {CHILD.child_id: RECEIVED}
    assert routed.outcomes[0].cumulative_alert == "nm-csc"


def test_a_child_alerted_before_needs_a_fresh_set_of_concerns() -> None:
    alerted = IndexedChild(child_id=CHILD.child_id, last_alerted_at=RECEIVED - timedelta(days=1))
    routed = route_batch(
        [a_received_concern()], [alerted],
        {CHILD.child_id: earlier(("nme-police", 20), ("nm-school-oakfield", 3))},
        partnership=the_reference_partnership(), now=NOW,
    )  # fmt: skip
    assert [n.kind for n in routed.notifications] == [NotificationKind.CONCERN]


def test_the_batchs_own_concerns_already_in_the_stored_chronology_count_once() -> None:
    event = a_received_concern()
    before = earlier(("nme-police", 20))
    as_stored = [*before, chronology_entry(event.payload)]
    without = route_batch([event], [CHILD], {CHILD.child_id: before},
                          partnership=the_reference_partnership(), now=NOW)  # fmt: skip
    with_own = route_batch([event], [CHILD], {CHILD.child_id: as_stored},
                           partnership=the_reference_partnership(), now=NOW)  # fmt: skip
    assert with_own.notifications == without.notifications
    assert with_own.newly_alerted == without.newly_alerted == {}


def test_later_concerns_of_a_batch_see_the_earlier_ones_and_alert_once() -> None:
    batch = [
        a_received_concern(source_agency=agency, received=RECEIVED - timedelta(days=days))
        for agency, days in (("nme-police", 9), ("nm-school-oakfield", 6), ("nm-hospital-ed", 3),
                             ("nme-camhs", 0))
    ]  # fmt: skip
    routed = route_batch(
        batch, [CHILD] * 4, {CHILD.child_id: []}, partnership=the_reference_partnership(), now=NOW
    )
    assert [o.cumulative_alert for o in routed.outcomes] == [None, None, "nm-csc", None]
    assert routed.newly_alerted == {CHILD.child_id: RECEIVED - timedelta(days=3)}
    (alert,) = [n for n in routed.notifications if n.kind is NotificationKind.CUMULATIVE_CONCERN]
    assert alert.concern_id == batch[2].payload.concern_id
