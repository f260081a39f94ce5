"""The sender: one loop per destination, claiming its due deliveries and attempting them.

Each destination has its own loop and its own bound on attempts in flight, so one that is down
or slow only ever waits on itself. State is in PostgreSQL: a claimed delivery is hidden for a
lease longer than any attempt, so a process killed mid-attempt leaves it to be sent again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx
import structlog
from standardwebhooks import Webhook

from schemas.v1.delivery import DeliveryStatus
from services.common.runtime import ServiceRuntime
from services.delivery import attempts, metrics, service
from services.delivery.deliveries import Delivery, DestinationKey
from services.delivery.policy import AttemptResult, NextStep
from services.delivery.service import RetryPolicy
from services.delivery.settings import DeliverySettings
from services.delivery.unit_of_work import delivery_unit_of_work
from services.partnership import KafkaDestination, Partnership, WebhookDestination

log = structlog.get_logger()
Destination = WebhookDestination | KafkaDestination
OUTCOMES = {DeliveryStatus.PENDING: "retried"}


class DeliverySender:
    """Every destination of the partnership, each served by its own loop."""

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
        self._draw = draw
        self._retry = RetryPolicy(settings.retry_schedule, partnership.delivery.retry_window)
        self._destinations: dict[DestinationKey, Destination] = {
            DestinationKey(agency.id, destination.id): destination
            for agency in partnership.agencies
            for destination in agency.deliveries
        }
        self._signers: dict[DestinationKey, Webhook | None] = {
            key: attempts.signing_key(destination, environ)
            for key, destination in self._destinations.items()
            if isinstance(destination, WebhookDestination)
        }
        self._wakes = {key: asyncio.Event() for key in self._destinations}

    def wake(self, keys: set[DestinationKey]) -> None:
        """Tell these destinations' loops that deliveries were recorded for them."""
        for key in keys:
            if (event := self._wakes.get(key)) is not None:
                event.set()

    async def run(self) -> None:
        """Serve every destination until cancelled."""
        if not self._destinations:
            return
        client = attempts.webhook_client(
            connect_timeout=self._settings.delivery_connect_timeout_seconds,
            read_timeout=self._settings.delivery_read_timeout_seconds,
        )
        async with client, asyncio.TaskGroup() as group:
            for key in self._destinations:
                group.create_task(
                    self._serve(key, client), name=f"delivery-{key.agency}-{key.destination}"
                )

    async def _serve(self, key: DestinationKey, client: httpx.AsyncClient) -> None:
        bound = self._settings.delivery_concurrency_per_destination
        in_flight: set[asyncio.Task[None]] = set()
        backoff = 0.2
        try:
            while True:
                wake = self._wakes[key]
                wake.clear()
                claimed: list[Delivery] = []
                if len(in_flight) < bound:
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
                for delivery in claimed:
                    in_flight.add(asyncio.create_task(self._attempt(key, delivery, client)))
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

    async def _attempt(
        self, key: DestinationKey, delivery: Delivery, client: httpx.AsyncClient
    ) -> None:
        destination = self._destinations[key]
        try:
            if isinstance(destination, WebhookDestination):
                result = await attempts.post_webhook(
                    client, delivery, destination, self._signers.get(key), now=datetime.now(UTC)
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
