"""Audit's use cases through an in-memory unit of work: appending batches, auditors' queries."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, ExportFormat, Topic
from services.audit import service, service_integrity
from services.audit.chain import canonical_bytes, entry_content, verify_chain
from services.audit.proofs import check_consistency, check_inclusion
from services.audit.tree_head import verify_tree_head
from services.audit.unit_of_work import EntryFilters
from services.common.auth import Caller, Role
from tests.unit.audit.fakes import FakeAuditUnitOfWork

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
AUDITOR = Caller(subject="ig-lead", agency="nm-csc", role=Role.AUDITOR)
CONCERN = uuid4()
NO_FILTERS: dict[str, Any] = {"agency": None, "since": None, "until": None}


def an_event(
    subject: str = "sw-1",
    action: AuditAction = AuditAction.NOTIFICATION_VIEWED,
    concern_id: UUID | None = CONCERN,
) -> AuditEvent:
    return AuditEvent(
        producer="routing",
        correlation_id=f"test-{subject}",
        payload=AuditEventPayload(
            action=action,
            actor=Actor(subject=subject, agency="nm-csc", role="caseworker"),
            concern_id=concern_id,
            fields=["subject", "summary"],
        ),
    )


async def append(uow: FakeAuditUnitOfWork, *events: AuditEvent) -> service.AppendedBatch:
    return await service.append_audit_events(uow, events, signing_key=KEY, now=NOW)


async def a_log(*batches: list[AuditEvent]) -> FakeAuditUnitOfWork:
    uow = FakeAuditUnitOfWork()
    for batch in batches:
        await append(uow, *batch)
    return uow


async def test_a_batch_is_chained_in_order_and_verifies() -> None:
    events = [an_event(f"sw-{n}") for n in range(3)]
    uow = FakeAuditUnitOfWork()
    batch = await append(uow, *events)
    assert (batch.received, batch.appended) == (3, 3)
    rows = [row async for row in uow.entries.chain()]
    assert [row.seq for row in rows] == [1, 2, 3]
    assert [row.content for row in rows] == [canonical_bytes(entry_content(e)) for e in events]
    assert verify_chain(rows).ok
    assert uow.commits == 1


async def test_an_event_delivered_twice_is_appended_once() -> None:
    twice, later, last = an_event("sw-a"), an_event("sw-b"), an_event("sw-c")
    uow = FakeAuditUnitOfWork()
    assert (await append(uow, twice, twice, later)).appended == 2
    assert (await append(uow, later, last, twice)).appended == 1
    rows = [row async for row in uow.entries.chain()]
    ids = [json.loads(row.content)["event_id"] for row in rows]
    assert ids == [str(twice.event_id), str(later.event_id), str(last.event_id)]
    assert verify_chain(rows).ok


async def test_a_tree_head_is_signed_after_each_batch() -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")])
    batch = await append(uow, an_event("sw-c"))
    heads = await uow.tree.heads()
    assert batch.tree_size == 3
    assert [head.tree_size for head in heads] == [2, 3]
    signed = [head.signed() for head in heads]
    assert all(s is not None and verify_tree_head(KEY.public_key(), s) for s in signed)


async def test_a_batch_of_redeliveries_adds_no_entry_and_no_head() -> None:
    event = an_event()
    uow = await a_log([event])
    batch = await append(uow, event)
    assert (batch.appended, batch.tree_size) == (0, None)
    assert [head.tree_size for head in await uow.tree.heads()] == [1]


async def test_without_a_key_the_tree_head_is_unsigned() -> None:
    uow = FakeAuditUnitOfWork()
    await service.append_audit_events(uow, [an_event()], signing_key=None, now=NOW)
    head = await uow.tree.latest_head()
    assert head is not None
    assert (head.tree_size, head.signature, head.signed()) == (1, None, None)


Query = Callable[[FakeAuditUnitOfWork, Caller], Awaitable[Any]]
QUERIES: dict[str, Query] = {
    "events": lambda uow, caller: service.find_audit_events(
        uow, caller, EntryFilters(), limit=10, cursor=0, correlation_id="corr"
    ),
    "trail": lambda uow, caller: service.concern_trail(uow, caller, CONCERN, correlation_id="corr"),
    "export": lambda uow, caller: service.export_entries(
        uow, caller, EntryFilters(), ExportFormat.CSV, correlation_id="corr"
    ),
    "person-accesses": lambda uow, caller: service.person_accesses(
        uow, caller, "sw-a", **NO_FILTERS, limit=10, cursor=0, correlation_id="corr"
    ),
    "verify": lambda uow, caller: service_integrity.verify_log(
        uow, caller, KEY.public_key(), correlation_id="corr"
    ),
    "tree-head": lambda uow, caller: service_integrity.latest_tree_head(
        uow, caller, correlation_id="corr"
    ),
    "inclusion-proof": lambda uow, caller: service_integrity.entry_proof(
        uow, caller, 1, correlation_id="corr"
    ),
    "consistency-proof": lambda uow, caller: service_integrity.consistency(
        uow, caller, 2, 3, correlation_id="corr"
    ),
}


def queried(uow: FakeAuditUnitOfWork) -> list[AuditEvent]:
    events = [message.event for message in uow.outbox.on(Topic.AUDIT_EVENTS)]
    assert all(isinstance(event, AuditEvent) for event in events)
    return [event for event in events if isinstance(event, AuditEvent)]


@pytest.mark.parametrize("name", QUERIES)
async def test_each_query_writes_its_audit_queried_entry_to_the_outbox(name: str) -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")], [an_event("sw-c")])
    await QUERIES[name](uow, AUDITOR)
    [event] = queried(uow)
    assert event.producer == "audit"
    assert event.correlation_id == "corr"
    assert event.payload.action is AuditAction.AUDIT_QUERIED
    assert event.payload.actor == AUDITOR.as_actor()
    assert event.payload.details["query"] == name
    assert [message.key for message in uow.outbox.committed] == [None]


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.AGENCY_SYSTEM])
@pytest.mark.parametrize("name", QUERIES)
async def test_only_auditors_may_query_and_a_refusal_writes_nothing(name: str, role: Role) -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")], [an_event("sw-c")])
    with pytest.raises(service.NotAnAuditor, match="auditor"):
        await QUERIES[name](uow, Caller(subject="curious", agency="nm-csc", role=role))
    assert uow.outbox.committed == []


async def test_a_query_that_finds_nothing_is_still_on_record() -> None:
    uow = FakeAuditUnitOfWork()
    with pytest.raises(service.NotRecorded):
        await service_integrity.latest_tree_head(uow, AUDITOR, correlation_id="corr")
    with pytest.raises(service_integrity.SizesReversed):
        await service_integrity.consistency(uow, AUDITOR, 3, 2, correlation_id="corr")
    assert [e.payload.details["query"] for e in queried(uow)] == ["tree-head", "consistency-proof"]


async def test_a_query_records_its_filters_and_concern_but_no_content() -> None:
    uow = await a_log([an_event("sw-a")])
    filters = EntryFilters(concern_id=CONCERN, actor="sw-a", action="notification.viewed")
    await service.find_audit_events(uow, AUDITOR, filters, limit=5, cursor=0, correlation_id="c")
    [event] = queried(uow)
    assert event.payload.concern_id == CONCERN
    assert event.payload.details == {
        "query": "events",
        "concern_id": str(CONCERN),
        "actor": "sw-a",
        "action": "notification.viewed",
    }


async def test_events_come_a_page_at_a_time_oldest_first() -> None:
    uow = await a_log([an_event(f"sw-{n}") for n in range(5)])
    first = await service.find_audit_events(
        uow, AUDITOR, EntryFilters(), limit=2, cursor=0, correlation_id="c"
    )
    assert ([e.seq for e in first.items], first.next_cursor) == ([1, 2], "2")
    last = await service.find_audit_events(
        uow, AUDITOR, EntryFilters(), limit=3, cursor=2, correlation_id="c"
    )
    assert ([e.seq for e in last.items], last.next_cursor) == ([3, 4, 5], None)
    assert last.items[0].content().actor.subject == "sw-2"


async def test_a_persons_accesses_leave_out_what_they_did_not_see() -> None:
    other = uuid4()
    uow = await a_log(
        [
            an_event("sw-a", AuditAction.NOTIFICATION_LISTED),
            an_event("sw-a", AuditAction.AUDIT_QUERIED, concern_id=None),
            an_event("sw-b", AuditAction.NOTIFICATION_VIEWED),
            an_event("sw-a", AuditAction.ACCESS_DENIED, concern_id=other),
        ]
    )
    history = await service.person_accesses(
        uow, AUDITOR, "sw-a", **NO_FILTERS, limit=10, cursor=0, correlation_id="c"
    )
    assert history.subject == "sw-a"
    assert [(a.action, a.concern_id) for a in history.items] == [
        (AuditAction.NOTIFICATION_LISTED, CONCERN),
        (AuditAction.ACCESS_DENIED, other),
    ]
    assert history.items[0].fields == ["subject", "summary"]


async def test_a_trail_holds_only_that_concerns_entries_with_a_summary() -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b", concern_id=uuid4()), an_event("sw-c")])
    trail = await service.concern_trail(uow, AUDITOR, CONCERN, correlation_id="c")
    assert [e.seq for e in trail.items] == [1, 3]
    assert [step.who.subject for step in trail.summary] == ["sw-a", "sw-c"]


async def test_an_export_streams_every_matching_entry_as_csv_or_json() -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")], [an_event("sw-a")])
    by_a = EntryFilters(actor="sw-a")
    chunks = await service.export_entries(uow, AUDITOR, by_a, ExportFormat.CSV, correlation_id="")
    rows = list(csv.DictReader(io.StringIO("".join([c async for c in chunks]))))
    assert [row["seq"] for row in rows] == ["1", "3"]
    chunks = await service.export_trail(uow, AUDITOR, CONCERN, ExportFormat.JSON, correlation_id="")
    exported = json.loads("".join([c async for c in chunks]))
    assert [item["seq"] for item in exported] == [1, 2, 3]
    assert [e.payload.details.get("format") for e in queried(uow)] == ["csv", "json"]


async def test_verify_finds_a_changed_entry_at_its_seq() -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")], [an_event("sw-c")])
    intact = await service_integrity.verify_log(uow, AUDITOR, KEY.public_key(), correlation_id="c")
    assert (intact.ok, intact.entries, intact.tree_size) == (True, 3, 3)
    assert intact.latest_tree_head == await uow.tree.latest_head()
    original = await uow.entries.content(seq=2)
    assert original is not None
    uow.entries.tamper(2, original.replace(b"sw-b", b"sw-x"))
    altered = await service_integrity.verify_log(uow, AUDITOR, KEY.public_key(), correlation_id="c")
    assert (altered.ok, altered.first_bad_seq, altered.fault) == (False, 2, "content_changed")


async def test_proofs_check_offline_against_the_signed_heads() -> None:
    uow = await a_log([an_event("sw-a"), an_event("sw-b")], [an_event("sw-c")])
    proof = await service_integrity.entry_proof(uow, AUDITOR, 2, correlation_id="c")
    assert check_inclusion(proof, KEY.public_key()) is None
    assert proof.tree_head.tree_size == 3
    consistency = await service_integrity.consistency(uow, AUDITOR, 2, 3, correlation_id="c")
    assert check_consistency(consistency, KEY.public_key()) is None
    with pytest.raises(service.NotRecorded, match="not yet covered"):
        await service_integrity.entry_proof(uow, AUDITOR, 4, correlation_id="c")
    with pytest.raises(service.NotRecorded, match="recorded tree heads"):
        await service_integrity.consistency(uow, AUDITOR, 1, 3, correlation_id="c")
