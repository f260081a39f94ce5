"""The retention policy's pure decisions: who is past it, and what removing content means."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError

from schemas.v1 import AuditAction, NotificationKind, NotificationRoutedPayload, Topic
from services.partnership import default_partnership_path, load_partnership
from services.partnership.model import DEFAULT_PERSONAL_CONTENT_RETENTION, Retention
from services.routing.escalation_policy import escalation_notifications
from services.routing.notifications import concern_notifications
from services.routing.policy import decide_recipients
from services.routing.profiles import apply_sharing_profile
from services.routing.retention import (
    PERSONAL_CONTENT,
    RemovedContent,
    RetainedConcern,
    concern_without_content,
    is_past_retention,
    iso_duration,
    notification_without_content,
    removed_parts,
    retained_concern,
    retention_applied,
    retention_cutoff,
)
from tests.builders import RECEIVED, a_concern, a_received_concern, the_reference_partnership

FULL = ["subject", "household", "summary", "narrative", "reporter", "location", "lawful_basis"]
REMOVED_AT = RECEIVED + timedelta(days=1096)


def a_retained_concern() -> RetainedConcern:
    return retained_concern(a_concern().model_dump(mode="json"), removed_at=REMOVED_AT)


def routed_to(agency: str) -> NotificationRoutedPayload:
    """The notification a fresh high concern from the hospital gives one agency."""
    received = a_received_concern(severity="high").payload
    decision = decide_recipients(
        received.concern, source_agency=received.source_agency,
        received_at=received.received_at, partnership=the_reference_partnership(),
    )  # fmt: skip
    return next(n for n in concern_notifications(received, decision)
                if n.recipient_agency == agency)  # fmt: skip


@pytest.mark.parametrize(
    ("age", "past"),
    [(timedelta(days=1094), False), (timedelta(days=1095), False),
     (timedelta(days=1095, seconds=1), True)],
)  # fmt: skip
def test_a_concern_is_past_retention_only_once_kept_longer_than_the_period(
    age: timedelta, past: bool
) -> None:
    period = timedelta(days=1095)
    assert is_past_retention(RECEIVED, period, RECEIVED + age) is past
    assert (retention_cutoff(RECEIVED + age, period) > RECEIVED) is past


def test_removing_content_takes_narrative_household_and_reporter_and_nothing_else() -> None:
    stored = a_concern().model_dump(mode="json")
    kept = concern_without_content(stored)
    assert set(stored) - set(kept) == {"narrative", "household", "reporter"}
    assert kept["summary"] == stored["summary"]
    assert kept["subject"] == stored["subject"]


def test_a_notification_keeps_its_disclosed_fields_and_envelope_without_the_content() -> None:
    stored = routed_to("nm-csc").model_dump(mode="json")
    kept = notification_without_content(stored)
    assert kept["disclosed_fields"] == stored["disclosed_fields"]
    assert "narrative" in kept["disclosed_fields"]
    assert not set(PERSONAL_CONTENT) & set(kept["concern"])
    assert kept["concern"]["summary"] == stored["concern"]["summary"]
    assert {k: v for k, v in kept.items() if k != "concern"} == {
        k: v for k, v in stored.items() if k != "concern"
    }


def test_a_full_profile_on_a_retained_concern_discloses_nothing_of_the_removed_parts() -> None:
    concern = a_retained_concern()
    disclosure = apply_sharing_profile(concern, FULL)
    shown = disclosure.concern.model_dump(mode="json")
    assert not set(PERSONAL_CONTENT) & set(shown)
    assert shown["summary"] == "Child arrived at school hungry and withdrawn."
    # Still listed: the profile allowed them; the notification is marked removed instead.
    assert set(PERSONAL_CONTENT) <= set(disclosure.disclosed_fields)
    assert removed_parts(concern) == frozenset(PERSONAL_CONTENT)


def test_a_kept_concern_has_no_removed_parts_and_discloses_as_before() -> None:
    concern = a_concern()
    assert removed_parts(concern) == frozenset()
    shown = apply_sharing_profile(concern, FULL).concern.model_dump(mode="json")
    assert shown["narrative"] == "Full account of what was seen and said."


def test_an_escalation_after_removal_is_cut_for_home_social_care_without_the_content() -> None:
    escalations = escalation_notifications(
        routed_to("nme-police"),
        a_retained_concern(),
        the_reference_partnership(),
        escalated_at=REMOVED_AT,
    )
    csc = next(n for n in escalations if n.recipient_agency == "nm-csc")
    assert csc.kind is NotificationKind.ESCALATION
    assert not set(PERSONAL_CONTENT) & set(csc.concern.model_dump(mode="json"))
    assert csc.concern.subject is not None
    assert csc.concern.subject.family_name == "Stone"


def test_the_audit_of_retention_names_the_fields_never_their_values() -> None:
    concern_id = uuid4()
    removed = RemovedContent(concern_id, RECEIVED, PERSONAL_CONTENT, notifications=3)
    message = retention_applied(
        removed, policy_version="2026.11.1", retention=timedelta(days=1095), at=REMOVED_AT
    )
    assert message.topic == Topic.AUDIT_EVENTS
    assert message.key == str(concern_id)
    payload = message.event.payload
    assert payload.action is AuditAction.RETENTION_APPLIED
    assert payload.actor.role == "service"
    assert payload.actor.subject == "routing"
    assert payload.concern_id == concern_id
    assert payload.fields == []
    assert payload.details == {
        "fields_removed": ["household", "narrative", "reporter"],
        "policy_version": "2026.11.1",
        "retention": "P1095D",
        "received_at": RECEIVED.isoformat(),
        "notifications": 3,
    }
    dumped = json.dumps(message.event.model_dump(mode="json"))
    for value in ("Full account", "Dana Stone", "Sam Reid"):
        assert value not in dumped


@pytest.mark.parametrize(
    ("period", "written"),
    [(timedelta(days=1095), "P1095D"), (timedelta(seconds=5), "PT5S"),
     (timedelta(days=2, seconds=30), "P2DT30S")],
)  # fmt: skip
def test_the_retention_period_is_written_as_an_iso_duration(
    period: timedelta, written: str
) -> None:
    assert iso_duration(period) == written


def test_the_partnership_keeps_personal_content_three_years_unless_its_file_says() -> None:
    assert the_reference_partnership().retention.personal_content == timedelta(days=1095)
    assert timedelta(days=1095) == DEFAULT_PERSONAL_CONTENT_RETENTION
    assert Retention.model_validate({"personal_content": "P104W"}).personal_content == timedelta(
        weeks=104
    )


@pytest.mark.parametrize("written", ["P3Y", "PT0S", "forever", 30])
def test_a_retention_without_a_fixed_positive_length_is_refused(written: object) -> None:
    with pytest.raises(ValidationError):
        Retention.model_validate({"personal_content": written})


def test_a_partnership_file_sets_its_retention(tmp_path: Path) -> None:
    written = default_partnership_path().read_text()
    path = tmp_path / "partnership.yaml"
    path.write_text(written + "\nretention:\n  personal_content: PT5S\n")
    assert load_partnership(path).retention.personal_content == timedelta(seconds=5)
