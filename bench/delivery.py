"""Delivery's figures: deliveries per second and the latency from routed to delivered.

Measured on the police's own feed, `deliveries.nme-police`, the Kafka destination of the
reference partnership that `safeguard up` loads by default, so it works on the default stack:

- routed: the timestamp of a `NotificationRouted` record for the police on
  `notifications.routed` (stamped by routing's relay when it published it);
- delivered: the timestamp of the record on `deliveries.nme-police` whose `webhook-id` header is
  that event's id (stamped by delivery when it put it on the feed).

Both are producer CreateTime on one machine, so one clock. A webhook-id seen twice on the feed
(a resend: at-least-once) counts once, at its first record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord

from bench.report import Latencies
from services.partnership import feed_topic

FEED_AGENCY = "nme-police"
FEED = feed_topic(FEED_AGENCY)


@dataclass
class DeliveryFollower:
    """Pairs each routed police notification with its first record on the police feed."""

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
        if webhook_id in self.delivered_at:
            self.resent += 1
        else:
            self.delivered_at[webhook_id] = record.timestamp / 1000

    @property
    def wanted(self) -> int:
        return len(self.routed_at)

    @property
    def delivered(self) -> int:
        return len(self.routed_at.keys() & self.delivered_at.keys())

    def result(self, started: float) -> DeliveryResult:
        """The latencies and throughput of every followed notification delivered so far."""
        latencies = Latencies("delivery (routed -> on the feed)")
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
