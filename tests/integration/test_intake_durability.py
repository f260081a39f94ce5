"""kill -9 of intake mid-stream: every concern that got 202 is published, and only once.

Intake runs here as a real process (`python -m deploy.cli run intake`). A relay killed between
publishing a batch and marking it sent publishes that batch again after restart; the copies
carry the same event id, which every consumer deduplicates on (processed_events). So the
check is: each 202'd concern is on concerns.received, and always under one event id.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.builders import a_concern_body
from tests.infrastructure import Infrastructure, free_port
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
POSTERS = 4
BEFORE_KILL = 40
IN_TOTAL = 100


class IntakeProcess:
    """One intake service process, started and stopped (or killed) by the test."""

    def __init__(self, environment: dict[str, str], port: int, log: Path) -> None:
        self.environment = os.environ | {k.upper(): v for k, v in environment.items()}
        self.environment["INTAKE_PORT"] = str(port)
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", "run", "intake"],
                cwd=ROOT,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def assert_alive(self) -> None:
        assert self.process is not None
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        async def ready() -> bool:
            self.assert_alive()
            try:
                return (await client.get(f"{self.url}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, within=90, what="intake answering /readyz")


@pytest.fixture
def intake_process(service_environment: dict[str, str], tmp_path: Path) -> Iterator[IntakeProcess]:
    """An intake process on a free port (not yet started), stopped after the test."""
    process = IntakeProcess(service_environment, free_port(), tmp_path / "intake.log")
    yield process
    process.stop()


async def received_events(infrastructure: Infrastructure, wanted: set[str]) -> dict[str, set[str]]:
    """concern_id -> the event ids it was published under, for the wanted concerns."""
    consumer = AIOKafkaConsumer(
        "concerns.received",
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    events: dict[str, set[str]] = defaultdict(set)
    await consumer.start()
    try:

        async def all_seen() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    concern_id = event["payload"]["concern_id"]
                    if concern_id in wanted:
                        events[concern_id].add(event["event_id"])
            return wanted <= set(events)

        await eventually(all_seen, within=60, what="every accepted concern on concerns.received")
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def at_end() -> bool:
            await all_seen()
            positions = {tp: await consumer.position(tp) for tp in ends}
            return all(positions[tp] >= end for tp, end in ends.items())

        await eventually(at_end, what="reading concerns.received to its end")
    finally:
        await consumer.stop()
    return dict(events)


async def test_every_accepted_concern_is_published_once_across_a_kill_9(
    intake_process: IntakeProcess, infrastructure: Infrastructure, token: Any
) -> None:
    headers = {"Authorization": f"Bearer {token('nm-hospital-ed')}"}
    accepted: set[str] = set()
    killed = asyncio.Event()

    async def post_until_done(client: httpx.AsyncClient) -> None:
        while len(accepted) < IN_TOTAL:
            try:
                response = await client.post(
                    f"{intake_process.url}/v1/concerns", json=a_concern_body(), headers=headers
                )
            except httpx.TransportError:
                # Intake is down: back off a moment, then go on (with a fresh concern).
                intake_process.assert_alive()
                await asyncio.sleep(0.05)
                continue
            assert response.status_code == 202, response.text
            accepted.add(response.json()["concern_id"])
            if len(accepted) >= BEFORE_KILL and not killed.is_set():
                killed.set()
                intake_process.kill()
                intake_process.start()

    intake_process.start()
    async with httpx.AsyncClient(timeout=30) as client:
        await intake_process.wait_ready(client)
        await asyncio.gather(*(post_until_done(client) for _ in range(POSTERS)))
        assert killed.is_set()

    events = await received_events(infrastructure, accepted)

    assert set(events) == accepted
    assert {concern_id for concern_id, ids in events.items() if len(ids) != 1} == set()
