"""Delivery on real Kafka and PostgreSQL into a real receiver that verifies every signature.

Each case ends with every notification accepted once by webhook-id (the receiver deduplicates,
as the specification asks of it), whatever the receiver did on the way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from schemas.v1 import NotificationRouted
from services.common.db import make_engine
from services.common.outbox import stored_columns, unpacked
from services.delivery import store
from services.delivery.app import build_app
from services.delivery.settings import DeliverySettings
from tests.delivery_builders import a_routed_notification, partnership_file
from tests.integration.delivery_support import (
    Receiver,
    a_secret,
    close_within,
    publish_routed,
)
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

READ_TIMEOUT = 0.5
SHORT_RETRIES: dict[str, Any] = {
    "delivery_connect_timeout_seconds": 0.5,
    "delivery_read_timeout_seconds": READ_TIMEOUT,
    "delivery_first_retry_seconds": 0.2,
    "delivery_longest_retry_seconds": 1.0,
    "delivery_poll_interval_seconds": 0.1,
}
flaky_requests = 0
picky_accepts = False
gone_answers = 410


async def behaviour(path: str, attempt: int, webhook_id: str) -> int:
    """Each path of the receiver plays one part."""
    global flaky_requests
    if path == "flaky":
        flaky_requests += 1
        return 500 if flaky_requests % 2 else 204
    if path == "slow" and attempt == 1:
        await asyncio.sleep(READ_TIMEOUT * 3)
    if path == "gone":
        return gone_answers
    if path == "picky":
        return 204 if picky_accepts else 400
    return 204


@dataclass
class DeliveryStack:
    """The delivery service in this process, the receiver, and one that is not up yet."""

    app: FastAPI
    http: httpx.AsyncClient
    receiver: Receiver
    late: Receiver
    kafka: str
    database_url: str
    token: Callable[..., str]

    async def publish(self, agency: str, count: int) -> list[NotificationRouted]:
        events = [a_routed_notification(agency) for _ in range(count)]
        await publish_routed(self.kafka, events)
        return events

    def admin(self, agency: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(agency, 'delivery_admin', 'it-lead')}"}

    async def deliveries(self, agency: str, **query: str) -> list[dict[str, Any]]:
        answer = await self.http.get(
            "/v1/deliveries", params={"agency": agency, "limit": "500", **query},
            headers=self.admin(agency),
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    service_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory, token: Any
) -> AsyncIterator[DeliveryStack]:
    """Delivery with a destination per case, into one receiver (and a late one), with short
    retries."""
    secret = a_secret()
    receiver, late = Receiver(secret, behaviour), Receiver(secret)

    def hook(name: str, on: Receiver = receiver) -> dict[str, str]:
        return {"id": name, "kind": "webhook", "url": on.url(name), "secret_env": "RECEIVER_KEY"}

    path = partnership_file(
        tmp_path_factory.mktemp("delivery"),
        {
            "nm-school-oakfield": [hook("late", on=late)],
            "nm-school-riverside": [hook("flaky")],
            "ev-school-hilltop": [hook("slow")],
            "nm-health-visiting": [hook("gone"), hook("steady")],
            "nme-camhs": [hook("healthy"), hook("picky")],
            "nm-yjs": [hook("unsigned") | {"secret_env": "NOBODY_SET_THIS"}],
        },
    )
    settings = DeliverySettings(**service_environment, partnership_path=path, **SHORT_RETRIES)
    app = build_app(settings, environ={"RECEIVER_KEY": secret})
    await receiver.start()
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://delivery")
        )
        yield DeliveryStack(app, http, receiver, late, service_environment[
            "kafka_bootstrap_servers"], service_environment["database_url"], token)  # fmt: skip
    finally:
        await close_within(stack, 60)
        await receiver.stop()
        await late.stop()


def ids(events: list[NotificationRouted]) -> set[str]:
    return {str(event.event_id) for event in events}


async def accepted(receiver: Receiver, path: str, events: list[NotificationRouted]) -> bool:
    return ids(events) <= receiver.ids_at(path)


def assert_each_once_as_its_recipient_sees_it(
    receiver: Receiver, events: list[NotificationRouted]
) -> None:
    assert receiver.forged == 0
    for event in events:
        body = receiver.accepted[str(event.event_id)]
        expected = event.payload.model_dump(mode="json", exclude={"child_id"})
        assert body == {"type": "notification.routed", "notification": expected}


async def test_a_receiver_down_for_a_while_gets_everything_once_it_is_up(
    stack: DeliveryStack,
) -> None:
    events = await stack.publish("nm-school-oakfield", 8)

    async def retried() -> bool:
        found = await stack.deliveries("nm-school-oakfield")
        mine = [d for d in found if d["webhook_id"] in ids(events)]
        return len(mine) == 8 and all(d["attempts"] >= 2 for d in mine)

    await eventually(retried, within=30, what="every delivery retried while the receiver is down")
    mine = [
        d for d in await stack.deliveries("nm-school-oakfield") if d["webhook_id"] in ids(events)
    ]
    assert {d["last_error"] for d in mine} == {"connection"}
    await stack.late.start()
    await eventually(lambda: accepted(stack.late, "late", events), within=20, what="delivered")
    assert_each_once_as_its_recipient_sees_it(stack.late, events)

    async def settled() -> bool:
        delivered = await stack.deliveries("nm-school-oakfield", status="delivered")
        return ids(events) <= {d["webhook_id"] for d in delivered}

    await eventually(settled, within=10, what="every delivery recorded as delivered")


async def test_a_receiver_answering_500_every_other_time_gets_everything(
    stack: DeliveryStack,
) -> None:
    events = await stack.publish("nm-school-riverside", 10)
    await eventually(lambda: accepted(stack.receiver, "flaky", events), within=30,
                     what="every notification delivered")  # fmt: skip
    assert_each_once_as_its_recipient_sees_it(stack.receiver, events)
    assert flaky_requests >= 12

    audits = await audit_events(stack, {e.payload.notification_id for e in events})
    failed = [a for a in audits if a["action"] == "delivery.failed"]
    assert failed
    assert {a["details"]["http_status"] for a in failed} == {500}
    succeeded = [a for a in audits if a["action"] == "delivery.succeeded"]
    assert len(succeeded) == 10
    attempted = [a for a in audits if a["action"] == "delivery.attempted"]
    assert len(attempted) == len(failed) + len(succeeded)
    assert {a["details"]["destination"] for a in audits} == {"flaky"}
    assert all(a["concern_id"] and a["notification_id"] for a in audits)


async def audit_events(stack: DeliveryStack, notification_ids: set[Any]) -> list[dict[str, Any]]:
    """The audit events delivery put in its outbox about these notifications."""
    engine = make_engine(DeliverySettings(database_url=stack.database_url))
    outbox = stack.app.state.runtime.outbox
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(stored_columns(outbox))).all()
    finally:
        await engine.dispose()
    payloads = [json.loads(e.payload)["payload"] for row in rows for e in unpacked(row)]
    wanted = {str(n) for n in notification_ids}
    return [p for p in payloads if p.get("notification_id") in wanted]


async def test_a_receiver_slower_than_the_read_timeout_gets_everything(
    stack: DeliveryStack,
) -> None:
    events = await stack.publish("ev-school-hilltop", 6)
    await eventually(lambda: accepted(stack.receiver, "slow", events), within=30,
                     what="every notification delivered")  # fmt: skip
    assert_each_once_as_its_recipient_sees_it(stack.receiver, events)
    for event in events:
        assert stack.receiver.requests[("slow", str(event.event_id))] >= 2

    async def timed_out() -> bool:
        audits = await audit_events(stack, {e.payload.notification_id for e in events})
        return any(a["details"].get("error") == "timeout" for a in audits)

    await eventually(timed_out, within=10, what="an attempt audited as timed out")


async def test_a_gone_destination_is_disabled_and_the_others_are_not(
    stack: DeliveryStack,
) -> None:
    global gone_answers
    events = await stack.publish("nm-health-visiting", 5)
    await eventually(lambda: accepted(stack.receiver, "steady", events), within=30,
                     what="the agency's other destination served")  # fmt: skip
    assert_each_once_as_its_recipient_sees_it(stack.receiver, events)

    async def disabled() -> list[dict[str, Any]] | None:
        found = await stack.deliveries("nm-health-visiting", status="disabled")
        mine = [d for d in found if d["webhook_id"] in ids(events)]
        return mine if len(mine) == 5 else None

    gone = await eventually(disabled, within=60, what="the gone destination's deliveries disabled")
    assert {d["destination"] for d in gone} == {"gone"}
    # Only the attempts already in flight when the first 410 came (the bound, 4) were made.
    assert sum(stack.receiver.requests[("gone", i)] for i in ids(events)) <= 4
    metrics = (await stack.http.get("/metrics")).text
    assert (
        'delivery_destinations_disabled_total{agency="nm-health-visiting",destination="gone"} 1.0'
        in metrics
    )

    # The receiver is back: redelivering one takes the destination, and all it held, back.
    gone_answers = 204
    answer = await stack.http.post(
        f"/v1/deliveries/{gone[0]['delivery_id']}/redeliver",
        headers=stack.admin("nm-health-visiting"),
    )
    assert answer.status_code == 200, answer.text
    await eventually(lambda: accepted(stack.receiver, "gone", events), within=20,
                     what="every disabled delivery sent again")  # fmt: skip
    assert_each_once_as_its_recipient_sees_it(stack.receiver, events)


async def test_a_down_and_a_slow_destination_do_not_delay_a_healthy_one(
    stack: DeliveryStack,
) -> None:
    await stack.late.stop()
    try:
        await stack.publish("nm-school-oakfield", 20)
        await stack.publish("ev-school-hilltop", 20)
        await asyncio.sleep(0.5)
        started = asyncio.get_running_loop().time()
        events = await stack.publish("nme-camhs", 5)
        await eventually(lambda: accepted(stack.receiver, "healthy", events), within=10,
                         what="the healthy destination served")  # fmt: skip
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await stack.late.start()


async def test_a_refused_delivery_fails_is_listed_and_is_redelivered_on_request(
    stack: DeliveryStack,
) -> None:
    global picky_accepts
    [event] = await stack.publish("nme-camhs", 1)

    async def failed() -> dict[str, Any] | None:
        found = await stack.deliveries("nme-camhs", status="failed")
        return next((d for d in found if d["webhook_id"] == str(event.event_id)), None)

    refused = await eventually(failed, within=20, what="the refused delivery failed")
    assert refused["last_status_code"] == 400
    assert refused["attempts"] == 1
    assert stack.receiver.requests[("picky", str(event.event_id))] == 1

    path = f"/v1/deliveries/{refused['delivery_id']}/redeliver"
    other = await stack.http.post(path, headers=stack.admin("nm-csc"))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    listing = await stack.http.get("/v1/deliveries", params={"agency": "nme-camhs"},
                                   headers=stack.admin("nm-csc"))  # fmt: skip
    assert listing.status_code == 403
    caseworker = {"authorization": f"Bearer {stack.token('nme-camhs', 'caseworker', 'cw')}"}
    assert (await stack.http.post(path, headers=caseworker)).status_code == 403

    picky_accepts = True
    answer = await stack.http.post(path, headers=stack.admin("nme-camhs"))
    assert answer.status_code == 200
    assert answer.json()["status"] == "pending"
    await eventually(lambda: accepted(stack.receiver, "picky", [event]), within=20,
                     what="the redelivery")  # fmt: skip
    again = await stack.http.post(path, headers=stack.admin("nme-camhs"))
    assert again.status_code == 409

    async def delivered() -> dict[str, Any] | None:
        found = await stack.deliveries("nme-camhs", status="delivered")
        return next((d for d in found if d["delivery_id"] == refused["delivery_id"]), None)

    done = await eventually(delivered, within=10, what="the redelivery recorded")
    assert done["attempts"] == 2


async def test_a_destination_without_its_secret_fails_clearly_and_sends_nothing(
    stack: DeliveryStack,
) -> None:
    [event] = await stack.publish("nm-yjs", 1)

    async def failed() -> dict[str, Any] | None:
        found = await stack.deliveries("nm-yjs", status="failed")
        return next((d for d in found if d["webhook_id"] == str(event.event_id)), None)

    refused = await eventually(failed, within=20, what="the unsigned delivery failed")
    assert refused["last_error"] == "secret_missing"
    assert ("unsigned", str(event.event_id)) not in stack.receiver.requests


async def test_the_delivery_tables_keep_one_row_per_notification_and_destination(
    stack: DeliveryStack,
) -> None:
    events = await stack.publish("nme-camhs", 3)
    await publish_routed(stack.kafka, events)  # the same events again, as a redelivery would
    await eventually(lambda: accepted(stack.receiver, "healthy", events), within=20,
                     what="delivered")  # fmt: skip
    engine = make_engine(DeliverySettings(database_url=stack.database_url))
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(store.deliveries.c.destination).where(
                        store.deliveries.c.event_id.in_([e.event_id for e in events])
                    )
                )
            ).scalars().all()  # fmt: skip
    finally:
        await engine.dispose()
    assert sorted(rows) == ["healthy"] * 3 + ["picky"] * 3
