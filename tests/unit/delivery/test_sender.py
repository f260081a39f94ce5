"""A destination's loop with the fake unit of work and a webhook receiver on loopback: it claims
ahead of its attempts once it knows their pace, keeps to its bound, and sends nothing it holds
once a 410 has disabled the destination."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest_asyncio

from schemas.v1.delivery import DeliveryStatus
from services.common.runtime import ServiceRuntime
from services.delivery import service
from services.delivery.deliveries import DestinationKey, Outcome
from services.delivery.sender import DeliverySender
from services.delivery.settings import DeliverySettings
from services.partnership import Partnership
from tests.delivery_builders import a_partnership_with, a_routed_notification, partnership_file
from tests.integration.delivery_support import Receiver
from tests.polling import eventually
from tests.unit.delivery.fakes import FakeDeliveries, FakeDeliveryUnitOfWork

HOOK = DestinationKey("nm-school-oakfield", "safeguarding-log")
SECRET = "whsec_" + base64.b64encode(b"a signing secret of 32 bytes....").decode()
BOUND = 4
CLAIM_BATCH = 24


@dataclass
class Webhook:
    """The destination's answers, one status at a time; how many requests are in flight.

    The behaviour of a real receiver on loopback, which verifies each signature.
    """

    status: int = 204
    pause: float = 0.005
    requests: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, path: str, attempt: int, webhook_id: str) -> int:
        self.requests.append(webhook_id)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.pause)
            return self.status
        finally:
            self.in_flight -= 1


@dataclass
class Loop:
    uow: FakeDeliveryUnitOfWork
    webhook: Webhook
    partnership: Partnership
    sender: DeliverySender

    async def record(self, count: int) -> list[str]:
        events = [a_routed_notification(partnership=self.partnership) for _ in range(count)]
        woken = await service.record_routed_notifications(
            self.uow, events, partnership=self.partnership, now=datetime.now(UTC)
        )
        self.sender.wake(woken)
        return [str(event.event_id) for event in events]

    def statuses(self, webhook_ids: list[str]) -> list[DeliveryStatus]:
        return [d.status for d in self.uow.stored() if str(d.event_id) in webhook_ids]

    def until(self, what: str, check: Callable[[], bool]) -> Awaitable[Any]:
        return eventually(lambda: asyncio.sleep(0, check()), within=10, what=what)


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, destinations: Sequence[DestinationKey], uow: FakeDeliveryUnitOfWork
) -> AsyncIterator[Loop]:
    """A sender of these webhook destinations (one agency's) to a receiver on loopback."""
    webhook = Webhook()
    receiver = Receiver(SECRET, webhook)
    await receiver.start()
    hooks = [
        {"id": key.destination, "kind": "webhook", "url": receiver.url(key.destination),
         "secret_env": "LOG_SECRET"}
        for key in destinations
    ]  # fmt: skip
    partnership = a_partnership_with({HOOK.agency: hooks}, tmp_path)
    settings = DeliverySettings(
        database_url="postgresql://unused/unused",
        partnership_path=partnership_file(tmp_path, {HOOK.agency: hooks}),
        delivery_concurrency_per_destination=BOUND,
        delivery_claim_batch=CLAIM_BATCH,
        delivery_poll_interval_seconds=0.05,
    )
    sender = DeliverySender(
        cast(ServiceRuntime, None), partnership, settings, environ={"LOG_SECRET": SECRET},
        draw=lambda: 0.0, unit_of_work=lambda: uow,
    )  # fmt: skip
    running = asyncio.create_task(sender.run())
    try:
        yield Loop(uow, webhook, partnership, sender)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await receiver.stop()
        assert receiver.forged == 0


@pytest_asyncio.fixture
async def loop(tmp_path: Path) -> AsyncIterator[Loop]:
    async with serving(tmp_path, [HOOK], FakeDeliveryUnitOfWork()) as served:
        yield served


def delivered(loop: Loop, webhook_ids: list[str]) -> Callable[[], bool]:
    return lambda: loop.statuses(webhook_ids) == [DeliveryStatus.DELIVERED] * len(webhook_ids)


async def test_once_its_pace_is_known_a_loop_claims_ahead_and_keeps_to_its_bound(
    loop: Loop,
) -> None:
    first = await loop.record(2)
    await loop.until("the first delivered", delivered(loop, first))
    assert max(loop.uow.deliveries.claimed_sizes) <= BOUND  # its pace was not known yet

    backlog = await loop.record(30)
    await loop.until("the backlog delivered", delivered(loop, backlog))

    assert max(loop.uow.deliveries.claimed_sizes) == CLAIM_BATCH
    assert loop.webhook.most_in_flight == BOUND
    assert sorted(loop.webhook.requests) == sorted(first + backlog)
    attempted = loop.uow.audits("delivery.attempted")
    assert len(attempted) == len(loop.uow.audits("delivery.succeeded")) == 32
    # Settled in fewer transactions than there were attempts.
    assert loop.uow.deliveries.outcome_writes < 32


async def test_after_a_410_nothing_it_holds_is_sent_and_each_held_one_is_withheld(
    loop: Loop,
) -> None:
    first = await loop.record(1)
    await loop.until("the first delivered", delivered(loop, first))
    loop.webhook.status = 410

    gone = await loop.record(20)
    await loop.until(
        "the gone destination's deliveries disabled",
        lambda: loop.statuses(gone) == [DeliveryStatus.DISABLED] * 20,
    )
    await loop.until(
        "each claimed delivery's attempt audited with its outcome",
        lambda: len(loop.uow.audits("delivery.failed")) == len(gone),
    )

    sent = [i for i in loop.webhook.requests if i in gone]
    # Only the attempts in flight when the first 410 came: the bound.
    assert 1 <= len(sent) <= BOUND
    assert max(loop.uow.deliveries.claimed_sizes) == 20
    failed = loop.uow.audits("delivery.failed")
    withheld = [a for a in failed if a["details"].get("sent") is False]
    assert len(withheld) == 20 - len(sent)
    assert {a["details"]["error"] for a in withheld} == {"destination_disabled"}
    assert len([a for a in failed if a["details"].get("destination_disabled")]) == 1
    assert loop.uow.committed.disabled.keys() == {HOOK}
    assert len(loop.uow.audits("delivery.attempted")) == 21


class HeldOutcomes(FakeDeliveries):
    """The fake's deliveries, whose outcomes wait for the gate before they are written."""

    def __init__(self, uow: FakeDeliveryUnitOfWork) -> None:
        super().__init__(uow)
        self.gate = asyncio.Event()
        self.begun = 0

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        self.begun += 1
        await self.gate.wait()
        await super().record_outcomes(outcomes)


async def test_attempts_to_two_destinations_ending_meanwhile_are_settled_together(
    tmp_path: Path,
) -> None:
    records = DestinationKey(HOOK.agency, "records")
    uow = FakeDeliveryUnitOfWork()
    outcomes = uow.deliveries = HeldOutcomes(uow)
    async with serving(tmp_path, [HOOK, records], uow) as loop:
        first = await loop.record(1)
        # The first attempt to end is being settled, held; meanwhile the rest end.
        await loop.until("a settlement begun", lambda: outcomes.begun == 1)
        later = await loop.record(2)
        await loop.until("every attempt answered", lambda: len(loop.webhook.requests) == 6)
        await asyncio.sleep(0.05)
        assert outcomes.begun == 1
        outcomes.gate.set()
        every = first + later
        await loop.until(
            "all six delivered",
            lambda: loop.statuses(every) == [DeliveryStatus.DELIVERED] * 6,
        )
    # What was held (one attempt, or both of the first that ended in the same moment), then
    # everything that ended meanwhile, both destinations' in one transaction.
    assert len(outcomes.outcome_destinations) == 2
    assert outcomes.outcome_destinations[1] == {HOOK, records}
