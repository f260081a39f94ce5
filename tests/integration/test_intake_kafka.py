"""Concerns put straight onto Kafka: accepted with a valid token, else dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from schemas.v1 import ConcernSubmission, ConcernSubmitted
from tests.builders import a_concern_body
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def submitted(body: dict[str, Any]) -> bytes:
    """A ConcernSubmitted event around a concern body, as an agency system would send it."""
    event = ConcernSubmitted(
        producer="agency-system",
        correlation_id=f"test-{uuid4()}",
        payload=ConcernSubmission.model_validate(body),
    )
    return event.model_dump_json().encode()


async def publish(
    infrastructure: Infrastructure, value: bytes, *, key: bytes, token: str | None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        headers = [("content-type", b"application/json")]
        if token is not None:
            headers.append(("authorization", f"Bearer {token}".encode()))
        await producer.send_and_wait("concerns.submitted", value, key=key, headers=headers)
    finally:
        await producer.stop()


async def first_record(
    infrastructure: Infrastructure,
    topic: str,
    wanted: Callable[[ConsumerRecord[bytes, bytes]], bool],
    *,
    within: float = 30.0,
) -> ConsumerRecord[bytes, bytes]:
    """The first record on topic (read from the beginning) that is wanted."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def probe() -> ConsumerRecord[bytes, bytes] | None:
            batch = await consumer.getmany(timeout_ms=200)
            return next((r for rs in batch.values() for r in rs if wanted(r)), None)

        return await eventually(probe, within=within, what=f"a matching record on {topic}")
    finally:
        await consumer.stop()


def dlq_reason(record: ConsumerRecord[bytes, bytes]) -> str:
    return dict(record.headers).get("dlq-reason", b"").decode()


async def dead_lettered(infrastructure: Infrastructure, key: bytes) -> ConsumerRecord[bytes, bytes]:
    return await first_record(infrastructure, "concerns.submitted.dlq", lambda r: r.key == key)


async def test_a_concern_with_a_valid_token_is_accepted(
    services: Services, token: Any, infrastructure: Infrastructure
) -> None:
    body = a_concern_body()
    reference = body["source_reference"]
    await publish(
        infrastructure, submitted(body), key=reference.encode(), token=token("nm-hospital-ed")
    )

    def mine(record: ConsumerRecord[bytes, bytes]) -> bool:
        payload = json.loads(record.value)["payload"]
        return bool(
            payload["source_agency"] == "nm-hospital-ed"
            and payload["concern"]["source_reference"] == reference
        )

    received = await first_record(infrastructure, "concerns.received", mine)
    concern_id = json.loads(received.value)["payload"]["concern_id"]
    answer = await services.intake.get(
        f"/v1/concerns/{concern_id}",
        headers={"Authorization": f"Bearer {token('nm-hospital-ed')}"},
    )
    assert answer.status_code == 200
    assert answer.json()["source_reference"] == reference


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [
        ("forged token", "authorization: missing, expired or forged token"),
        ("no token", "authorization: missing, expired or forged token"),
        ("unknown agency", "authorization: unknown agency atlantis-police"),
        ("auditor role", "authorization: role auditor may not submit"),
        ("invalid body", "invalid: "),
        ("not json", "invalid: "),
        ("future dates", "invalid: subject.date_of_birth"),
    ],
)
async def test_a_refused_submission_is_dead_lettered_with_its_reason(
    services: Services,
    token: Any,
    infrastructure: Infrastructure,
    case: str,
    expected_reason: str,
) -> None:
    key = f"dlq-{uuid4()}".encode()
    value = submitted(a_concern_body())
    bearer: str | None = token("nm-csc")
    if case == "forged token":
        bearer = token("nm-csc") + "x"
    elif case == "no token":
        bearer = None
    elif case == "unknown agency":
        bearer = token("atlantis-police")
    elif case == "auditor role":
        bearer = token("nm-csc", "auditor")
    elif case == "invalid body":
        event = json.loads(value)
        del event["payload"]["category"]
        event["payload"]["subject"]["nhs_number"] = "123"
        value = json.dumps(event).encode()
    elif case == "not json":
        value = b"\xff{not json"
    elif case == "future dates":
        event = json.loads(value)
        event["payload"]["subject"]["date_of_birth"] = "2099-01-01"
        value = json.dumps(event).encode()

    await publish(infrastructure, value, key=key, token=bearer)

    record = await dead_lettered(infrastructure, key)
    assert record.value == value
    assert dlq_reason(record).startswith(expected_reason)
    if case == "invalid body":
        assert "payload.category" in dlq_reason(record)
        assert "payload.subject.nhs_number" in dlq_reason(record)


async def test_a_reference_reused_for_another_concern_is_dead_lettered(
    services: Services, token: Any, infrastructure: Infrastructure
) -> None:
    body = a_concern_body()
    first = await services.intake.post(
        "/v1/concerns", json=body, headers={"Authorization": f"Bearer {token('nm-csc')}"}
    )
    assert first.status_code == 202
    key = f"conflict-{uuid4()}".encode()
    await publish(
        infrastructure, submitted(body | {"summary": "Another"}), key=key, token=token("nm-csc")
    )
    record = await dead_lettered(infrastructure, key)
    assert (
        dlq_reason(record) == f"conflict: reference used for concern {first.json()['concern_id']}"
    )


async def test_the_same_submission_twice_is_accepted_once(
    services: Services, token: Any, infrastructure: Infrastructure
) -> None:
    body = a_concern_body()
    reference = body["source_reference"]
    value = submitted(body)
    for _ in range(2):
        await publish(infrastructure, value, key=reference.encode(), token=token("nme-police"))
    marker = f"after-{uuid4()}"
    await publish(
        infrastructure,
        submitted(a_concern_body(source_reference=marker)),
        key=reference.encode(),
        token=token("nme-police"),
    )
    # Intake takes one key's records in order, and the relay publishes outbox rows in order:
    # once the marker is out, and the topic read to its end, a duplicate would have shown.
    consumer = AIOKafkaConsumer(
        "concerns.received",
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    references: list[str] = []

    async def read() -> None:
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            references.extend(
                json.loads(r.value)["payload"]["concern"]["source_reference"] for r in records
            )

    try:

        async def marker_seen() -> bool:
            await read()
            return marker in references

        await eventually(marker_seen, what="the marker concern on concerns.received")
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def at_end() -> bool:
            await read()
            positions = {tp: await consumer.position(tp) for tp in ends}
            return all(positions[tp] >= end for tp, end in ends.items())

        await eventually(at_end, what="reading concerns.received to its end")
    finally:
        await consumer.stop()
    assert references.count(reference) == 1
