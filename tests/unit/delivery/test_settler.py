"""The settler: an attempt that ends alone is settled at once; those that end while it writes
are settled together in its next transaction; a failed one leaves them all claimed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from schemas.v1.delivery import DeliveryStatus
from services.delivery import service
from services.delivery.deliveries import Delivery, DestinationKey
from services.delivery.policy import AttemptResult, Lease, RetrySchedule
from services.delivery.service import RetryPolicy
from services.delivery.settler import Settler
from tests.delivery_builders import a_partnership_with, a_routed_notification
from tests.unit.delivery.fakes import FakeDeliveryUnitOfWork

HOOK = DestinationKey("nm-school-oakfield", "safeguarding-log")
RETRY = RetryPolicy(RetrySchedule(), timedelta(days=1))


class GatedUnitOfWork(FakeDeliveryUnitOfWork):
    """The fake, whose commits wait for the gate, and fail while `failing` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.failing = False

    async def commit(self) -> None:
        await self.gate.wait()
        if self.failing:
            raise ConnectionError("the database went away")
        await super().commit()


@pytest_asyncio.fixture
async def uow(tmp_path: Path) -> GatedUnitOfWork:
    hook = {"id": "safeguarding-log", "kind": "webhook", "url": "https://log.example/in",
            "secret_env": "OAKFIELD_SECRET"}  # fmt: skip
    partnership = a_partnership_with({"nm-school-oakfield": [hook]}, tmp_path)
    uow = GatedUnitOfWork()
    events = [a_routed_notification(partnership=partnership) for _ in range(4)]
    # Recorded now: the settler settles at the time it writes, within their retry window.
    now = datetime.now(UTC)
    await service.record_routed_notifications(uow, events, partnership=partnership, now=now)
    return uow


@pytest_asyncio.fixture
async def settler(uow: GatedUnitOfWork) -> AsyncIterator[Settler]:
    settler = Settler(lambda: uow, retry=lambda: RETRY, draw=lambda: 0.0)
    running = asyncio.create_task(settler.run())
    yield settler
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)


async def claim(uow: GatedUnitOfWork) -> list[Delivery]:
    lease = Lease(timedelta(seconds=30), bound=4)
    return await service.claim_attempts(uow, HOOK, now=datetime.now(UTC), limit=4, lease=lease)


async def test_one_alone_is_settled_at_once_and_those_ending_meanwhile_together(
    uow: GatedUnitOfWork, settler: Settler
) -> None:
    first, *others = await claim(uow)
    uow.gate.clear()
    writing = asyncio.create_task(settler.settle(first, AttemptResult(status_code=204)))
    await asyncio.sleep(0.01)
    assert uow.deliveries.outcome_writes == 1  # begun at once, waiting to commit
    results = [AttemptResult(status_code=503), AttemptResult(status_code=410),
               AttemptResult(status_code=204)]  # fmt: skip
    meanwhile = [
        asyncio.create_task(settler.settle(d, r)) for d, r in zip(others, results, strict=True)
    ]
    await asyncio.sleep(0.01)
    uow.gate.set()
    steps = await asyncio.gather(writing, *meanwhile)

    assert uow.deliveries.outcome_writes == 2
    assert [s.status for s in steps] == [
        DeliveryStatus.DELIVERED, DeliveryStatus.PENDING, DeliveryStatus.DISABLED,
        DeliveryStatus.DELIVERED,
    ]  # fmt: skip
    assert [s.disables_destination for s in steps] == [False, False, True, False]
    stored = {d.delivery_id: d.status for d in uow.stored()}
    # The 410 disabled the destination before the retry beside it was recorded.
    assert stored[others[0].delivery_id] is DeliveryStatus.DISABLED
    assert len(uow.audits("delivery.succeeded")) == 2


async def test_a_failed_transaction_leaves_every_one_of_its_batch_claimed(
    uow: GatedUnitOfWork, settler: Settler
) -> None:
    claimed = await claim(uow)
    uow.failing = True
    settled = await asyncio.gather(
        *(settler.settle(d, AttemptResult(status_code=204)) for d in claimed),
        return_exceptions=True,
    )
    assert all(isinstance(s, ConnectionError) for s in settled)
    assert {d.status for d in uow.stored()} == {DeliveryStatus.PENDING}
    assert {d.next_attempt_at for d in uow.stored()} == {claimed[0].next_attempt_at}
    assert uow.audits("delivery.succeeded") == []

    uow.failing = False
    step = await settler.settle(claimed[0], AttemptResult(status_code=204))
    assert step.status is DeliveryStatus.DELIVERED


async def test_withheld_ones_are_settled_with_the_rest(
    uow: GatedUnitOfWork, settler: Settler
) -> None:
    gone, *held = await claim(uow)
    uow.gate.clear()
    first = asyncio.create_task(settler.settle(gone, AttemptResult(status_code=410)))
    await asyncio.sleep(0.01)
    withheld = asyncio.create_task(settler.withhold(held))
    await asyncio.sleep(0.01)
    uow.gate.set()
    step = await first
    await withheld
    assert step.disables_destination
    assert {d.status for d in uow.stored()} == {DeliveryStatus.DISABLED}
    not_sent = [a for a in uow.audits("delivery.failed") if a["details"].get("sent") is False]
    assert len(not_sent) == 3


@pytest.mark.parametrize("count", [0, 1])
async def test_withholding_nothing_or_one_writes_at_most_once(
    uow: GatedUnitOfWork, settler: Settler, count: int
) -> None:
    claimed = await claim(uow)
    await settler.withhold(claimed[:count])
    assert uow.deliveries.outcome_writes == 0
    assert len(uow.audits("delivery.failed")) == count
