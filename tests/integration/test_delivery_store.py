"""Delivery's tables on real PostgreSQL: a destination disabled while deliveries are recorded
for it, or while attempts at it are in flight, leaves none of them pending behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from schemas.v1.delivery import DeliveryStatus
from services.common.db import make_engine
from services.delivery import store
from services.delivery.app import migrate_delivery
from services.delivery.deliveries import DestinationKey, NewDelivery, deliveries_of
from services.delivery.settings import DeliverySettings
from tests.delivery_builders import a_partnership_with, a_routed_notification

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime.now(UTC)


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
        await store.add_deliveries(setup, [first], now=NOW, disabled=set())
        await setup.commit()

    async with AsyncSession(engine) as recording, AsyncSession(engine) as disabling:
        # Recording has read "not disabled" and written its row, but not yet committed...
        disabled = await store.disabled_among(recording, {key})
        assert disabled == set()
        await store.add_deliveries(recording, [late], now=NOW, disabled=disabled)
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


async def test_an_attempt_in_flight_when_its_destination_went_is_not_retried_behind_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [in_flight, gone] = new_deliveries(tmp_path, 2)
    async with AsyncSession(engine) as session:
        await store.add_deliveries(session, [in_flight, gone], now=NOW, disabled=set())
        claimed = await store.claim_due(
            session, key, now=NOW, limit=2, lease_until=NOW + timedelta(minutes=1)
        )
        assert len(claimed) == 2
        await session.commit()
        # The one attempt answered 410 first...
        await store.disable_destination(session, key, now=NOW, delivery_id=gone.delivery_id)
        await session.commit()
        # ...and the other timed out: it would be retried, but its destination is gone.
        await store.record_outcome(
            session, in_flight.delivery_id, status=DeliveryStatus.PENDING,
            next_attempt_at=NOW + timedelta(seconds=5), last_status_code=None,
            last_error="timeout", delivered_at=None,
        )  # fmt: skip
        await session.commit()
    assert await statuses(engine, key) == ["disabled", "disabled"]


async def test_an_attempt_in_flight_that_landed_is_delivered_though_its_destination_went(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key, [landed] = new_deliveries(tmp_path, 1)
    async with AsyncSession(engine) as session:
        await store.add_deliveries(session, [landed], now=NOW, disabled=set())
        await store.claim_due(session, key, now=NOW, limit=1, lease_until=NOW)
        await store.disable_destination(session, key, now=NOW, delivery_id=uuid4())
        await store.record_outcome(
            session, landed.delivery_id, status=DeliveryStatus.DELIVERED, next_attempt_at=None,
            last_status_code=204, last_error=None, delivered_at=NOW,
        )  # fmt: skip
        await session.commit()
    assert await statuses(engine, key) == ["delivered"]
