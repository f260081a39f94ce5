"""The sender: one loop per destination, claiming its due deliveries and attempting them.

Each destination has its own loop and its own bound on attempts in flight, so one that is down
or slow only ever waits on itself. State is in PostgreSQL: a claimed delivery is hidden for a
lease longer than any attempt, so a process killed mid-attempt leaves it to be sent again.

A new partnership version is applied without a restart: a destination it adds gets a loop, one
it changes is attempted with its new settings from the next attempt, and one it removes stops
claiming, lets its attempts in flight settle, and its loop ends. Deliveries already recorded
for a removed destination stay as they are: pending ones wait, unattempted, until a version
serves that destination again (or its agency's admin finds them listed).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

import httpx
import structlog
from standardwebhooks import Webhook

from schemas.v1.delivery import DeliveryStatus
from services.common.runtime import ServiceRuntime
from services.delivery import attempts, metrics, service
from services.delivery.deliveries import (
    Delivery,
    Destination,
    DestinationChanges,
    DestinationKey,
    destination_changes,
    destinations_of,
)
from services.delivery.policy import AttemptResult, NextStep
from services.delivery.service import RetryPolicy
from services.delivery.settings import DeliverySettings
from services.delivery.unit_of_work import delivery_unit_of_work
from services.partnership import Partnership, WebhookDestination

log = structlog.get_logger()
OUTCOMES = {DeliveryStatus.PENDING: "retried"}


class Served(NamedTuple):
    """A destination as the version in force has it, with its signer (webhooks only)."""

    destination: Destination
    signer: Webhook | None


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
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._environ = environ
        self._draw = draw
        self._retry = RetryPolicy(settings.retry_schedule, partnership.delivery.retry_window)
        self._served = self._served_of(destinations_of(partnership))
        self._wakes = {key: asyncio.Event() for key in self._served}
        self._loops: dict[DestinationKey, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._client: httpx.AsyncClient | None = None

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
        if self._group is None or self._client is None or (running and not running.done()):
            return
        self._loops[key] = self._group.create_task(
            self._serve(key, self._client), name=f"delivery-{key.agency}-{key.destination}"
        )

    async def run(self) -> None:
        """Serve every destination, as versions add and remove them, until cancelled."""
        client = attempts.webhook_client(
            connect_timeout=self._settings.delivery_connect_timeout_seconds,
            read_timeout=self._settings.delivery_read_timeout_seconds,
        )
        async with client, asyncio.TaskGroup() as group:
            self._group, self._client = group, client
            try:
                for key in self._served:
                    self._start(key)
                await asyncio.Event().wait()
            finally:
                # The group is stopping its loops: a version applied now starts none.
                self._group = self._client = None
                self._loops.clear()

    async def _serve(self, key: DestinationKey, client: httpx.AsyncClient) -> None:
        bound = self._settings.delivery_concurrency_per_destination
        in_flight: set[asyncio.Task[None]] = set()
        backoff = 0.2
        try:
            while True:
                wake = self._wakes[key]
                wake.clear()
                served = self._served.get(key)
                if served is None and not in_flight:
                    # No await since the check: a version adding it back starts a new loop.
                    return
                claimed: list[Delivery] = []
                if served is not None and len(in_flight) < bound:
                    try:
                        claimed = await service.claim_attempts(
                            delivery_unit_of_work(self._runtime), key, now=datetime.now(UTC),
                            limit=bound - len(in_flight), lease=self._settings.lease,
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
                    # A version applied during the claim has the newer settings; if it removed
                    # the destination, these go where they were claimed for, and settle.
                    served = self._served.get(key, served)
                    for delivery in claimed:
                        attempt = self._attempt(delivery, served, client)
                        in_flight.add(asyncio.create_task(attempt))
                if len(in_flight) >= bound or not claimed:
                    await self._idle(wake, in_flight)
                in_flight = {task for task in in_flight if not task.done()}
        finally:
            for task in in_flight:
                task.cancel()
            # Settled or not, nothing of this loop may touch the database once it has gone.
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _idle(self, wake: asyncio.Event, in_flight: set[asyncio.Task[None]]) -> None:
        """Until an attempt ends, deliveries are recorded, or it is time to look again."""
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait(
                {waker, *in_flight},
                timeout=self._settings.delivery_poll_interval_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            # Not awaited: a cancellation of this loop arriving meanwhile would be swallowed with
            # the waker's own, and the loop would never stop.
            waker.cancel()

    async def _attempt(self, delivery: Delivery, served: Served, client: httpx.AsyncClient) -> None:
        destination, signer = served
        try:
            if isinstance(destination, WebhookDestination):
                result = await attempts.post_webhook(
                    client, delivery, destination, signer, now=datetime.now(UTC)
                )
            else:
                result = await attempts.publish_feed(
                    self._runtime.broker, delivery, within=self._settings.attempt_timeout
                )
            step = await service.settle_attempt(
                delivery_unit_of_work(self._runtime), delivery, result,
                now=datetime.now(UTC), retry=self._retry, draw=self._draw(),
            )  # fmt: skip
        except Exception as error:
            # Left claimed: once its lease ends it is attempted again, with the same webhook-id.
            log.warning("delivery.settle_failed", delivery_id=str(delivery.delivery_id),
                        error=type(getattr(error, "orig", error)).__name__)  # fmt: skip
            return
        self._observe(delivery, result, step)

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
