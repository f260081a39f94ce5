"""The delivery process killed -9 in the middle of a retry: started again, it resends with the
same webhook-id and loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services.common.keys import public_key_path
from tests.delivery_builders import a_routed_notification, partnership_file
from tests.infrastructure import Infrastructure, free_port
from tests.integration.delivery_support import Receiver, a_secret, publish_routed
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
ROOT = Path(__file__).resolve().parents[2]


class Crash:
    """The receiver's part: refuse each first attempt, hold each retry until the kill."""

    def __init__(self) -> None:
        self.killed = asyncio.Event()

    async def __call__(self, path: str, attempt: int, webhook_id: str) -> int:
        if self.killed.is_set():
            return 204
        if attempt == 1:
            return 500
        await self.killed.wait()
        return 503  # to a connection whose other end is dead: never accepted


def start_delivery(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`safeguard run delivery`, as `safeguard up` starts it."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "run", "delivery"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def ready(port: int, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the delivery process exited"
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_killed_mid_retry_it_resends_with_the_same_webhook_id_and_loses_nothing(
    infrastructure: Infrastructure, signing_key_path: Path, tmp_path: Path
) -> None:
    secret, crash = a_secret(), Crash()
    receiver = Receiver(secret, crash)
    hook = {"id": "crash", "kind": "webhook", "url": receiver.url("crash"),
            "secret_env": "CRASH_RECEIVER_KEY"}  # fmt: skip
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": infrastructure.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "JWT_PUBLIC_KEY_PATH": str(public_key_path(signing_key_path)),
        "SAFEGUARD_PARTNERSHIP": str(partnership_file(tmp_path, {"nm-csc": [hook]})),
        "DELIVERY_PORT": str(port),
        "CRASH_RECEIVER_KEY": secret,
        "DELIVERY_CONNECT_TIMEOUT_SECONDS": "1",
        "DELIVERY_READ_TIMEOUT_SECONDS": "1",
        "DELIVERY_FIRST_RETRY_SECONDS": "0.2",
        "DELIVERY_LONGEST_RETRY_SECONDS": "1",
        "DELIVERY_POLL_INTERVAL_SECONDS": "0.1",
    }
    log = tmp_path / "delivery.log"
    await receiver.start()
    process = start_delivery(env, log)
    try:
        await eventually(lambda: ready(port, process), within=60, what="delivery ready")
        events = [a_routed_notification("nm-csc") for _ in range(10)]
        await publish_routed(infrastructure.kafka_bootstrap_servers, events)
        expected = {str(event.event_id) for event in events}

        # This test's own only: the shared topic may hold other tests' notifications for nm-csc,
        # and a retry of one of theirs held by the receiver proves nothing here.
        def held_now() -> set[str]:
            return {i for (path, i), n in receiver.requests.items() if n >= 2 and i in expected}

        async def retries_in_flight() -> bool:
            first_tried = {i for (path, i), n in receiver.requests.items() if path == "crash"}
            return expected <= first_tried and bool(held_now())

        await eventually(retries_in_flight, within=30, what="retries held by the receiver")
        held = held_now()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        crash.killed.set()

        process = start_delivery(env, log)

        async def all_accepted() -> bool:
            return expected <= receiver.ids_at("crash")

        await eventually(all_accepted, within=60, what="every notification delivered")
        assert receiver.forged == 0
        for event in events:
            body = receiver.accepted[str(event.event_id)]
            assert body["notification"]["notification_id"] == str(event.payload.notification_id)
        # What was in flight when the process died came again, under the same webhook-id.
        assert held
        for webhook_id in held:
            assert receiver.requests[("crash", webhook_id)] >= 3
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await receiver.stop()
