"""Escalation of unacknowledged notifications, run directly against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.v1 import ConcernReceivedPayload, Submitter
from schemas.v1.events import EscalationReason
from services.common.db import UnitOfWork, make_engine
from services.common.outbox import outbox_table, stored_columns, unpacked
from services.partnership import Partnership
from services.routing import store, store_casework
from services.routing.app import migrate_routing
from services.routing.escalation import escalate_overdue, escalate_undecided
from services.routing.notifications import concern_notifications
from services.routing.policy import decide_recipients
from services.routing.settings import RoutingSettings
from tests.builders import a_concern, the_reference_partnership

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@dataclass
class Database:
    sessions: async_sessionmaker[AsyncSession]
    outbox: Table
    partnership: Partnership

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)


@pytest_asyncio.fixture(loop_scope="session")
async def database(service_environment: dict[str, str]) -> AsyncIterator[Database]:
    """Routing's schema, migrated, on the run's PostgreSQL."""
    await asyncio.to_thread(migrate_routing, service_environment["database_url"])
    engine = make_engine(RoutingSettings(**service_environment))
    # A table object of its own: the routing app of the run owns the one in store.metadata.
    outbox = outbox_table(MetaData(schema=store.SCHEMA))
    try:
        yield Database(async_sessionmaker(engine, expire_on_commit=False), outbox,
                       the_reference_partnership())  # fmt: skip
    finally:
        await engine.dispose()


async def route_overdue_concern(database: Database, *, source_agency: str, **changes: Any) -> Any:
    """Store a concern and its notifications as routing does, received two days ago."""
    received = ConcernReceivedPayload(
        concern_id=uuid4(),
        source_agency=source_agency,
        received_at=datetime.now(UTC) - timedelta(days=2),
        submitted_by=Submitter(subject="tester", role="agency_system"),
        concern=a_concern(**changes),
    )
    decision = decide_recipients(
        received.concern,
        source_agency=source_agency,
        received_at=received.received_at,
        partnership=database.partnership,
    )
    notifications = concern_notifications(received, decision)
    async with database.uow() as uow:
        await store.add_notifications(uow.session, notifications)
        await store.add_concerns(uow.session, [received])
        await uow.commit()
    return notifications


async def escalation_pass(database: Database) -> None:
    await escalate_overdue(database.uow(), database.outbox, database.partnership,
                           now=datetime.now(UTC))  # fmt: skip


async def escalations_of(
    database: Database, notification_id: UUID
) -> list[store.StoredNotification]:
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(store.notifications).where(
                store.notifications.c.payload["escalation_of"].astext == str(notification_id)
            )
        )
        return sorted((store._stored(row) for row in rows),
                      key=lambda s: s.notification.recipient_agency)  # fmt: skip


async def outbox_events(database: Database, event_type: str) -> list[dict[str, Any]]:
    outbox = database.outbox
    async with database.uow() as uow:
        rows = (await uow.session.execute(stored_columns(outbox))).all()
    events = [event for row in rows for event in unpacked(row)]
    return [json.loads(e.payload)["payload"] for e in events if e.event_type == event_type]


async def escalated_audits(database: Database, notification_id: UUID) -> int:
    return sum(
        1
        for payload in await outbox_events(database, "audit.event")
        if payload["action"] == "notification.escalated"
        and payload["notification_id"] == str(notification_id)
    )


async def test_overdue_notification_is_escalated_once_to_agency_and_home_social_care(
    database: Database,
) -> None:
    notifications = await route_overdue_concern(
        database, source_agency="nm-hospital-ed", category="neglect"
    )
    school = next(n for n in notifications if n.recipient_agency == "nm-school-oakfield")

    await escalation_pass(database)
    await escalation_pass(database)  # a second pass must escalate nothing again

    async with database.uow() as uow:
        original = await store.find_notification(uow.session, school.notification_id)
    assert original is not None
    assert original.status == "escalated"
    escalations = await escalations_of(database, school.notification_id)
    assert [e.notification.recipient_agency for e in escalations] == [
        "nm-csc", "nm-school-oakfield",
    ]  # fmt: skip
    to_school, to_csc = escalations[1].notification, escalations[0].notification
    assert to_school.kind.value == to_csc.kind.value == "escalation"
    assert to_school.reasons == to_csc.reasons == ["escalation"]
    assert to_school.disclosed_fields == school.disclosed_fields
    assert to_school.concern == school.concern
    assert "narrative" in to_csc.disclosed_fields  # the home social care's own, fuller profile
    assert to_school.acknowledge_by > datetime.now(UTC)
    assert all(e.status == "new" for e in escalations)
    assert await escalated_audits(database, school.notification_id) == 1
    announced = [
        payload["notification_id"]
        for payload in await outbox_events(database, "notification.routed")
        if payload["escalation_of"] == str(school.notification_id)
    ]
    assert sorted(announced) == sorted(str(e.notification.notification_id) for e in escalations)


async def test_escalations_are_not_escalated_and_the_original_can_still_be_acknowledged(
    database: Database,
) -> None:
    notifications = await route_overdue_concern(database, source_agency="nm-hospital-ed")
    await escalation_pass(database)
    csc = next(n for n in notifications if n.recipient_agency == "nm-csc")
    escalations = await escalations_of(database, csc.notification_id)
    escalation = escalations[0]
    assert [e.notification.recipient_agency for e in escalations] == ["nm-csc"]  # its own home

    async with database.uow() as uow:
        await uow.session.execute(
            store.notifications.update()
            .where(store.notifications.c.notification_id == escalation.notification.notification_id)
            .values(acknowledge_by=datetime.now(UTC) - timedelta(hours=1))
        )
        await uow.commit()
    await escalation_pass(database)
    assert await escalations_of(database, escalation.notification.notification_id) == []

    async with database.uow() as uow:
        assert await store.acknowledge(uow.session, csc.notification_id, by="sw-1",
                                       at=datetime.now(UTC))  # fmt: skip
        await uow.commit()
        acknowledged = await store.find_notification(uow.session, csc.notification_id)
    assert acknowledged is not None
    assert acknowledged.status == "acknowledged"


async def test_a_notification_within_its_deadline_is_left_alone(database: Database) -> None:
    notifications = await route_overdue_concern(database, source_agency="nm-hospital-ed")
    fresh = notifications[0]
    async with database.uow() as uow:
        await uow.session.execute(
            store.notifications.update()
            .where(store.notifications.c.notification_id == fresh.notification_id)
            .values(acknowledge_by=datetime.now(UTC) + timedelta(hours=1))
        )
        await uow.commit()
    await escalation_pass(database)
    async with database.uow() as uow:
        stored = await store.find_notification(uow.session, fresh.notification_id)
    assert stored is not None
    assert stored.status == "new"


async def test_an_undecided_notification_is_escalated_once_and_the_change_logged(
    database: Database,
) -> None:
    notifications = await route_overdue_concern(database, source_agency="nm-hospital-ed")
    csc = next(n for n in notifications if n.recipient_agency == "nm-csc")
    now = datetime.now(UTC)
    async with database.uow() as uow:
        assert await store.acknowledge(uow.session, csc.notification_id, by="sw-1", at=now)
        await uow.session.execute(
            store.notifications.update()
            .where(store.notifications.c.notification_id == csc.notification_id)
            .values(decide_by=now - timedelta(hours=1))
        )
        await uow.commit()

    for _ in range(2):  # a second pass must escalate nothing again
        await escalate_undecided(database.uow(), database.outbox, database.partnership, now=now)

    async with database.uow() as uow:
        original = await store.find_notification(uow.session, csc.notification_id)
        logged = (
            await uow.session.execute(
                select(store_casework.changes.c.notification_id, store_casework.changes.c.change)
                .where(store_casework.changes.c.notification_id == csc.notification_id)
                .order_by(store_casework.changes.c.seq)
            )
        ).all()
    assert original is not None
    assert (original.status, original.decision_escalated_at) == ("escalated", now)
    [escalation] = await escalations_of(database, csc.notification_id)
    assert escalation.notification.escalation_reason == EscalationReason.DECISION_OVERDUE
    assert escalation.notification.missed_by_agency == "nm-csc"
    reasons = [
        payload["details"]["reason"]
        for payload in await outbox_events(database, "audit.event")
        if payload["action"] == "notification.escalated"
        and payload["notification_id"] == str(csc.notification_id)
    ]
    assert reasons == ["decision_overdue"]
    assert [change for _, change in logged] == ["escalated"]
    changed = [
        payload
        for payload in await outbox_events(database, "notification.changed")
        if payload["notification_id"] == str(csc.notification_id)
    ]
    assert [(c["change"], c["status"]) for c in changed] == [("escalated", "escalated")]
