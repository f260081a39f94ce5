"""The fault stack's delivery destinations, and what they should have received afterwards.

The police's records system reads its feed, `deliveries.nme-police` (as in the reference
partnership); one school's case system is a webhook receiver in the test process that verifies
every signature and answers 500 now and then. Everything here works on ids, never content.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.delivery.handlers import FEED_PARTITIONS
from services.partnership import Partnership, default_partnership_path, feed_topic
from tests.faults.ledger import Problems
from tests.integration.delivery_support import Receiver, a_secret

FEED_AGENCY = "nme-police"
WEBHOOK_AGENCY = "nm-school-riverside"
WEBHOOK_ID = "case-system"
SECRET_ENV = "FAULTS_WEBHOOK_SECRET"
REFUSED_SHARE = 0.05  # of the receiver's answers: 500, so that deliveries are retried


@dataclass
class NowAndThen500:
    """The receiver's answers: mostly 204, a 500 now and then; what it took, by webhook-id."""

    rng: random.Random
    taken: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    async def __call__(self, path: str, attempt: int, webhook_id: str) -> int:
        if self.rng.random() < REFUSED_SHARE:
            self.refused += 1
            return 500
        self.taken[webhook_id] += 1
        return 204


@dataclass
class CaseSystem:
    """The school's case system: a loopback receiver, its answers, and its signing secret."""

    answers: NowAndThen500
    receiver: Receiver

    @classmethod
    def of(cls, rng: random.Random) -> CaseSystem:
        answers = NowAndThen500(random.Random(rng.random()))
        return cls(answers, Receiver(a_secret(), answers))

    @property
    def env(self) -> dict[str, str]:
        """What the delivery service needs to sign for this receiver."""
        return {SECRET_ENV: self.receiver.secret}


def fault_partnership(folder: Path, case_system: CaseSystem) -> Path:
    """The reference partnership (police feed included) plus the school's webhook, under folder."""
    document = yaml.safe_load(default_partnership_path().read_text())
    for agency in document["agencies"]:
        if agency["id"] == WEBHOOK_AGENCY:
            agency["deliveries"] = [
                {"id": WEBHOOK_ID, "kind": "webhook", "url": case_system.receiver.url(WEBHOOK_ID),
                 "secret_env": SECRET_ENV}
            ]  # fmt: skip
    path = folder / "faults-partnership.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def destinations_per_agency(partnership: Partnership) -> dict[str, int]:
    """How many destinations each agency that has any delivers to."""
    found = {a.id: len(partnership.destinations(a.id)) for a in partnership.agencies}
    return {agency: count for agency, count in found.items() if count}


@dataclass
class FeedLog:
    """The police feed read from its beginning with a plain consumer: webhook-ids, and whose."""

    bootstrap_servers: str
    webhook_ids: Counter[str] = field(default_factory=Counter)
    notification_of: dict[str, str] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None

    async def read_all(self) -> None:
        """Read every record on the feed up to now."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            topic = feed_topic(FEED_AGENCY)
            partitions = [TopicPartition(topic, p) for p in range(FEED_PARTITIONS)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in batches.values():
                    for record in records:
                        webhook_id = dict(record.headers).get("webhook-id", b"").decode()
                        body = json.loads(record.value or b"{}")
                        self.webhook_ids[webhook_id] += 1
                        self.notification_of[webhook_id] = _notification_id(body)
        finally:
            await consumer.stop()


def _notification_id(body: dict[str, Any]) -> str:
    return str(body.get("notification", {}).get("notification_id", ""))


@dataclass(frozen=True)
class DeliveryProgress:
    """How far delivery has got with the notifications of agencies that have destinations."""

    wanted: int
    recorded: int
    delivered: int
    dead_lettered: int

    @property
    def settled(self) -> bool:
        return self.wanted == self.recorded == self.delivered

    def __str__(self) -> str:
        return (
            f"delivered {self.delivered}/{self.wanted} ({self.recorded} recorded, "
            f"{self.dead_lettered} dead-lettered)"
        )


async def delivery_progress(
    db: asyncpg.Connection, destinations: dict[str, int]
) -> DeliveryProgress:
    """One look at delivery's state (counts only)."""
    per_agency = await db.fetch(
        "SELECT recipient_agency, count(*) AS n FROM routing.notifications"
        " WHERE recipient_agency = ANY($1::text[]) GROUP BY recipient_agency",
        list(destinations),
    )
    statuses = dict(
        await db.fetch("SELECT status, count(*) FROM delivery.deliveries GROUP BY status")
    )
    return DeliveryProgress(
        wanted=sum(row["n"] * destinations[row["recipient_agency"]] for row in per_agency),
        recorded=sum(statuses.values()),
        delivered=statuses.get("delivered", 0),
        dead_lettered=statuses.get("dead_lettered", 0),
    )


@dataclass(frozen=True)
class Arrivals:
    """What reached one agency's destination: records per webhook-id, and whose body each was."""

    agency: str
    taken: Counter[str]
    notification_of: dict[str, str]

    @property
    def duplicates(self) -> int:
        """Records beyond the first of each webhook-id: at-least-once on the wire."""
        return sum(count - 1 for count in self.taken.values())


async def check_deliveries(
    db: asyncpg.Connection,
    problems: Problems,
    *,
    notification_events: dict[str, set[str]],
    feed: FeedLog,
    case_system: CaseSystem,
) -> dict[str, int]:
    """Each notification for the police and the school reached its destination at least once,
    once by webhook-id (its event id), and was recorded delivered and audited; some counts."""
    await feed.read_all()
    arrivals = [
        Arrivals(FEED_AGENCY, feed.webhook_ids, feed.notification_of),
        Arrivals(WEBHOOK_AGENCY, case_system.answers.taken, {
            webhook_id: _notification_id(body)
            for webhook_id, body in case_system.receiver.accepted.items()
        }),
    ]  # fmt: skip
    notifications = await db.fetch(
        "SELECT notification_id::text AS notification_id, recipient_agency"
        " FROM routing.notifications WHERE recipient_agency = ANY($1::text[])",
        [a.agency for a in arrivals],
    )
    recorded = await _recorded_deliveries(db, problems)
    succeeded = await _audited_successes(db)
    for notification_id in recorded.keys() - {n["notification_id"] for n in notifications}:
        problems.add("delivery of a notification routing does not hold", notification_id)
    for n in notifications:
        notification_id = n["notification_id"]
        rows = recorded.get(notification_id, [])
        if len(rows) != 1:
            problems.add(f"notification recorded for delivery {len(rows)} times", notification_id)
        if any(row["event_id"] not in notification_events.get(notification_id, ()) for row in rows):
            problems.add(
                "delivery's webhook-id is not the notification's event id", notification_id
            )
        if succeeded[notification_id] < 1:
            problems.add("delivery.succeeded never audited", notification_id)
    for arrived in arrivals:
        ids = [
            n["notification_id"] for n in notifications if n["recipient_agency"] == arrived.agency
        ]
        _check_arrivals(problems, arrived, ids, notification_events)
    if case_system.receiver.forged:
        problems.add("webhooks whose signature did not verify", str(case_system.receiver.forged))
    feed_arrivals, webhook_arrivals = arrivals
    return {
        "deliveries recorded": sum(len(rows) for rows in recorded.values()),
        "feed records": sum(feed_arrivals.taken.values()),
        "of them duplicates (same webhook-id)": feed_arrivals.duplicates,
        "webhooks taken": sum(webhook_arrivals.taken.values()),
        "of them duplicates": webhook_arrivals.duplicates,
        "webhooks answered 500": case_system.answers.refused,
    }


async def _recorded_deliveries(
    db: asyncpg.Connection, problems: Problems
) -> dict[str, list[asyncpg.Record]]:
    """Delivery's rows by notification id; any not delivered (dead-lettered...) is a problem."""
    rows = await db.fetch(
        "SELECT notification_id::text AS notification_id, event_id::text AS event_id, agency,"
        " destination, status FROM delivery.deliveries"
    )
    by_notification: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_notification.setdefault(row["notification_id"], []).append(row)
        if row["status"] != "delivered":
            problems.add(
                f"delivery left {row['status']}",
                f"{row['notification_id']} -> {row['agency']}/{row['destination']}",
            )
    return by_notification


async def _audited_successes(db: asyncpg.Connection) -> Counter[str]:
    """delivery.succeeded entries in the audit log, by notification id."""
    rows = await db.fetch(
        "SELECT notification_id::text AS notification_id FROM audit.entries"
        " WHERE action = 'delivery.succeeded'"
    )
    return Counter(row["notification_id"] for row in rows)


def _check_arrivals(
    problems: Problems,
    arrived: Arrivals,
    notification_ids: list[str],
    notification_events: dict[str, set[str]],
) -> None:
    """Each of the agency's notifications arrived under its one event id, with its own body;
    nothing else arrived; distinct webhook-ids == notifications."""
    agency = arrived.agency
    wanted: set[str] = set()
    for notification_id in notification_ids:
        events = notification_events.get(notification_id, set())
        wanted |= events
        ids = events & arrived.taken.keys()
        if not ids:
            problems.add(f"never reached {agency}'s destination", notification_id)
        elif len(ids) > 1:
            problems.add(f"reached {agency} under several webhook-ids", notification_id)
        if any(arrived.notification_of.get(webhook_id) != notification_id for webhook_id in ids):
            problems.add(f"{agency} received another notification's body", notification_id)
    for webhook_id in arrived.taken.keys() - wanted:
        problems.add(f"{agency} received a webhook-id none of its notifications has", webhook_id)
    if len(arrived.taken) != len(notification_ids):
        problems.add(
            f"{agency}: distinct webhook-ids received != its notifications",
            f"{len(arrived.taken)} != {len(notification_ids)}",
        )
