"""The sender: one loop per destination, claiming its due deliveries and attempting them.

Each destination has its own loop and its own bound on attempts in flight, so one that is down
or slow only ever waits on itself. How attempts ended is written by one settler for them all:
what ends while it writes goes in its next transaction, whichever destination it went to, so
destinations whose attempts end together share one. State is in PostgreSQL: a claimed delivery
is hidden for a lease longer than the attempts ahead of it and its own, so a process killed
mid-attempt leaves it to be sent again.

A claim may take more than the bound (as many as the destination's recent pace gets through in
one round, up to `delivery_claim_batch`); the rest wait in the loop, each attempted in turn. The
attempts that end while the settler writes are settled together, in its next transaction.
Once an attempt is answered 410, nothing more is sent until it is settled; if that disabled the
destination, what the loop still holds is withheld: audited as not sent, left disabled.

A new partnership version is applied without a restart: a destination it adds gets a loop, one
it changes is attempted with its new settings from the next attempt, and one it removes stops
claiming, lets its attempts in flight settle, and its loop ends. Deliveries already recorded
for a removed destination stay as they are: pending ones wait, unattempted, until a version
serves that destination again (or its agency's admin finds them listed).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import aiohttp
import structlog
from standardwebhooks import Webhook

from schemas.v1.delivery import DeliveryStatus
from services.common.runtime import ServiceRuntime
from services.delivery import attempts, metrics, policy, service
from services.delivery.deliveries import (
    Delivery,
    Destination,
    DestinationChanges,
    DestinationKey,
    destination_changes,
    destinations_of,
)
from services.delivery.policy import AttemptResult, Lease, NextStep, Verdict
from services.delivery.service import RetryPolicy
from services.delivery.settings import DeliverySettings
from services.delivery.settler import Settler
from services.delivery.unit_of_work import DeliveryUnitOfWork, delivery_unit_of_work
from services.partnership import Partnership, WebhookDestination

log = structlog.get_logger()
OUTCOMES = {DeliveryStatus.PENDING: "retried"}


class Served(NamedTuple):
    """A destination as the version in force has it, with its signer (webhooks only)."""

    destination: Destination
    signer: Webhook | None


@dataclass
class Held:
    """What one destination's loop holds between claims, shared with its attempts."""

    claimed: deque[Delivery] = field(default_factory=deque)  # claimed, not yet attempted
    paces: deque[float] = field(default_factory=lambda: deque(maxlen=8))  # seconds, settled
    gone_unsettled: int = 0  # attempts answered 410, not yet settled: nothing is sent meanwhile
    disabled: bool = False  # one of them was settled: the destination is disabled

    @property
    def pace(self) -> float | None:
        """How long its slowest recent attempt took, settling included; None before any."""
        return max(self.paces, default=None)


class DeliverySender:
    """Every destination of the partnership in force, each served by its own loop."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        partnership: Partnership,
        settings: DeliverySettings,
        *,
        environ: Mapping[str, str],
        draw: Callable[[], float] = random.random,
        unit_of_work: Callable[[], DeliveryUnitOfWork] | None = None,
    ) -> None:
        self._runtime = runtime
        self._unit_of_work = unit_of_work or (lambda: delivery_unit_of_work(runtime))
        # A claim's delivery.attempted events go out with its settlement's, whose commit wakes
        # the relay (or on the relay's next round): one send for both, not two.
        self._claim_unit_of_work = unit_of_work or (
            lambda: delivery_unit_of_work(runtime, wakes_relay=False)
        )
        self._settings = settings
        self._environ = environ
        self._draw = draw
        self._retry = RetryPolicy(settings.retry_schedule, partnership.delivery.retry_window)
        self._served = self._served_of(destinations_of(partnership))
        self._wakes = {key: asyncio.Event() for key in self._served}
        self._loops: dict[DestinationKey, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._client: aiohttp.ClientSession | None = None
        self._settler: Settler | None = None

    def _served_of(
        self, destinations: Mapping[DestinationKey, Destination]
    ) -> dict[DestinationKey, Served]:
        return {
            key: Served(
                destination,
                attempts.signing_key(destination, self._environ)
                if isinstance(destination, WebhookDestination)
                else None,
            )
            for key, destination in destinations.items()
        }

    def wake(self, keys: set[DestinationKey]) -> None:
        """Tell these destinations' loops that deliveries were recorded for them."""
        for key in keys:
            if (event := self._wakes.get(key)) is not None:
                event.set()

    def apply(self, partnership: Partnership) -> DestinationChanges:
        """Serve this partnership's destinations and retry window from now on; what changed."""
        after = destinations_of(partnership)
        before = {key: served.destination for key, served in self._served.items()}
        changes = destination_changes(before, after)
        retry = RetryPolicy(self._settings.retry_schedule, partnership.delivery.retry_window)
        if not changes and retry == self._retry:
            return changes
        # Secrets are read again: a changed secret_env names another variable.
        self._served, self._retry = self._served_of(after), retry
        for key in changes.added | changes.removed:
            # A removed destination's loop sees it is gone; an added one's may still be draining.
            self._wakes.setdefault(key, asyncio.Event()).set()
        for key in changes.added:
            self._start(key)
        log.info(
            "delivery.destinations_applied",
            policy_version=partnership.policy_version,
            destinations=len(after),
            added=len(changes.added),
            removed=len(changes.removed),
            changed=len(changes.changed),
            added_ids=sorted(f"{k.agency}/{k.destination}" for k in changes.added),
            removed_ids=sorted(f"{k.agency}/{k.destination}" for k in changes.removed),
            changed_ids=sorted(f"{k.agency}/{k.destination}" for k in changes.changed),
            retry_window_seconds=retry.window.total_seconds(),
        )
        return changes

    def _start(self, key: DestinationKey) -> None:
        running = self._loops.get(key)
        if self._group is None or self._client is None or self._settler is None:
            return
        if running and not running.done():
            return
        self._loops[key] = self._group.create_task(
            self._serve(key, self._client, self._settler),
            name=f"delivery-{key.agency}-{key.destination}",
        )

    async def run(self) -> None:
        """Serve every destination, as versions add and remove them, until cancelled."""
        client = attempts.webhook_client(
            connect_timeout=self._settings.delivery_connect_timeout_seconds,
            read_timeout=self._settings.delivery_read_timeout_seconds,
        )
        # One settler for every destination: the attempts that end while it writes are settled
        # in its next transaction, whichever destination they went to.
        settler = Settler(self._unit_of_work, retry=lambda: self._retry, draw=self._draw)
        async with client, asyncio.TaskGroup() as group:
            self._group, self._client, self._settler = group, client, settler
            group.create_task(settler.run(), name="delivery-settler")
            try:
                for key in self._served:
                    self._start(key)
                await asyncio.Event().wait()
            finally:
                # The group is stopping its loops: a version applied now starts none.
                self._group = self._client = self._settler = None
                self._loops.clear()

    async def _serve(
        self, key: DestinationKey, client: aiohttp.ClientSession, settler: Settler
    ) -> None:
        bound = self._settings.delivery_concurrency_per_destination
        poll = self._settings.delivery_poll_interval_seconds
        clock = asyncio.get_running_loop().time
        held = Held()
        in_flight: set[asyncio.Task[None]] = set()
        served = self._served.get(key)
        look_at = clock()  # when to look for due deliveries next, unless woken sooner
        backoff = 0.2
        try:
            while True:
                wake = self._wakes[key]
                if wake.is_set():
                    wake.clear()
                    look_at = min(look_at, clock())
                current = self._served.get(key)
                if current is None and not in_flight and not held.claimed:
                    # No await since the check: a version adding it back starts a new loop.
                    return
                # The newest settings; if a version removed the destination, what the loop holds
                # goes where it was claimed for, and settles.
                served = current or served
                if held.disabled:
                    if held.claimed:
                        withheld = self._withhold(settler, list(held.claimed))
                        in_flight.add(asyncio.create_task(withheld))
                    held.claimed.clear()
                    held.disabled = False
                claiming = (
                    current is not None
                    and not held.claimed
                    and not held.gone_unsettled
                    and len(in_flight) < bound
                )
                if claiming and clock() >= look_at:
                    lease = Lease(self._settings.lease, bound, ahead=len(in_flight))
                    limit = policy.claim_size(
                        bound - len(in_flight), pace=held.pace, lease=lease,
                        most=self._settings.delivery_claim_batch,
                    )  # fmt: skip
                    try:
                        claimed = await service.claim_attempts(
                            self._claim_unit_of_work(), key, now=datetime.now(UTC), limit=limit,
                            lease=lease,
                        )  # fmt: skip
                        backoff = 0.2
                    except Exception as error:
                        log.warning(
                            "delivery.claim_failed",
                            agency=key.agency,
                            destination=key.destination,
                            error=type(error).__name__,
                        )
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    held.claimed.extend(claimed)
                    # A full claim may have left more due: then look again at once.
                    look_at = clock() + (0.0 if len(claimed) == limit else poll)
                    continue
                while (
                    served and held.claimed and len(in_flight) < bound and not held.gone_unsettled
                ):
                    attempt = self._attempt(held.claimed.popleft(), served, client, settler, held)
                    in_flight.add(asyncio.create_task(attempt))
                until = max(look_at - clock(), 0.0) if claiming else poll
                await self._idle(wake, in_flight, seconds=until)
                in_flight = {task for task in in_flight if not task.done()}
        finally:
            for task in in_flight:
                task.cancel()
            # Settled or not, nothing of this loop may touch the database once it has gone.
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _idle(
        self, wake: asyncio.Event, in_flight: set[asyncio.Task[None]], *, seconds: float
    ) -> None:
        """Until an attempt ends, deliveries are recorded, or it is time to look again."""
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait(
                {waker, *in_flight}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            # Not awaited: a cancellation of this loop arriving meanwhile would be swallowed with
            # the waker's own, and the loop would never stop.
            waker.cancel()

    async def _attempt(
        self,
        delivery: Delivery,
        served: Served,
        client: aiohttp.ClientSession,
        settler: Settler,
        held: Held,
    ) -> None:
        destination, signer = served
        started = asyncio.get_running_loop().time()
        gone = False
        try:
            if isinstance(destination, WebhookDestination):
                result = await attempts.post_webhook(
                    client, delivery, destination, signer, now=datetime.now(UTC)
                )
            else:
                result = await attempts.publish_feed(
                    self._runtime.broker, delivery, within=self._settings.attempt_timeout
                )
            if policy.classify(result) is Verdict.DISABLE:
                gone = True
                held.gone_unsettled += 1
            step = await settler.settle(delivery, result)
        except Exception as error:
            # Left claimed: once its lease ends it is attempted again, with the same webhook-id.
            log.warning("delivery.settle_failed", delivery_id=str(delivery.delivery_id),
                        error=type(getattr(error, "orig", error)).__name__)  # fmt: skip
            return
        finally:
            if gone:
                held.gone_unsettled -= 1
            held.paces.append(asyncio.get_running_loop().time() - started)
        # A 410 settled: the destination is disabled (by this attempt, or one before it).
        held.disabled |= step.status is DeliveryStatus.DISABLED
        self._observe(delivery, result, step)

    async def _withhold(self, settler: Settler, deliveries: Sequence[Delivery]) -> None:
        try:
            await settler.withhold(deliveries)
        except Exception as error:
            # Left as the disabling left them, their attempts audited without an outcome.
            log.warning("delivery.settle_failed",
                        delivery_ids=[str(d.delivery_id) for d in deliveries],
                        error=type(getattr(error, "orig", error)).__name__)  # fmt: skip
            return
        for delivery in deliveries:
            log.info(
                "delivery.withheld",
                delivery_id=str(delivery.delivery_id),
                agency=delivery.agency,
                destination=delivery.destination,
                attempt=delivery.attempts,
            )

    def _observe(self, delivery: Delivery, result: AttemptResult, step: NextStep) -> None:
        outcome = OUTCOMES.get(step.status, step.status.value)
        metrics.ATTEMPTS.labels(delivery.agency, delivery.destination, outcome).inc()
        if step.disables_destination:
            metrics.DESTINATIONS_DISABLED.labels(delivery.agency, delivery.destination).inc()
            log.error(
                "delivery.destination_disabled",
                agency=delivery.agency,
                destination=delivery.destination,
                delivery_id=str(delivery.delivery_id),
            )
        log.info(
            "delivery.attempted",
            delivery_id=str(delivery.delivery_id),
            notification_id=str(delivery.notification_id),
            agency=delivery.agency,
            destination=delivery.destination,
            attempt=delivery.attempts,
            http_status=result.status_code,
            error=result.reason,
            outcome=outcome,
        )
