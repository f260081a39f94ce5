"""Under a stream of concerns, kill -9 each service several times, restart Kafka and PostgreSQL.

Afterwards every concern intake accepted (202, or 200 for a retry of one it had taken) has
exactly its policy's notifications, none twice, each published under one event id; every
event on `audit.events` is in the audit log once, and the log verifies; and every notification
for an agency with a destination (the police's feed, a school's webhook receiver in this test
that answers 500 now and then) reached it at least once and once by webhook-id, none is left
dead-lettered.

Settings (environment): FAULTS_CONCERNS (default 5000), FAULTS_RATE (concerns offered per
second, default 80), FAULTS_SEED (default: random, printed), FAULTS_KILLS (kill -9 of each
service, default 3), FAULTS_SENDERS (concurrent agency systems, default 16).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from services.partnership import load_partnership
from tests.faults.chaos import ChaosPlan, carry_out, plan_chaos
from tests.faults.deliveries import (
    CaseSystem,
    DeliveryProgress,
    FeedLog,
    check_deliveries,
    delivery_progress,
    destinations_per_agency,
    fault_partnership,
)
from tests.faults.ledger import Progress, TopicLog, check_everything, progress
from tests.faults.load import LoadRecord, Submission, steady_load, submissions
from tests.faults.stack import PrivateStack, Timeline

BUDGET = 600.0  # seconds for the whole test, stack start and stop included
pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(BUDGET + 120)]

CONCERNS = int(os.environ.get("FAULTS_CONCERNS", "5000"))
RATE = float(os.environ.get("FAULTS_RATE", "80"))
SEED = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1_000_000))
KILLS = int(os.environ.get("FAULTS_KILLS", "3"))
SENDERS = int(os.environ.get("FAULTS_SENDERS", "16"))
RESERVE = 75.0  # kept back for the checks, the verification and `down`
# Delivery on a short clock: retries from a second apart to ten, and attempts that time out
# within a few seconds, so that a claim left by a killed delivery is given up after about 10 s a
# round, not 27. The faults still make attempts fail, repeat and be taken over; the run just does
# not sit out production's minutes of backoff and leases to see the last ones land.
QUICK_DELIVERY = {
    "DELIVERY_FIRST_RETRY_SECONDS": "1",
    "DELIVERY_LONGEST_RETRY_SECONDS": "10",
    "DELIVERY_CONNECT_TIMEOUT_SECONDS": "2",
    "DELIVERY_READ_TIMEOUT_SECONDS": "3",
}


async def every_few_seconds(timeline: Timeline, line: object) -> None:
    """Print a progress line every five seconds until cancelled."""
    while True:
        await asyncio.sleep(5)
        print(f"[{timeline.now():6.1f} s]   {line}", flush=True)


async def settle(
    db: asyncpg.Connection,
    topics: TopicLog,
    accepted: list[str],
    destinations: dict[str, int],
    timeline: Timeline,
) -> tuple[Progress, DeliveryProgress]:
    """Wait, within the budget, until every accepted concern is routed, audited and delivered."""
    deadline = BUDGET - RESERVE
    last_print = 0.0

    async def look() -> tuple[Progress, DeliveryProgress]:
        return await progress(db, topics, accepted), await delivery_progress(db, destinations)

    while True:
        seen, delivered = await look()
        if seen.settled and delivered.settled:
            # Once more, a little later: a handler may have been between its input and its commit.
            await asyncio.sleep(2)
            seen, delivered = await look()
            if seen.settled and delivered.settled:
                return seen, delivered
        if timeline.now() > deadline:
            return seen, delivered
        if timeline.now() - last_print >= 5:
            last_print = timeline.now()
            print(f"[{timeline.now():6.1f} s]   settling: {seen}, {delivered}", flush=True)
        await asyncio.sleep(1)


async def run_under_chaos(
    stack: PrivateStack, timeline: Timeline, rng: random.Random
) -> tuple[LoadRecord, dict[str, Submission], ChaosPlan]:
    """Post every concern while the plan's faults happen; the answers, by concern id."""
    partnership = load_partnership(stack.partnership_path)
    agencies = [agency.id for agency in partnership.agencies]
    tokens = {
        agency: stack.token(agency, "agency_system", f"faults-{agency}") for agency in agencies
    }
    work = submissions(CONCERNS, agencies, rng)
    plan = plan_chaos(rng, window=CONCERNS / RATE, kills=KILLS)
    timeline.note(f"chaos plan: {plan.describe()}")
    record = LoadRecord()
    load_deadline = timeline.now() + CONCERNS / RATE + 150
    started = asyncio.get_running_loop().time()
    timeline.note(f"load: {CONCERNS} concerns at {RATE:g}/s from {SENDERS} senders")
    load = asyncio.create_task(
        steady_load(
            f"{stack.url('intake')}/v1/concerns", work, tokens,
            rate=RATE, senders=SENDERS, record=record, rng=random.Random(rng.random()),
            give_up=lambda: timeline.now() > load_deadline,
        )
    )  # fmt: skip
    chaos = asyncio.create_task(carry_out(plan, stack, started=started))
    printer = asyncio.create_task(every_few_seconds(timeline, _Live(record)))
    try:
        await asyncio.gather(load, chaos)
    finally:
        for task in (load, chaos, printer):
            task.cancel()
        await asyncio.gather(load, chaos, printer, return_exceptions=True)
    timeline.note(f"load done: {record.summary()}")
    refused = [f"#{index}: {why}" for index, why in sorted(record.refused.items())[:10]]
    assert not record.refused, f"intake refused {len(record.refused)} valid concerns: {refused}"
    assert len(record.answers) == CONCERNS, (
        f"only {len(record.answers)} of {CONCERNS} concerns were accepted before the load's "
        f"deadline ({record.summary()}); logs: {stack.logs}"
    )
    accepted = {answer.concern_id: work[index] for index, answer in record.answers.items()}
    assert len(accepted) == CONCERNS, "two different concerns were answered with one concern id"
    return record, accepted, plan


class _Live:
    """The load's counters as a progress line."""

    def __init__(self, record: LoadRecord) -> None:
        self.record = record

    def __str__(self) -> str:
        return f"load: {self.record.summary()}"


async def check_settled_stack(
    stack: PrivateStack,
    timeline: Timeline,
    accepted: dict[str, Submission],
    case_system: CaseSystem,
) -> None:
    """Wait for the pipeline to drain, then hold it to every invariant."""
    partnership = load_partnership(stack.partnership_path)
    bootstrap = stack.settings["KAFKA_BOOTSTRAP_SERVERS"]
    topics = TopicLog(bootstrap)
    await topics.start()
    db = await asyncpg.connect(stack.settings["DATABASE_URL"])
    try:
        destinations = destinations_per_agency(partnership)
        seen, delivered = await settle(db, topics, list(accepted), destinations, timeline)
        settled = seen.settled and delivered.settled
        timeline.note(f"{'settled' if settled else 'NOT SETTLED'}: {seen}, {delivered}")
        problems, counts = await check_everything(db, topics, accepted, partnership)
        counts |= await check_deliveries(
            db, problems, notification_events=topics.events_of, feed=FeedLog(bootstrap),
            case_system=case_system,
        )  # fmt: skip
    finally:
        await db.close()
        await topics.stop()
    timeline.note("checked: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    assert not problems, (
        f"after the faults (FAULTS_SEED={SEED}; logs in {stack.logs}):\n{problems.report()}"
    )
    auditor = stack.token("nm-csc", "auditor", "faults-auditor")
    async with httpx.AsyncClient(timeout=300) as client:
        response = await client.get(
            f"{stack.url('audit')}/v1/audit/verify", headers={"Authorization": f"Bearer {auditor}"}
        )
    assert response.status_code == 200, f"audit verify answered {response.status_code}"
    verdict = response.json()
    timeline.note(f"audit verify: ok={verdict['ok']} entries={verdict['entries']}")
    assert verdict["ok"] is True, f"the audit log does not verify: {verdict}"
    assert verdict["entries"] >= counts["audit entries"]


async def test_nothing_is_lost_or_duplicated_when_parts_die(tmp_path: Path) -> None:
    timeline = Timeline()
    rng = random.Random(SEED)
    print(
        f"\nfault test: FAULTS_SEED={SEED} FAULTS_CONCERNS={CONCERNS} FAULTS_RATE={RATE:g} "
        f"FAULTS_KILLS={KILLS}",
        flush=True,
    )
    case_system = CaseSystem.of(rng)
    # Listening before the stack picks its free ports, so that none of them is the receiver's.
    await case_system.receiver.start()
    stack = PrivateStack(
        tmp_path, timeline, partnership=fault_partnership(tmp_path, case_system),
        settings=case_system.env | QUICK_DELIVERY,
    )  # fmt: skip
    watcher: asyncio.Task[None] | None = None
    try:
        await stack.up()
        timeline.note(f"stack up (home {stack.home})")
        watcher = asyncio.create_task(stack.watch())
        record, accepted, plan = await run_under_chaos(stack, timeline, rng)
        watcher.cancel()
        await stack.up()  # starts nothing if every part came back; fails unless all are ready
        timeline.note("safeguard up again: every part running and ready")
        assert not stack.unexpected_exits, (
            f"services exited without being killed: {stack.unexpected_exits}; see {stack.logs}"
        )
        ready = await stack.all_ready()
        assert all(ready.values()), f"not ready after the faults: {ready}; see {stack.logs}"
        await check_settled_stack(stack, timeline, accepted, case_system)
        done = ", ".join(f"{target} x{count}" for target, count in sorted(plan.done.items()))
        timeline.note(
            f"passed: {CONCERNS} concerns ({record.count(202)} x 202, {record.count(200)} x 200 "
            f"on a retry), faults: {done}"
        )
    finally:
        if watcher is not None:
            watcher.cancel()
        timeline.note(f"down: {await stack.down()}")
        await case_system.receiver.stop()
