"""Delivery's figures: deliveries per second and the latency from routed to delivered.

Measured on both of Eastvale Police's destinations in the local stack's partnership (see
`deploy.local.receiver`): its own feed, `deliveries.nme-police`, and its stand-in records system,
the stack's webhook receiver on loopback, which verifies every signature.

- routed: the timestamp of a `NotificationRouted` record for the police on
  `notifications.routed` (stamped by routing's relay when it published it);
- delivered on the feed: the timestamp of the record on `deliveries.nme-police` whose
  `webhook-id` header is that event's id (stamped by delivery when it put it on the feed);
- delivered by webhook: when the receiver took the verified webhook with that `webhook-id`.

All are on one machine, so one clock. A webhook-id that comes twice (a resend: at-least-once)
counts once, at its first arrival.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from aiokafka.structs import ConsumerRecord

from bench.report import Latencies
from services.partnership import feed_topic

FEED_AGENCY = "nme-police"
FEED = feed_topic(FEED_AGENCY)


@dataclass
class DeliveryFollower:
    """Pairs each routed police notification with its first arrival at one destination."""

    label: str = "delivery (routed -> on the feed)"
    routed_at: dict[str, float] = field(default_factory=dict)  # event id -> record time
    delivered_at: dict[str, float] = field(default_factory=dict)  # webhook-id -> record time
    resent: int = 0

    def routed(self, event_id: str, recipient_agency: str, timestamp: float) -> None:
        """A notification on notifications.routed; followed if it is the police's."""
        if recipient_agency == FEED_AGENCY:
            self.routed_at[event_id] = timestamp

    def on_feed(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """A record on the police feed."""
        webhook_id = dict(record.headers).get("webhook-id", b"").decode()
        self.arrived(webhook_id, record.timestamp / 1000)

    def arrived(self, webhook_id: str, at: float) -> None:
        """A notification arrived at the destination (again, if its id came before)."""
        if webhook_id in self.delivered_at:
            self.resent += 1
        else:
            self.delivered_at[webhook_id] = at

    @property
    def wanted(self) -> int:
        return len(self.routed_at)

    @property
    def delivered(self) -> int:
        return len(self.routed_at.keys() & self.delivered_at.keys())

    def result(self, started: float) -> DeliveryResult:
        """The latencies and throughput of every followed notification delivered so far."""
        latencies = Latencies(self.label)
        done = self.routed_at.keys() & self.delivered_at.keys()
        for event_id in done:
            latencies.record(self.delivered_at[event_id] - self.routed_at[event_id])
        last = max((self.delivered_at[e] for e in done), default=started)
        return DeliveryResult(self.wanted, len(done), self.resent, latencies, started, last)


@dataclass(frozen=True)
class DeliveryResult:
    """Delivery's figures of one run."""

    wanted: int
    delivered: int
    resent: int
    latencies: Latencies
    started: float
    last_delivery: float

    @property
    def per_s(self) -> float:
        """Deliveries per second, from the first scheduled send to the last delivery."""
        if not self.delivered:
            return 0.0
        return self.delivered / max(self.last_delivery - self.started, 1e-9)


async def follow_receiver(url: str, follower: DeliveryFollower, *, every: float = 0.2) -> None:
    """Take the receiver's arrivals of police webhooks into `follower` until cancelled."""
    after = 0
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        # Only what arrives from now: earlier runs' webhooks are not this run's.
        first = await client.get("/received", params={"after": 0, "limit": 1})
        first.raise_for_status()
        after = int(first.json()["last_seq"])
        while True:
            answer = await client.get("/received", params={"after": after})
            answer.raise_for_status()
            items = answer.json()["items"]
            for item in items:
                if item["agency"] == FEED_AGENCY:
                    follower.arrived(item["webhook_id"], item["received_at"])
                after = max(after, item["seq"])
            if not items:
                await asyncio.sleep(every)
