"""An agency's auditor sees only the entries about its agency; the partnership's sees them all."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, ExportFormat, Topic
from services.audit import service, service_integrity
from services.audit.unit_of_work import EntryFilters
from services.common.auth import Caller, Role
from tests.unit.audit.fakes import FakeAuditUnitOfWork

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
RAISED, ELSEWHERE = uuid4(), uuid4()
TO_CSC, TO_POLICE, TO_EV = uuid4(), uuid4(), uuid4()
ROUTING = Actor(subject="routing", agency=None, role="service")


def person(subject: str, agency: str, role: str = "caseworker") -> Actor:
    return Actor(subject=subject, agency=agency, role=role)


def an_event(
    action: AuditAction,
    actor: Actor,
    concern_id: UUID | None,
    notification_id: UUID | None = None,
    **details: str,
) -> AuditEvent:
    return AuditEvent(
        producer="test",
        correlation_id=f"test-{actor.subject}",
        payload=AuditEventPayload(
            action=action,
            actor=actor,
            concern_id=concern_id,
            notification_id=notification_id,
            details=dict(details),
        ),
    )


# seq: 1 submitted, 2 routed, 3-4 delivered (csc, police), 5-6 viewed, 7 refused look,
# 8-10 another concern, between police and Eastvale only.
LOG = [
    an_event(AuditAction.CONCERN_SUBMITTED, person("ed-system", "nm-hospital-ed", "agency_system"),
             RAISED),
    an_event(AuditAction.CONCERN_ROUTED, ROUTING, RAISED),
    an_event(AuditAction.NOTIFICATION_DELIVERED, ROUTING, RAISED, TO_CSC,
             recipient_agency="nm-csc"),
    an_event(AuditAction.NOTIFICATION_DELIVERED, ROUTING, RAISED, TO_POLICE,
             recipient_agency="nme-police"),
    an_event(AuditAction.NOTIFICATION_VIEWED, person("sw-1", "nm-csc"), RAISED, TO_CSC),
    an_event(AuditAction.NOTIFICATION_VIEWED, person("pc-1", "nme-police"), RAISED, TO_POLICE),
    an_event(AuditAction.ACCESS_DENIED, person("nosy", "ev-school-hilltop"), RAISED, TO_CSC),
    an_event(AuditAction.CONCERN_SUBMITTED, person("police-system", "nme-police", "agency_system"),
             ELSEWHERE),
    an_event(AuditAction.NOTIFICATION_DELIVERED, ROUTING, ELSEWHERE, TO_EV,
             recipient_agency="ev-csc"),
    an_event(AuditAction.NOTIFICATION_VIEWED, person("sw-9", "ev-csc"), ELSEWHERE, TO_EV),
]  # fmt: skip


def auditor(agency: str, role: Role = Role.AUDITOR) -> Caller:
    return Caller(subject=f"ig-{agency}", agency=agency, role=role)


PARTNERSHIP = auditor("nm-csc", Role.PARTNERSHIP_AUDITOR)


async def a_log() -> FakeAuditUnitOfWork:
    uow = FakeAuditUnitOfWork()
    await service.append_audit_events(uow, LOG, signing_key=KEY, now=NOW)
    return uow


async def seqs(uow: FakeAuditUnitOfWork, caller: Caller, **filters: object) -> list[int]:
    asked = EntryFilters(**filters)  # type: ignore[arg-type]
    page = await service.find_audit_events(
        uow, caller, asked, limit=100, cursor=0, correlation_id="c"
    )
    return [item.seq for item in page.items]


def recorded(uow: FakeAuditUnitOfWork) -> list[AuditAction]:
    events = [m.event for m in uow.outbox.on(Topic.AUDIT_EVENTS)]
    return [e.payload.action for e in events if isinstance(e, AuditEvent)]


@pytest.mark.parametrize(
    ("agency", "expected"),
    [
        # A recipient: how the concern reached it, and every look at its own notification.
        ("nm-csc", [1, 2, 3, 5, 7]),
        # The source: everything about the concern it raised.
        ("nm-hospital-ed", [1, 2, 3, 4, 5, 6, 7]),
        ("nme-police", [1, 2, 4, 6, 8, 9, 10]),
        # Its staff's refused look is what it did.
        ("ev-school-hilltop", [7]),
        ("ev-csc", [8, 9, 10]),
    ],
)
async def test_an_agencys_auditor_sees_only_the_entries_about_its_agency(
    agency: str, expected: list[int]
) -> None:
    uow = await a_log()
    assert await seqs(uow, auditor(agency)) == expected
    assert recorded(uow) == [AuditAction.AUDIT_QUERIED]


async def test_the_partnership_auditor_sees_every_entry() -> None:
    uow = await a_log()
    assert await seqs(uow, PARTNERSHIP) == list(range(1, 11))
    assert await seqs(uow, PARTNERSHIP, agency="ev-csc") == [10]
    assert await seqs(uow, PARTNERSHIP, concern_id=ELSEWHERE) == [8, 9, 10]
    assert AuditAction.ACCESS_DENIED not in recorded(uow)


async def test_asking_for_another_agency_answers_empty_and_is_audited_as_access_denied() -> None:
    uow = await a_log()
    assert await seqs(uow, auditor("nm-csc"), agency="ev-csc") == []
    assert recorded(uow) == [AuditAction.AUDIT_QUERIED, AuditAction.ACCESS_DENIED]
    [denied] = [
        m.event for m in uow.outbox.committed if m.event.payload.action is AuditAction.ACCESS_DENIED
    ]
    assert isinstance(denied, AuditEvent)
    assert denied.payload.actor == auditor("nm-csc").as_actor()
    assert denied.payload.details["query"] == "events"
    assert denied.payload.details["agency"] == "ev-csc"


async def test_another_agencys_concern_answers_like_a_missing_one_and_is_audited() -> None:
    uow = await a_log()
    csc = auditor("nm-csc")
    other = await service.concern_trail(uow, csc, ELSEWHERE, correlation_id="c")
    missing = await service.concern_trail(uow, csc, uuid4(), correlation_id="c")
    assert other == missing
    assert other.items == []
    assert recorded(uow).count(AuditAction.ACCESS_DENIED) == 2
    own = await service.concern_trail(uow, csc, RAISED, correlation_id="c")
    assert [item.seq for item in own.items] == [1, 2, 3, 5, 7]
    assert await seqs(uow, csc, concern_id=ELSEWHERE) == []


async def test_exports_and_a_persons_accesses_are_narrowed_too() -> None:
    uow = await a_log()
    csc = auditor("nm-csc")
    chunks = await service.export_entries(uow, csc, EntryFilters(), ExportFormat.CSV,
                                          correlation_id="c")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO("".join([c async for c in chunks]))))
    assert [row["seq"] for row in rows] == ["1", "2", "3", "5", "7"]
    refused = await service.export_trail(uow, csc, ELSEWHERE, ExportFormat.JSON,
                                         correlation_id="c")  # fmt: skip
    assert "".join([c async for c in refused]).strip() == "[]"
    police_look = await service.person_accesses(
        uow, csc, "pc-1", agency=None, since=None, until=None, limit=10, cursor=0,
        correlation_id="c",
    )  # fmt: skip
    assert police_look.items == []
    nosy = await service.person_accesses(
        uow, csc, "nosy", agency=None, since=None, until=None, limit=10, cursor=0,
        correlation_id="c",
    )  # fmt: skip
    assert [item.seq for item in nosy.items] == [7]
    assert recorded(uow).count(AuditAction.ACCESS_DENIED) == 1


async def test_a_proof_of_an_entry_about_another_agency_answers_404_and_is_audited() -> None:
    uow = await a_log()
    csc = auditor("nm-csc")
    proof = await service_integrity.entry_proof(uow, csc, 3, correlation_id="c")
    assert proof.seq == 3
    with pytest.raises(service.NotRecorded, match="does not exist"):
        await service_integrity.entry_proof(uow, csc, 4, correlation_id="c")
    assert recorded(uow).count(AuditAction.ACCESS_DENIED) == 1
    assert (await service_integrity.entry_proof(uow, PARTNERSHIP, 4, correlation_id="c")).seq == 4


@pytest.mark.parametrize("caller", [auditor("ev-csc"), PARTNERSHIP])
async def test_both_kinds_of_auditor_verify_the_whole_log(caller: Caller) -> None:
    uow = await a_log()
    verdict = await service_integrity.verify_log(uow, caller, KEY.public_key(), correlation_id="c")
    assert (verdict.ok, verdict.entries) == (True, len(LOG))
    head = await service_integrity.latest_tree_head(uow, caller, correlation_id="c")
    assert head.tree_size == len(LOG)
    assert AuditAction.ACCESS_DENIED not in recorded(uow)
