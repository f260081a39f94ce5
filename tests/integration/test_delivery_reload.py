"""Delivery following a new partnership version without a restart (real Kafka, PostgreSQL and
loopback receivers that verify every signature).

Version A serves a destination that keeps answering 503 and one at the first receiver; version
B removes the first, moves the second to another receiver under another secret, adds a webhook
and a feed for agencies that had none, and shortens the retry window.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from schemas.v1 import NotificationRouted
from services.delivery.app import build_app
from services.delivery.settings import DeliverySettings
from services.partnership import feed_topic
from services.partnership.holder import PartnershipHolder
from tests.delivery_builders import a_routed_notification, partnership_file
from tests.integration.delivery_support import Receiver, a_secret, close_within, publish_routed
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SHORT_RETRIES: dict[str, Any] = {
    "delivery_connect_timeout_seconds": 0.5,
    "delivery_read_timeout_seconds": 0.5,
    "delivery_first_retry_seconds": 0.2,
    "delivery_longest_retry_seconds": 1.0,
    "delivery_poll_interval_seconds": 0.1,
}
FEED_AGENCY = "ev-school-hilltop"
# Ids of this module's own: no other test's deliveries are pending for them.
LEAVING, MOVING, ARRIVING, DYING = (
    "reload-leaving",
    "reload-moving",
    "reload-arriving",
    "reload-dying",
)


async def answer(path: str, attempt: int, webhook_id: str) -> int:
    """The first receiver: the leaving and the dying destinations are down, the rest take all."""
    return 503 if path in (LEAVING, DYING) else 204


def hook(name: str, on: Receiver, secret_env: str = "RELOAD_KEY") -> dict[str, str]:  # noqa: S107
    return {"id": name, "kind": "webhook", "url": on.url(name), "secret_env": secret_env}


async def read_feed(bootstrap: str, topic: str, wanted: set[str]) -> set[str]:
    """The wanted webhook-ids found on a feed within 30 s."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: set[str] = set()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not wanted <= found and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found |= {dict(r.headers).get("webhook-id", b"").decode() for r in records}
    finally:
        await consumer.stop()
    return found & wanted


def ids(events: list[NotificationRouted]) -> set[str]:
    return {str(event.event_id) for event in events}


def put_in_place(version: Path, served: Path) -> None:
    """Replace the served file whole, as `safeguard policy apply` does."""
    os.replace(version, served)


async def test_a_new_version_adds_moves_and_removes_destinations_without_a_restart(
    service_environment: dict[str, str], tmp_path: Path, token: Callable[..., str]
) -> None:
    first, second = a_secret(), a_secret()
    receiver, other = Receiver(first, answer), Receiver(second)
    served = tmp_path / "partnership.yaml"
    put_in_place(
        partnership_file(
            tmp_path,
            {"nm-csc": [hook(LEAVING, receiver)], "nm-school-riverside": [hook(MOVING, receiver)]},
        ),
        served,
    )
    settings = DeliverySettings(**service_environment, partnership_path=served, **SHORT_RETRIES)
    app = build_app(settings, environ={"RELOAD_KEY": first, "SECOND_KEY": second})
    holder: PartnershipHolder = app.state.partnership_holder
    kafka = service_environment["kafka_bootstrap_servers"]

    async def publish(agency: str, count: int) -> list[NotificationRouted]:
        events = [a_routed_notification(agency) for _ in range(count)]
        await publish_routed(kafka, events)
        return events

    async def deliveries(agency: str, events: list[NotificationRouted]) -> list[dict[str, Any]]:
        bearer = {"authorization": f"Bearer {token(agency, 'delivery_admin', 'it-lead')}"}
        found = await http.get("/v1/deliveries", params={"agency": agency, "limit": "500"},
                               headers=bearer)  # fmt: skip
        assert found.status_code == 200, found.text
        return [d for d in found.json()["items"] if d["webhook_id"] in ids(events)]

    await receiver.start()
    await other.start()
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://delivery")
        )
        # Version A: the leaving destination is retried, the moving one lands at the first.
        stuck = await publish("nm-csc", 2)
        before = await publish("nm-school-riverside", 2)
        await eventually(
            lambda: asyncio.sleep(0, all(receiver.requests[(LEAVING, i)] >= 2 for i in ids(stuck))),
            within=30, what="the leaving destination retried",
        )  # fmt: skip
        await eventually(lambda: asyncio.sleep(0, ids(before) <= receiver.ids_at(MOVING)),
                         within=30, what="delivered under version A")  # fmt: skip

        # Version B, put in place and announced with SIGHUP (else found by polling the file).
        version = f"2026.12.{uuid4().hex[:8]}"
        put_in_place(
            partnership_file(
                tmp_path,
                {
                    "nm-school-oakfield": [hook(ARRIVING, receiver)],
                    "nm-school-riverside": [hook(MOVING, other, secret_env="SECOND_KEY")],
                    "nm-yjs": [hook(DYING, receiver)],
                    FEED_AGENCY: [{"id": "reload-feed", "kind": "kafka"}],
                },
                policy_version=version,
                delivery={"retry_window": "PT2S"},
            ),
            served,
        )
        if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            os.kill(os.getpid(), signal.SIGHUP)
        await eventually(lambda: asyncio.sleep(0, holder.current.policy_version == version),
                         within=15, what="version B in force")  # fmt: skip

        # An agency that had no webhook gets one: delivered, signed, without a restart.
        arriving = await publish("nm-school-oakfield", 3)
        await eventually(lambda: asyncio.sleep(0, ids(arriving) <= receiver.ids_at(ARRIVING)),
                         within=30, what="the new destination served")  # fmt: skip
        assert receiver.forged == 0
        for event in arriving:
            expected = event.payload.model_dump(mode="json", exclude={"child_id"})
            assert receiver.accepted[str(event.event_id)]["notification"] == expected

        # A moved destination goes to its new URL, signed with its new secret.
        after = await publish("nm-school-riverside", 2)
        await eventually(lambda: asyncio.sleep(0, ids(after) <= other.ids_at(MOVING)),
                         within=30, what="the moved destination served at its new URL")  # fmt: skip
        assert other.forged == 0
        assert not ids(after) & receiver.ids_at(MOVING)

        # A new feed is made (the broker makes no topic by itself) and served.
        fed = await publish(FEED_AGENCY, 2)
        assert ids(fed) <= await read_feed(kafka, feed_topic(FEED_AGENCY), ids(fed))

        # The new retry window: a destination that stays down is dead-lettered within seconds.
        dying = await publish("nm-yjs", 2)

        async def dead_lettered() -> bool:
            found = await deliveries("nm-yjs", dying)
            return len(found) == 2 and {d["status"] for d in found} == {"dead_lettered"}

        await eventually(dead_lettered, within=30, what="dead-lettered under the new window")

        # The removed destination is attempted no more; what it had pending stays pending.
        attempts = {i: receiver.requests[(LEAVING, i)] for i in ids(stuck)}
        unserved = await publish("nm-csc", 2)
        await asyncio.sleep(3)  # had its loop gone on, several retries would have come by now
        assert {i: receiver.requests[(LEAVING, i)] for i in ids(stuck)} == attempts
        left = await deliveries("nm-csc", stuck)
        assert len(left) == 2
        assert {d["destination"] for d in left} == {LEAVING}
        # Pending, unless its attempt was in flight at the switch: that one settled, under the
        # new (shorter) window.
        assert {d["status"] for d in left} <= {"pending", "dead_lettered"}
        assert await deliveries("nm-csc", unserved) == []
    finally:
        await close_within(stack, 60)
        await receiver.stop()
        await other.stop()
