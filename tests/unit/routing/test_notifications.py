"""One builder for every kind of notification; ids derived exactly as they always were."""

from __future__ import annotations

import uuid
from datetime import timedelta

from schemas.v1 import NotificationKind
from services.routing.escalation_policy import escalation_notifications
from services.routing.notifications import (
    ConcernEnvelope,
    build_notification,
    concern_notifications,
    cumulative_alert,
    disclosure_for,
)
from services.routing.policy import decide_recipients
from tests.builders import (
    RECEIVED,
    a_chronology_entry,
    a_received_concern,
    the_reference_partnership,
)

PARTNERSHIP = the_reference_partnership()


def test_every_kind_carries_the_concerns_envelope_and_only_its_disclosure() -> None:
    received = a_received_concern(category="neglect").payload
    envelope = ConcernEnvelope.of_received(received)
    school = disclosure_for(received.concern, "nm-school-oakfield", PARTNERSHIP)
    for kind in NotificationKind:
        n = build_notification(
            kind, envelope, notification_id=uuid.uuid4(), recipient="nm-school-oakfield",
            disclosure=school, reasons=["why"], acknowledge_by=RECEIVED,
            policy_version=PARTNERSHIP.policy_version, child_id=None,
        )  # fmt: skip
        assert ConcernEnvelope.of_notification(n) == envelope
        assert (n.kind, n.recipient_agency, n.reasons) == (kind, "nm-school-oakfield", ["why"])
        assert n.disclosed_fields == school.disclosed_fields
        assert "narrative" not in n.concern.model_dump(exclude_unset=True)
        # The incident date and the sender's reference travel with the envelope, to every kind.
        assert n.occurred_at == received.concern.occurred_at
        assert n.source_reference == received.concern.source_reference


def test_concern_notification_ids_derive_from_the_concern_and_agency() -> None:
    received = a_received_concern(category="neglect").payload
    decision = decide_recipients(
        received.concern, source_agency=received.source_agency,
        received_at=received.received_at, partnership=PARTNERSHIP,
    )  # fmt: skip
    routed = concern_notifications(received, decision)
    assert [n.notification_id for n in routed] == [
        uuid.uuid5(received.concern_id, f"concern:{agency}")
        for agency in ("nm-csc", "nm-school-oakfield")
    ]
    assert [n.acknowledge_by for n in routed] == [RECEIVED + timedelta(days=1)] * 2


def test_an_alert_id_derives_from_its_concern_and_its_chronology_is_the_window() -> None:
    received = a_received_concern().payload
    old = a_chronology_entry(source_agency="nme-police", days_before=200)
    recent = a_chronology_entry(source_agency="nme-police", days_before=10)
    alert = cumulative_alert(
        received, [old, recent], PARTNERSHIP, child_id=uuid.uuid4(), as_of=RECEIVED
    )
    assert alert.notification_id == uuid.uuid5(received.concern_id, "cumulative")
    assert alert.kind is NotificationKind.CUMULATIVE_CONCERN
    assert alert.chronology == [recent]


def test_an_escalation_id_derives_from_the_original_and_agency() -> None:
    received = a_received_concern(category="neglect").payload
    decision = decide_recipients(
        received.concern, source_agency=received.source_agency,
        received_at=received.received_at, partnership=PARTNERSHIP,
    )  # fmt: skip
    school = concern_notifications(received, decision)[1]
    escalations = escalation_notifications(
        school, received.concern, PARTNERSHIP, escalated_at=RECEIVED + timedelta(days=2)
    )
    assert [n.notification_id for n in escalations] == [
        uuid.uuid5(school.notification_id, f"escalation:{agency}")
        for agency in ("nm-school-oakfield", "nm-csc")
    ]
