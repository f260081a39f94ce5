"""Delivery's tables on real PostgreSQL: a destination disabled while deliveries are recorded
for it, or while attempts at it are in flight, leaves none of them pending behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schemas.v1.delivery import DeliveryStatus
from services.common.db import UnitOfWork, make_engine
from services.common.outbox import outbox_table, stored_columns, unpacked
from services.delivery import service, store
from services.delivery.app import migrate_delivery
from services.delivery.deliveries import (
    Delivery,
    DestinationKey,
    NewDelivery,
    Outcome,
    deliveries_of,
)
from services.delivery.policy import AttemptResult, Lease, RetrySchedule
from services.delivery.service import EndedAttempt, RetryPolicy
from services.delivery.settings import DeliverySettings
from services.delivery.unit_of_work import SqlDeliveryUnitOfWork
from tests.delivery_builders import a_partnership_with, a_routed_notification

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime.now(UTC)
LEASE = timedelta(minutes=1)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(service_environment: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's PostgreSQL with delivery's schema migrated."""
    await asyncio.to_thread(migrate_delivery, service_environment["database_url"])
    engine = make_engine(DeliverySettings(**service_environment))
    try:
        yield engine
    finally:
        await engine.dispose()


def new_deliveries(tmp_path: Path, count: int) -> tuple[DestinationKey, list[NewDelivery]]:
    """Deliveries to a destination of its own (a fresh id, so no other case shares it)."""
    name = f"gone-{uuid4().hex[:8]}"
    hook = {"id": name, "kind": "webhook", "url": "https://log.example/in", "secret_env": "K"}
    partnership = a_partnership_with({"nm-health-visiting": [hook]}, tmp_path)
    events = [
        a_routed_notification("nm-health-visiting", partnership=partnership) for _ in range(count)
    ]
    return DestinationKey("nm-health-visiting", name), deliveries_of(events, partnership)


async def statuses(engine: AsyncEngine, key: DestinationKey) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(store.deliveries.c.status).where(
                store.deliveries.c.agency == key.agency,
                store.deliveries.c.destination == key.destination,
            )
        )
        return sorted(rows.scalars())


async def test_deliveries_recorded_while_their_destination_is_disabled_are_disabled_too(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [first, late] = new_deliveries(tmp_path, 2)
    async with AsyncSession(engine) as setup:
        await store.record_deliveries(setup, [first], now=NOW)
        await setup.commit()

    async with AsyncSession(engine) as recording, AsyncSession(engine) as disabling:
        # Recording has read "not disabled" and written its row, but not yet committed...
        assert await store.record_deliveries(recording, [late], now=NOW) == set()
        # ...when an attempt's 410 disables the destination: that waits for the recording.
        disable = asyncio.create_task(
            store.disable_destination(disabling, key, now=NOW, delivery_id=first.delivery_id)
        )
        await asyncio.sleep(0.5)
        assert not disable.done()
        await recording.commit()
        ids = await asyncio.wait_for(disable, timeout=10)
        await disabling.commit()

    assert ids is not None
    assert set(ids) == {first.delivery_id, late.delivery_id}
    assert await statuses(engine, key) == ["disabled", "disabled"]


async def test_deliveries_recorded_once_their_destination_is_disabled_wait_for_it_and_are_disabled(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [first, late, again] = new_deliveries(tmp_path, 3)
    async with AsyncSession(engine) as setup:
        await store.record_deliveries(setup, [first], now=NOW)
        await setup.commit()

    async with AsyncSession(engine) as disabling, AsyncSession(engine) as recording:
        # An attempt's 410 is disabling the destination, not yet committed...
        await store.disable_destination(disabling, key, now=NOW, delivery_id=first.delivery_id)
        # ...so recording for it waits, and then sees it disabled.
        record = asyncio.create_task(store.record_deliveries(recording, [late], now=NOW))
        await asyncio.sleep(0.5)
        assert not record.done()
        await disabling.commit()
        assert await asyncio.wait_for(record, timeout=10) == {key}
        await recording.commit()
        # One recorded twice is left as it was, and the answer is the same.
        assert await store.record_deliveries(recording, [late, again], now=NOW) == {key}
        await recording.commit()

    assert await statuses(engine, key) == ["disabled", "disabled", "disabled"]


async def test_an_attempt_in_flight_when_its_destination_went_is_not_retried_behind_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [in_flight, gone] = new_deliveries(tmp_path, 2)
    async with AsyncSession(engine) as session:
        await store.record_deliveries(session, [in_flight, gone], now=NOW)
        claimed = await store.claim_due(
            session, key, now=NOW, limit=2, lease=Lease(timedelta(minutes=1), bound=4)
        )
        assert len(claimed) == 2
        await session.commit()
        # The one attempt answered 410 first...
        await store.disable_destination(session, key, now=NOW, delivery_id=gone.delivery_id)
        await session.commit()
        # ...and the other timed out: it would be retried, but its destination is gone.
        await store.record_outcomes(session, [Outcome(
            in_flight.delivery_id, status=DeliveryStatus.PENDING,
            next_attempt_at=NOW + timedelta(seconds=5), last_status_code=None,
            last_error="timeout", delivered_at=None,
        )])  # fmt: skip
        await session.commit()
    assert await statuses(engine, key) == ["disabled", "disabled"]


async def test_an_attempt_in_flight_that_landed_is_delivered_though_its_destination_went(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [landed] = new_deliveries(tmp_path, 1)
    async with AsyncSession(engine) as session:
        await store.record_deliveries(session, [landed], now=NOW)
        await store.claim_due(session, key, now=NOW, limit=1, lease=Lease(timedelta(0), bound=1))
        await store.disable_destination(session, key, now=NOW, delivery_id=uuid4())
        await store.record_outcomes(session, [Outcome(
            landed.delivery_id, status=DeliveryStatus.DELIVERED, next_attempt_at=None,
            last_status_code=204, last_error=None, delivered_at=NOW,
        )])  # fmt: skip
        await session.commit()
    assert await statuses(engine, key) == ["delivered"]


async def test_a_claim_hides_each_delivery_for_every_round_of_attempts_ahead_of_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, new = new_deliveries(tmp_path, 7)
    round_ = timedelta(seconds=10)
    async with AsyncSession(engine) as session:
        await store.record_deliveries(session, new, now=NOW)
        # One attempt in flight, six claimed, four at a time: the last waits for one round.
        six = await store.claim_due(
            session, key, now=NOW, limit=6, lease=Lease(round_, bound=4, ahead=1)
        )
        [last] = await store.claim_due(session, key, now=NOW, limit=6, lease=Lease(round_, 4))
        await session.commit()
    assert {d.next_attempt_at for d in six} == {NOW + 2 * round_}
    assert {d.attempts for d in six} == {1}
    assert last.next_attempt_at == NOW + round_


async def test_attempts_settled_together_record_each_and_a_410_among_them_disables_first(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, new = new_deliveries(tmp_path, 5)
    async with AsyncSession(engine) as session:
        await store.record_deliveries(session, new, now=NOW)
        claimed = await store.claim_due(session, key, now=NOW, limit=4, lease=Lease(LEASE, 4))
        await session.commit()
    results = [AttemptResult(204), AttemptResult(503), AttemptResult(410), AttemptResult(400)]
    outbox = outbox_table(store.metadata)
    uow = SqlDeliveryUnitOfWork(UnitOfWork(async_sessionmaker(engine)), outbox=outbox)
    retry = RetryPolicy(RetrySchedule(), timedelta(days=1))

    steps = await service.settle_attempts(
        uow, [EndedAttempt(d, r, 0.0) for d, r in zip(claimed, results, strict=True)],
        now=NOW, retry=retry,
    )  # fmt: skip

    assert [s.disables_destination for s in steps] == [False, False, True, False]
    by_id = {d.delivery_id: d for d in await deliveries_of_key(engine, key)}
    # The retry stays disabled with the rest; the one never claimed is disabled with them.
    assert [by_id[d.delivery_id].status for d in claimed] == [
        DeliveryStatus.DELIVERED, DeliveryStatus.DISABLED, DeliveryStatus.DISABLED,
        DeliveryStatus.FAILED,
    ]  # fmt: skip
    assert {d.status for d in by_id.values()} - {DeliveryStatus.DELIVERED} == {
        DeliveryStatus.DISABLED, DeliveryStatus.FAILED
    }  # fmt: skip
    assert by_id[claimed[0].delivery_id].delivered_at == NOW
    assert by_id[claimed[1].delivery_id].last_error == "http_503"
    async with engine.connect() as connection:
        rows = (await connection.execute(stored_columns(outbox))).all()
    payloads = [json.loads(e.payload)["payload"] for row in rows for e in unpacked(row)]
    mine = [p for p in payloads if p["details"].get("destination") == key.destination]
    assert sorted(p["action"] for p in mine) == ["delivery.failed"] * 3 + ["delivery.succeeded"]
    [gone] = [p for p in mine if p["details"].get("destination_disabled")]
    # Every one pending when the 410 came, those being settled with it included.
    assert gone["details"]["deliveries_disabled"] == 5
    assert gone["details"]["delivery_id"] == str(claimed[2].delivery_id)


async def deliveries_of_key(engine: AsyncEngine, key: DestinationKey) -> list[Delivery]:
    async with AsyncSession(engine) as session:
        found = await store.find_deliveries(
            session, agency=key.agency, status=None, limit=1000, before_seq=None
        )
    return [d for d in found if d.destination == key.destination]
