"""What the stack holds after the faults (database and topics), and what it should hold.

Everything here works on ids: problems name concern, notification and event ids and agency ids,
never a child's details.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.v1 import TOPICS, Topic
from schemas.v1.concern import ConcernSubmission
from services.partnership import Partnership
from services.routing.policy import decide_recipients
from tests.faults.load import Submission

WATCHED = (
    Topic.CONCERNS_RECEIVED,
    Topic.CONCERNS_ROUTED,
    Topic.NOTIFICATIONS_ROUTED,
    Topic.AUDIT_EVENTS,
)
SHOWN = 10  # ids listed per kind of problem; the count says how many there are


@dataclass
class TopicLog:
    """The watched topics read from their beginning, without a consumer group."""

    bootstrap_servers: str
    received: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    routed: defaultdict[str, dict[str, frozenset[str]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    notifications: defaultdict[tuple[str, str, str], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    notification_ids: set[str] = field(default_factory=set)
    events_of: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    audit: Counter[str] = field(default_factory=Counter)
    records: int = 0
    copies: int = 0  # records whose event id was on its topic already: re-published, same id
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Assign every partition of the watched topics, positioned at their beginning."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        partitions = [TopicPartition(t.value, p) for t in WATCHED for p in range(TOPICS[t])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def read_to_end(self) -> None:
        """Read every record published up to now."""
        consumer = self._consumer
        assert consumer is not None
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for partition, records in batches.items():
                for record in records:
                    self._take(partition.topic, json.loads(record.value or b"{}"))

    def _take(self, topic: str, event: dict[str, Any]) -> None:
        self.records += 1
        event_id, payload = str(event["event_id"]), event["payload"]
        if (topic, event_id) in self._seen:
            self.copies += 1
        self._seen.add((topic, event_id))
        if topic == Topic.AUDIT_EVENTS.value:
            self.audit[event_id] += 1
            return
        concern_id = str(payload["concern_id"])
        if topic == Topic.CONCERNS_RECEIVED.value:
            self.received[concern_id].add(event_id)
        elif topic == Topic.CONCERNS_ROUTED.value:
            agencies = frozenset(str(r["agency"]) for r in payload["recipients"])
            self.routed[concern_id][event_id] = agencies
        else:
            key = (concern_id, str(payload["recipient_agency"]), str(payload["kind"]))
            self.notifications[key].add(event_id)
            self.notification_ids.add(str(payload["notification_id"]))
            self.events_of[str(payload["notification_id"])].add(event_id)


@dataclass(frozen=True)
class Progress:
    """How far the pipeline has got with the accepted concerns."""

    unsent: int
    routed: int
    known_routed: int
    audit_entries: int
    audit_events: int
    accepted: int

    @property
    def settled(self) -> bool:
        return (
            self.unsent == 0
            and self.routed == self.known_routed == self.accepted
            and self.audit_entries == self.audit_events > 0
        )

    def __str__(self) -> str:
        return (
            f"routed {self.routed}/{self.accepted}, intake knows {self.known_routed}, "
            f"audit log {self.audit_entries}/{self.audit_events} events on the topic, "
            f"outbox rows unsent {self.unsent}"
        )


async def outbox_unsent(db: asyncpg.Connection) -> int:
    """Outbox rows not yet published, over every service's schema."""
    schemas = await db.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
    )
    unsent = 0
    for row in schemas:
        schema = row["table_schema"]
        unsent += await db.fetchval(f'SELECT count(*) FROM "{schema}".outbox WHERE sent_at IS NULL')
    return unsent


async def progress(db: asyncpg.Connection, topics: TopicLog, accepted: list[str]) -> Progress:
    """One look at the pipeline's state (cheap: counts, and the topics read on)."""
    await topics.read_to_end()
    routed = await db.fetchval(
        "SELECT count(*) FROM routing.concerns WHERE concern_id = ANY($1::uuid[])", accepted
    )
    known = await db.fetchval(
        "SELECT count(*) FROM intake.submissions"
        " WHERE routed_at IS NOT NULL AND concern_id = ANY($1::uuid[])",
        accepted,
    )
    entries = await db.fetchval("SELECT count(*) FROM audit.entries")
    return Progress(
        unsent=await outbox_unsent(db),
        routed=routed,
        known_routed=known,
        audit_entries=entries,
        audit_events=len(topics.audit),
        accepted=len(accepted),
    )


@dataclass
class Problems:
    """Violations found, by kind, each with the ids concerned."""

    found: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, ids: str) -> None:
        self.found[kind].append(ids)

    def __bool__(self) -> bool:
        return bool(self.found)

    def report(self) -> str:
        lines = []
        for kind, ids in self.found.items():
            more = f" (and {len(ids) - SHOWN} more)" if len(ids) > SHOWN else ""
            lines.append(f"- {kind}: {len(ids)}{more}")
            lines += [f"    {entry}" for entry in ids[:SHOWN]]
        return "\n".join(lines)


Expected = dict[str, frozenset[str]]  # recipient agency -> reasons


def expected_recipients(
    submission: Submission, received_at: datetime, partnership: Partnership
) -> Expected:
    """The recipients and reasons the partnership's policy gives this concern."""
    decision = decide_recipients(
        ConcernSubmission.model_validate(submission.body),
        source_agency=submission.source_agency,
        received_at=received_at,
        partnership=partnership,
    )
    return {r.agency: frozenset(r.reasons) for r in decision.recipients}


async def check_everything(
    db: asyncpg.Connection,
    topics: TopicLog,
    accepted: dict[str, Submission],
    partnership: Partnership,
) -> tuple[Problems, dict[str, int]]:
    """Every invariant of the fault test over the settled stack; the problems and some counts."""
    problems = Problems()
    await topics.read_to_end()
    submitted = await db.fetch(
        "SELECT concern_id::text AS concern_id, source_agency, source_reference,"
        " received_at, routed_at, recipients::text AS recipients FROM intake.submissions"
    )
    received_at = _check_intake(problems, accepted, submitted)
    expected = {
        concern_id: expected_recipients(submission, received_at[concern_id], partnership)
        for concern_id, submission in accepted.items()
        if concern_id in received_at
    }
    for row in submitted:
        wanted = expected.get(row["concern_id"])
        told = {str(r["agency"]) for r in json.loads(row["recipients"] or "[]")}
        if wanted is not None and row["routed_at"] is not None and told != wanted.keys():
            problems.add("intake was told other recipients than the policy's", row["concern_id"])
    notifications = await db.fetch(
        "SELECT notification_id::text AS notification_id, concern_id::text AS concern_id,"
        " recipient_agency, kind, payload->'reasons' AS reasons FROM routing.notifications"
    )
    routed_concerns = {
        row["concern_id"]
        for row in await db.fetch("SELECT concern_id::text AS concern_id FROM routing.concerns")
    }
    _check_routing(problems, expected, notifications, routed_concerns)
    _check_topics(problems, expected, notifications, topics)
    entries = await db.fetch(
        "SELECT event_id::text AS event_id, action, concern_id::text AS concern_id,"
        " notification_id::text AS notification_id FROM audit.entries"
    )
    _check_audit(problems, expected, notifications, entries, topics)
    counts = {
        "concerns": len(accepted),
        "notifications": len(notifications),
        "concern notifications": sum(1 for n in notifications if n["kind"] == "concern"),
        "audit entries": len(entries),
        "records read from kafka": topics.records,
        "of them re-published copies (same event id)": topics.copies,
    }
    return problems, counts


def _check_intake(
    problems: Problems, accepted: dict[str, Submission], rows: list[asyncpg.Record]
) -> dict[str, datetime]:
    """Each accepted concern is intake's one submission under its reference; received times."""
    by_reference = {(row["source_agency"], row["source_reference"]): row for row in rows}
    received_at = {}
    for concern_id, submission in accepted.items():
        row = by_reference.get((submission.source_agency, submission.reference))
        if row is None:
            problems.add("accepted but intake holds no submission", concern_id)
            continue
        if row["concern_id"] != concern_id:
            problems.add(
                "answer named another concern id than intake holds",
                f"answered {concern_id}, intake {row['concern_id']}",
            )
            continue
        received_at[concern_id] = row["received_at"]
        if row["routed_at"] is None:
            problems.add("intake never learned where the concern went", concern_id)
    answered = set(accepted)
    for row in rows:
        if row["concern_id"] not in answered:
            problems.add("intake holds a concern no answer named", row["concern_id"])
    return received_at


def _check_routing(
    problems: Problems,
    expected: dict[str, Expected],
    notifications: list[asyncpg.Record],
    routed_concerns: set[str],
) -> None:
    """Each concern has exactly its policy's notifications in routing's store, none twice."""
    per_key = Counter((n["concern_id"], n["recipient_agency"], n["kind"]) for n in notifications)
    for (concern_id, agency, kind), count in per_key.items():
        if count > 1:
            problems.add(
                "notification stored twice (concern, recipient, kind)",
                f"{concern_id} {agency} {kind} x{count}",
            )
    stored: defaultdict[str, dict[str, frozenset[str]]] = defaultdict(dict)
    for n in notifications:
        if n["concern_id"] not in expected:
            problems.add("notification for a concern that was never accepted", n["notification_id"])
        elif n["kind"] == "concern":
            stored[n["concern_id"]][n["recipient_agency"]] = frozenset(json.loads(n["reasons"]))
    for concern_id, wanted in expected.items():
        if concern_id not in routed_concerns:
            problems.add("accepted concern never routed", concern_id)
        got = stored.get(concern_id, {})
        for agency in wanted.keys() - got.keys():
            problems.add("policy's notification missing", f"{concern_id} -> {agency}")
        for agency in got.keys() - wanted.keys():
            problems.add("notification the policy does not give", f"{concern_id} -> {agency}")
        for agency in wanted.keys() & got.keys():
            if wanted[agency] != got[agency]:
                problems.add(
                    "notification with other reasons than the policy's",
                    f"{concern_id} -> {agency}: {sorted(got[agency])} != {sorted(wanted[agency])}",
                )


def _check_topics(
    problems: Problems,
    expected: dict[str, Expected],
    notifications: list[asyncpg.Record],
    topics: TopicLog,
) -> None:
    """Each concern and notification went out under one event id (redelivery keeps the id)."""
    for concern_id, wanted in expected.items():
        for name, events in (
            ("concerns.received", topics.received.get(concern_id, set())),
            ("concerns.routed", set(topics.routed.get(concern_id, {}))),
        ):
            if not events:
                problems.add(f"accepted concern never on {name}", concern_id)
            elif len(events) > 1:
                problems.add(
                    f"concern on {name} under {len(events)} event ids (published twice)",
                    concern_id,
                )
        for agencies in topics.routed.get(concern_id, {}).values():
            if agencies != wanted.keys():
                problems.add("concerns.routed names other recipients than the policy", concern_id)
    for concern_id in topics.received.keys() - expected.keys():
        problems.add("concern on concerns.received that was never accepted", concern_id)
    for (concern_id, agency, kind), events in topics.notifications.items():
        if len(events) > 1:
            problems.add(
                "notification on notifications.routed under several event ids (sent twice)",
                f"{concern_id} {agency} {kind}: {len(events)} event ids",
            )
    stored = {n["notification_id"] for n in notifications}
    for notification_id in stored - topics.notification_ids:
        problems.add("stored notification never published", notification_id)
    for notification_id in topics.notification_ids - stored:
        problems.add("published notification not in routing's store", notification_id)


def _check_audit(
    problems: Problems,
    expected: dict[str, Expected],
    notifications: list[asyncpg.Record],
    entries: list[asyncpg.Record],
    topics: TopicLog,
) -> None:
    """Every audit event is in the log once, and each concern's story is told once."""
    logged = Counter(entry["event_id"] for entry in entries)
    for event_id, count in logged.items():
        if count > 1:
            problems.add("audit event in the log more than once", f"{event_id} x{count}")
    for event_id in topics.audit.keys() - logged.keys():
        problems.add("audit event on the topic but not in the log", event_id)
    for event_id in logged.keys() - topics.audit.keys():
        problems.add("audit entry whose event was never on the topic", event_id)
    actions: Counter[tuple[str | None, str]] = Counter(
        (entry["concern_id"], entry["action"]) for entry in entries
    )
    delivered = Counter(
        entry["notification_id"] for entry in entries if entry["action"] == "notification.delivered"
    )
    for concern_id in expected:
        for action in ("concern.submitted", "concern.routed"):
            count = actions[(concern_id, action)]
            if count != 1:
                problems.add(f"{action} audited {count} times, not once", concern_id)
    for n in notifications:
        if delivered[n["notification_id"]] != 1:
            problems.add(
                f"notification.delivered audited {delivered[n['notification_id']]} times",
                n["notification_id"],
            )
