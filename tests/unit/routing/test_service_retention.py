"""Escalation and feedback after retention removed a concern's content, through the service layer.

The removal itself is the store's (store_retention.py, proven on PostgreSQL); here the fake unit
of work is given its outcome, and the use cases that cut the concern again are run on it.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from uuid import UUID

from schemas.v1 import NotificationKind, NotificationRoutedPayload
from services.common.auth import Caller, Role
from services.routing import casework
from services.routing.casework import DecisionRequested
from services.routing.retention import (
    PERSONAL_CONTENT,
    notification_without_content,
    retained_concern,
)
from services.routing.service import escalate_overdue, route_received_concerns
from services.routing.views import detail
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
REMOVED_AT = RECEIVED + timedelta(minutes=30)
LATE = RECEIVED + timedelta(days=2)
CSC = Caller(subject="sw-jones", agency="nm-csc", role=Role.CASEWORKER)


async def routed_then_removed(uow: FakeRoutingUnitOfWork) -> UUID:
    """Route a high concern from the hospital, then remove its content as the job would."""
    event = a_received_concern(severity="high")
    await route_received_concerns(
        uow, [event], partnership=the_reference_partnership(), secret=SECRET, now=RECEIVED
    )
    concern_id = event.payload.concern_id
    state = uow.committed
    state.concerns[concern_id] = retained_concern(
        state.concerns[concern_id].model_dump(mode="json"), removed_at=REMOVED_AT
    )
    for notification_id, stored in state.notifications.items():
        kept = notification_without_content(stored.notification.model_dump(mode="json"))
        state.notifications[notification_id] = dataclasses.replace(
            stored,
            notification=NotificationRoutedPayload.model_validate(kept),
            content_removed_at=REMOVED_AT,
        )
    return concern_id


def shown(n: NotificationRoutedPayload) -> set[str]:
    return set(n.concern.model_dump(mode="json"))


def of_kind(uow: FakeRoutingUnitOfWork, kind: NotificationKind) -> dict[str, Any]:
    return {
        s.notification.recipient_agency: s.notification
        for s in uow.stored()
        if s.notification.kind is kind
    }


async def test_an_escalation_after_removal_is_cut_from_what_is_left() -> None:
    uow = FakeRoutingUnitOfWork()
    await routed_then_removed(uow)
    await escalate_overdue(uow, the_reference_partnership(), now=LATE)
    escalations = of_kind(uow, NotificationKind.ESCALATION)
    assert {"nme-police", "nm-csc"} <= set(escalations)
    for escalation in escalations.values():
        assert not set(PERSONAL_CONTENT) & shown(escalation)
        assert "summary" in shown(escalation)
    assert "narrative" in escalations["nm-csc"].disclosed_fields


async def test_feedback_after_removal_is_cut_from_what_is_left() -> None:
    uow = FakeRoutingUnitOfWork()
    concern_id = await routed_then_removed(uow)
    csc = of_kind(uow, NotificationKind.CONCERN)["nm-csc"]
    await casework.decide_notification(
        uow, CSC, csc.notification_id, DecisionRequested("strategy_discussion", "Risk."),
        partnership=the_reference_partnership(), now=REMOVED_AT + timedelta(hours=1),
        correlation_id="c-1", path="/v1/notifications/x/decision",
    )  # fmt: skip
    feedback = of_kind(uow, NotificationKind.FEEDBACK)["nm-hospital-ed"]
    assert feedback.concern_id == concern_id
    assert not set(PERSONAL_CONTENT) & shown(feedback)
    assert {"narrative", "household"} <= set(feedback.disclosed_fields)


async def test_the_caseworker_sees_when_the_content_was_removed() -> None:
    uow = FakeRoutingUnitOfWork()
    await routed_then_removed(uow)
    stored = next(s for s in uow.stored() if s.notification.recipient_agency == "nm-csc")
    view = detail(stored, now=REMOVED_AT)
    assert view.content_removed_at == REMOVED_AT
    assert "narrative" in view.disclosed_fields
    assert view.concern.narrative is None
    assert "narrative" not in view.model_dump(mode="json")["concern"]
