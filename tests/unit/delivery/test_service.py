"""Delivery's use cases through the fake unit of work: record, claim, settle, list, redeliver."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.v1 import NotificationKind
from schemas.v1.delivery import DeliveryStatus
from services.common.auth import Caller, Role
from services.delivery import service
from services.delivery.deliveries import DestinationKey
from services.delivery.policy import AttemptResult, Lease, RetrySchedule
from services.delivery.service import (
    DeliveryNotFound,
    EndedAttempt,
    NotRedeliverable,
    RetryPolicy,
)
from services.partnership import Partnership
from tests.builders import RECEIVED
from tests.delivery_builders import a_partnership_with, a_routed_notification
from tests.unit.delivery.fakes import FakeDeliveryUnitOfWork

NOW = RECEIVED
HOOK = DestinationKey("nm-school-oakfield", "safeguarding-log")
FEED = DestinationKey("nm-school-oakfield", "feed")
RETRY = RetryPolicy(RetrySchedule(), timedelta(days=1))
LEASE = Lease(timedelta(seconds=30), bound=4)
ADMIN = Caller(subject="it-lead", agency="nm-school-oakfield", role=Role.DELIVERY_ADMIN)
OTHER = Caller(subject="it-lead", agency="nm-csc", role=Role.DELIVERY_ADMIN)


@pytest.fixture
def partnership(tmp_path: Path) -> Partnership:
    hook = {"id": "safeguarding-log", "kind": "webhook", "url": "https://log.oakfield.example/in",
            "secret_env": "OAKFIELD_SECRET"}  # fmt: skip
    return a_partnership_with(
        {"nm-school-oakfield": [hook, {"id": "feed", "kind": "kafka"}]}, tmp_path
    )


async def recorded(uow: FakeDeliveryUnitOfWork, partnership: Partnership, count: int = 1) -> None:
    events = [a_routed_notification(partnership=partnership) for _ in range(count)]
    await service.record_routed_notifications(uow, events, partnership=partnership, now=NOW)


async def test_each_notification_is_recorded_once_per_destination_however_often_it_comes(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    event = a_routed_notification(partnership=partnership)
    for _ in range(2):
        woken = await service.record_routed_notifications(
            uow, [event, event], partnership=partnership, now=NOW
        )
    assert woken == {HOOK, FEED}
    stored = uow.stored()
    assert sorted(d.destination for d in stored) == ["feed", "safeguarding-log"]
    assert {d.event_id for d in stored} == {event.event_id}
    assert {d.status for d in stored} == {DeliveryStatus.PENDING}


async def test_every_kind_of_notification_is_delivered(partnership: Partnership) -> None:
    uow = FakeDeliveryUnitOfWork()
    events = [
        a_routed_notification(partnership=partnership, kind=kind) for kind in NotificationKind
    ]
    await service.record_routed_notifications(uow, events, partnership=partnership, now=NOW)
    kinds = {json.loads(d.body)["notification"]["kind"] for d in uow.stored()}
    assert kinds == {kind.value for kind in NotificationKind}


async def test_an_agency_without_destinations_gets_nothing_recorded(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    event = a_routed_notification("nm-csc", partnership=partnership)
    assert await service.record_routed_notifications(
        uow, [event], partnership=partnership, now=NOW
    ) == set()  # fmt: skip
    assert uow.stored() == []
    assert uow.commits == 0


async def test_the_body_is_what_the_caseworker_sees_and_never_more(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    event = a_routed_notification(partnership=partnership)
    await service.record_routed_notifications(uow, [event], partnership=partnership, now=NOW)
    body = json.loads(uow.stored()[0].body)
    assert body["type"] == "notification.routed"
    notification = body["notification"]
    assert notification["notification_id"] == str(event.payload.notification_id)
    assert "child_id" not in notification
    school_fields = set(partnership.sharing_profiles["school"])
    assert set(notification["disclosed_fields"]) <= school_fields
    assert "narrative" not in notification["concern"]
    assert "household" not in notification["concern"]


async def test_a_claim_takes_due_deliveries_up_to_the_bound_and_audits_each_attempt(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=3)

    claimed = await service.claim_attempts(uow, HOOK, now=NOW, limit=2, lease=LEASE)

    assert [d.attempts for d in claimed] == [1, 1]
    assert await service.claim_attempts(uow, HOOK, now=NOW, limit=5, lease=LEASE) != []
    assert await service.claim_attempts(uow, HOOK, now=NOW, limit=5, lease=LEASE) == []
    again = await service.claim_attempts(uow, HOOK, now=NOW + LEASE.per_round, limit=5, lease=LEASE)
    assert [d.attempts for d in again] == [2, 2, 2]  # a lease that ran out: the process died
    attempted = uow.audits("delivery.attempted")
    assert len(attempted) == 6
    first = attempted[0]
    assert first["details"]["destination"] == "safeguarding-log"
    assert first["details"]["attempt"] == 1
    assert first["notification_id"] == str(claimed[0].notification_id)
    assert first["concern_id"] == str(claimed[0].concern_id)


async def test_audit_records_carry_no_body(partnership: Partnership) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership)
    [delivery] = await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE)
    await service.settle_attempt(uow, delivery, AttemptResult(status_code=500),
                                 now=NOW, retry=RETRY, draw=0.0)  # fmt: skip
    text = json.dumps(uow.audits())
    assert "Child arrived at school" not in text
    assert "Amelia" not in text
    assert "OAKFIELD_SECRET" not in text


async def test_a_success_is_delivered_and_audited_with_its_status(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership)
    [delivery] = await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE)

    await service.settle_attempt(uow, delivery, AttemptResult(status_code=204),
                                 now=NOW, retry=RETRY, draw=0.0)  # fmt: skip

    stored = next(d for d in uow.stored() if d.key == HOOK)
    assert stored.status is DeliveryStatus.DELIVERED
    assert stored.delivered_at == NOW
    [succeeded] = uow.audits("delivery.succeeded")
    assert succeeded["details"] | {"http_status": 204, "attempt": 1} == succeeded["details"]


async def test_a_failure_is_retried_after_the_schedule_with_the_attempt_kept(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership)
    [delivery] = await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE)

    step = await service.settle_attempt(uow, delivery, AttemptResult(status_code=503),
                                        now=NOW, retry=RETRY, draw=0.0)  # fmt: skip

    assert step.next_attempt_at == NOW + timedelta(seconds=2.5)
    assert await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE) == []
    [retry] = await service.claim_attempts(
        uow, HOOK, now=NOW + timedelta(seconds=3), limit=1, lease=LEASE
    )
    assert retry.attempts == 2
    assert retry.last_status_code == 503
    [failed] = uow.audits("delivery.failed")
    assert failed["details"]["http_status"] == 503
    assert failed["details"]["error"] == "http_503"


async def test_past_the_window_it_is_dead_lettered(partnership: Partnership) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership)
    later = NOW + timedelta(days=1)
    [delivery] = await service.claim_attempts(uow, HOOK, now=later, limit=1, lease=LEASE)
    await service.settle_attempt(uow, delivery, AttemptResult(error="timeout"),
                                 now=later, retry=RETRY, draw=0.0)  # fmt: skip
    assert next(d for d in uow.stored() if d.key == HOOK).status is DeliveryStatus.DEAD_LETTERED
    [dead] = uow.audits("delivery.dead_lettered")
    assert dead["details"]["error"] == "timeout"


async def test_gone_disables_the_destination_and_its_pending_deliveries_only(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=3)
    [delivery] = await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE)

    step = await service.settle_attempt(uow, delivery, AttemptResult(status_code=410),
                                        now=NOW, retry=RETRY, draw=0.0)  # fmt: skip

    assert step.disables_destination
    by_destination = {(d.destination, d.status) for d in uow.stored()}
    assert by_destination == {("safeguarding-log", DeliveryStatus.DISABLED),
                              ("feed", DeliveryStatus.PENDING)}  # fmt: skip
    [failed] = uow.audits("delivery.failed")
    assert failed["details"]["destination_disabled"] is True
    assert failed["details"]["deliveries_disabled"] == 3
    await recorded(uow, partnership)
    newest = [d for d in uow.stored() if d.key == HOOK][-1]
    assert newest.status is DeliveryStatus.DISABLED


async def test_listing_is_the_agencys_own_newest_first_and_by_status(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=2)
    found = await service.list_deliveries(uow, ADMIN, agency=ADMIN.agency, status=None,
                                          limit=10, before_seq=None)  # fmt: skip
    assert [d.seq for d in found] == [4, 3, 2, 1]
    pending = await service.list_deliveries(uow, ADMIN, agency=ADMIN.agency,
                                            status=DeliveryStatus.FAILED, limit=10,
                                            before_seq=None)  # fmt: skip
    assert pending == []
    with pytest.raises(PermissionError):
        await service.list_deliveries(uow, OTHER, agency=ADMIN.agency, status=None, limit=10,
                                      before_seq=None)  # fmt: skip


async def dead_letter(uow: FakeDeliveryUnitOfWork, partnership: Partnership):  # type: ignore[no-untyped-def]
    await recorded(uow, partnership)
    later = NOW + timedelta(days=1)
    [delivery] = await service.claim_attempts(uow, HOOK, now=later, limit=1, lease=LEASE)
    await service.settle_attempt(uow, delivery, AttemptResult(error="connection"),
                                 now=later, retry=RETRY, draw=0.0)  # fmt: skip
    return delivery


async def test_a_dead_letter_redelivered_is_pending_again_with_its_attempts_kept(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    delivery = await dead_letter(uow, partnership)
    then = NOW + timedelta(days=2)

    again = await service.redeliver(uow, ADMIN, delivery.delivery_id, now=then,
                                    correlation_id="c-1", path="/x")  # fmt: skip

    assert again.status is DeliveryStatus.PENDING
    assert again.attempts == 1
    assert again.window_started_at == then
    [retry] = await service.claim_attempts(uow, HOOK, now=then, limit=1, lease=LEASE)
    assert retry.attempts == 2
    [redelivered] = uow.audits("delivery.redelivered")
    assert redelivered["actor"] == {"subject": "it-lead", "agency": "nm-school-oakfield",
                                    "role": "delivery_admin"}  # fmt: skip
    assert redelivered["details"]["previous_status"] == "dead_lettered"


async def test_another_agencys_delivery_is_not_found_and_the_attempt_is_audited(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    delivery = await dead_letter(uow, partnership)
    with pytest.raises(DeliveryNotFound):
        await service.redeliver(uow, OTHER, delivery.delivery_id, now=NOW,
                                correlation_id="c-1", path="/x")  # fmt: skip
    [denied] = uow.audits("access.denied")
    assert denied["actor"]["agency"] == "nm-csc"
    assert next(d for d in uow.stored() if d.key == HOOK).status is DeliveryStatus.DEAD_LETTERED


async def test_a_pending_or_delivered_one_is_not_redelivered(partnership: Partnership) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership)
    pending = uow.stored()[0]
    with pytest.raises(NotRedeliverable):
        await service.redeliver(uow, ADMIN, pending.delivery_id, now=NOW,
                                correlation_id="c-1", path="/x")  # fmt: skip
    assert uow.audits("delivery.redelivered") == []


async def test_redelivering_a_disabled_one_takes_its_destination_back(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=2)
    [delivery] = await service.claim_attempts(uow, HOOK, now=NOW, limit=1, lease=LEASE)
    await service.settle_attempt(uow, delivery, AttemptResult(status_code=410),
                                 now=NOW, retry=RETRY, draw=0.0)  # fmt: skip

    await service.redeliver(uow, ADMIN, delivery.delivery_id, now=NOW,
                            correlation_id="c-1", path="/x")  # fmt: skip

    assert {d.status for d in uow.stored()} == {DeliveryStatus.PENDING}
    assert len(uow.audits("delivery.redelivered")) == 2
    assert uow.committed.disabled == {}


async def test_attempts_settled_together_commit_once_and_a_410_among_them_disables_first(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=6)
    claimed = await service.claim_attempts(uow, HOOK, now=NOW, limit=5, lease=LEASE)
    results = [
        AttemptResult(status_code=204),
        AttemptResult(status_code=410),
        AttemptResult(error="timeout"),
        AttemptResult(status_code=410),
        AttemptResult(status_code=400),
    ]
    commits = uow.commits

    steps = await service.settle_attempts(
        uow, [EndedAttempt(d, r, 0.0) for d, r in zip(claimed, results, strict=True)],
        now=NOW, retry=RETRY,
    )  # fmt: skip

    assert uow.commits == commits + 1
    assert uow.deliveries.outcome_writes == 1
    # Only the first 410 disables; the retry in flight with it stays disabled, not pending.
    assert [s.disables_destination for s in steps] == [False, True, False, False, False]
    stored = {d.delivery_id: d for d in uow.stored()}
    assert [stored[d.delivery_id].status for d in claimed] == [
        DeliveryStatus.DELIVERED, DeliveryStatus.DISABLED, DeliveryStatus.DISABLED,
        DeliveryStatus.DISABLED, DeliveryStatus.FAILED,
    ]  # fmt: skip
    [unclaimed] = [d for d in uow.stored() if d.key == HOOK and d.attempts == 0]
    assert unclaimed.status is DeliveryStatus.DISABLED
    assert uow.committed.disabled == {HOOK: claimed[1].delivery_id}
    [succeeded] = uow.audits("delivery.succeeded")
    assert succeeded["details"]["delivery_id"] == str(claimed[0].delivery_id)
    failed = uow.audits("delivery.failed")
    assert len(failed) == 4
    [gone] = [a for a in failed if a["details"].get("destination_disabled")]
    assert gone["details"]["delivery_id"] == str(claimed[1].delivery_id)
    assert gone["details"]["deliveries_disabled"] == 6  # all pending then, these five included


async def test_a_batch_keeps_each_attempts_own_retry_its_retry_after_and_a_dead_letter(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    old = a_routed_notification(partnership=partnership)
    day_before = NOW - timedelta(days=1)
    await service.record_routed_notifications(uow, [old], partnership=partnership, now=day_before)
    await recorded(uow, partnership, count=2)
    claimed = await service.claim_attempts(uow, HOOK, now=NOW, limit=5, lease=LEASE)
    assert claimed[0].event_id == old.event_id
    results = [
        AttemptResult(status_code=503),
        AttemptResult(status_code=503),
        AttemptResult(status_code=429, retry_after="60"),
    ]

    steps = await service.settle_attempts(
        uow, [EndedAttempt(d, r, 0.0) for d, r in zip(claimed, results, strict=True)],
        now=NOW, retry=RETRY,
    )  # fmt: skip

    assert [s.status for s in steps] == [
        DeliveryStatus.DEAD_LETTERED, DeliveryStatus.PENDING, DeliveryStatus.PENDING
    ]  # fmt: skip
    assert [s.next_attempt_at for s in steps] == [
        None, NOW + timedelta(seconds=2.5), NOW + timedelta(seconds=60)
    ]  # fmt: skip
    stored = {d.delivery_id: d for d in uow.stored()}
    assert [stored[d.delivery_id].status for d in claimed] == [s.status for s in steps]
    [dead] = uow.audits("delivery.dead_lettered")
    assert dead["details"]["delivery_id"] == str(claimed[0].delivery_id)
    assert {a["details"]["retry_at"] for a in uow.audits("delivery.failed")} == {
        None, (NOW + timedelta(seconds=2.5)).isoformat(), (NOW + timedelta(seconds=60)).isoformat()
    }  # fmt: skip
    assert uow.deliveries.outcome_writes == 1


async def test_withheld_deliveries_are_audited_as_not_sent_and_left_disabled(
    partnership: Partnership,
) -> None:
    uow = FakeDeliveryUnitOfWork()
    await recorded(uow, partnership, count=3)
    first, *held = await service.claim_attempts(uow, HOOK, now=NOW, limit=5, lease=LEASE)
    await service.settle_attempt(uow, first, AttemptResult(status_code=410),
                                 now=NOW, retry=RETRY, draw=0.0)  # fmt: skip

    assert await service.settle_attempts(uow, [], withheld=held, now=NOW, retry=RETRY) == []

    stored = {d.delivery_id: d for d in uow.stored()}
    assert {stored[d.delivery_id].status for d in held} == {DeliveryStatus.DISABLED}
    assert {stored[d.delivery_id].attempts for d in held} == {1}
    withheld = [a for a in uow.audits("delivery.failed") if a["details"].get("sent") is False]
    assert sorted(a["details"]["delivery_id"] for a in withheld) == sorted(
        str(d.delivery_id) for d in held
    )
    assert {a["details"]["error"] for a in withheld} == {"destination_disabled"}
    assert {a["details"]["attempt"] for a in withheld} == {1}
