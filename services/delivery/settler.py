"""A destination's attempts settled together: those that end while a settlement is being written
are written in the next, in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.delivery import service
from services.delivery.deliveries import Delivery
from services.delivery.policy import AttemptResult, NextStep
from services.delivery.service import EndedAttempt, RetryPolicy
from services.delivery.unit_of_work import DeliveryUnitOfWork


@dataclass(frozen=True)
class _Waiting:
    """A delivery whose attempt ended (or that was withheld: no result), and who waits for it."""

    delivery: Delivery
    result: AttemptResult | None
    settled: asyncio.Future[NextStep | None]


class Settler:
    """Writes how a destination's attempts ended: at once when nothing else is being written,
    else every attempt that ended meanwhile in the next transaction, together."""

    def __init__(
        self,
        unit_of_work: Callable[[], DeliveryUnitOfWork],
        *,
        retry: Callable[[], RetryPolicy],
        draw: Callable[[], float],
    ) -> None:
        self._unit_of_work = unit_of_work
        self._retry = retry
        self._draw = draw
        self._waiting: list[_Waiting] = []
        self._queued = asyncio.Event()

    async def settle(self, delivery: Delivery, result: AttemptResult) -> NextStep:
        """What comes next for this delivery, once recorded; the error if its transaction failed."""
        step = await self._wait(delivery, result)
        assert step is not None
        return step

    async def withhold(self, deliveries: Sequence[Delivery]) -> None:
        """Audit these claimed deliveries as not sent: their destination was disabled meanwhile."""
        await asyncio.gather(*(self._wait(delivery, None) for delivery in deliveries))

    def _wait(
        self, delivery: Delivery, result: AttemptResult | None
    ) -> asyncio.Future[NextStep | None]:
        settled: asyncio.Future[NextStep | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(delivery, result, settled))
        self._queued.set()
        return settled

    async def run(self) -> None:
        """Write whatever is waiting, one transaction at a time, until cancelled."""
        batch: list[_Waiting] = []
        try:
            while True:
                await self._queued.wait()
                self._queued.clear()
                # One whose attempt was cancelled is left claimed: its loop is stopping.
                batch = [waiting for waiting in self._waiting if not waiting.settled.done()]
                self._waiting = []
                if batch:
                    await self._write(batch)
        finally:
            for waiting in (*batch, *self._waiting):
                waiting.settled.cancel()

    async def _write(self, batch: list[_Waiting]) -> None:
        ended = [
            (waiting, EndedAttempt(waiting.delivery, waiting.result, self._draw()))
            for waiting in batch
            if waiting.result is not None
        ]
        withheld = [waiting for waiting in batch if waiting.result is None]
        try:
            steps = await service.settle_attempts(
                self._unit_of_work(), [attempt for _, attempt in ended],
                withheld=[waiting.delivery for waiting in withheld],
                now=datetime.now(UTC), retry=self._retry(),
            )  # fmt: skip
        except Exception as error:
            # Nothing of the batch was written: each stays claimed until its lease ends.
            for waiting in batch:
                if not waiting.settled.done():
                    waiting.settled.set_exception(error)
            return
        for (waiting, _), step in zip(ended, steps, strict=True):
            if not waiting.settled.done():
                waiting.settled.set_result(step)
        for waiting in withheld:
            if not waiting.settled.done():
                waiting.settled.set_result(None)
