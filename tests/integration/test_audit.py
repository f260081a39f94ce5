"""The audit log on real Kafka and PostgreSQL: once-only appends, refusals, tampering, proofs."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from schemas.v1 import (
    Actor,
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    ConsistencyProof,
    InclusionProof,
    Topic,
    TreeHeadView,
)
from services.audit.db_role import WRITER_ROLE, act_as_writer
from services.audit.proofs import check_consistency, check_inclusion
from services.common.db import async_url
from services.common.keys import load_signing_key
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CHANGES = {
    "UPDATE": "UPDATE audit.{table} SET key_id = key_id",
    "DELETE": "DELETE FROM audit.{table}",
    "TRUNCATE": "TRUNCATE audit.{table}",
}
ENTRY_CHANGES = {
    "UPDATE": "UPDATE audit.entries SET action = action",
    "DELETE": "DELETE FROM audit.entries",
    "TRUNCATE": "TRUNCATE audit.entries",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auditor(token: Callable[..., str]) -> dict[str, str]:
    return bearer(token("nm-csc", "auditor", "auditor-proofs"))


@pytest.fixture(scope="session")
def public_key(audit_key_path: Path) -> Ed25519PublicKey:
    return load_signing_key(audit_key_path).public_key()


@pytest_asyncio.fixture(loop_scope="session")
async def superuser(infrastructure: Infrastructure) -> AsyncIterator[asyncpg.Connection]:
    url = make_url(infrastructure.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        yield connection
    finally:
        await connection.close()


def an_audit_event(subject: str) -> AuditEvent:
    return AuditEvent(
        producer="test",
        correlation_id=f"test-{subject}",
        payload=AuditEventPayload(
            action=AuditAction.ACCESS_DENIED,
            actor=Actor(subject=subject, agency="nm-csc", role="caseworker"),
        ),
    )


async def entries_by(services: Services, auditor: dict[str, str], subject: str) -> list[Any]:
    response = await services.audit.get(
        "/v1/audit/events", params={"actor": subject}, headers=auditor
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def latest_head(services: Services, auditor: dict[str, str]) -> TreeHeadView:
    async def probe() -> TreeHeadView | None:
        response = await services.audit.get("/v1/audit/tree-heads/latest", headers=auditor)
        return TreeHeadView.model_validate(response.json()) if response.is_success else None

    return await eventually(probe, what="a tree head")


async def test_an_event_delivered_twice_is_appended_once(
    services: Services, infrastructure: Infrastructure, auditor: dict[str, str]
) -> None:
    twice, after = an_audit_event(f"dup-{uuid.uuid4()}"), an_audit_event(f"after-{uuid.uuid4()}")
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        # One key keeps the three on one partition, in order: once `after` is in, so is `twice`.
        for event in (twice, twice, after):
            await producer.send_and_wait(
                Topic.AUDIT_EVENTS.value, event.model_dump_json().encode(), key=b"dedupe-test"
            )
    finally:
        await producer.stop()
    await eventually(
        lambda: entries_by(services, auditor, after.payload.actor.subject), what="the later event"
    )
    found = await entries_by(services, auditor, twice.payload.actor.subject)
    assert [item["entry"]["event_id"] for item in found] == [str(twice.event_id)]


@pytest.mark.parametrize("table", ["entries", "tree_heads"])
@pytest.mark.parametrize("change", ["UPDATE", "DELETE", "TRUNCATE"])
async def test_the_trigger_refuses_change_even_to_a_superuser(
    services: Services, superuser: asyncpg.Connection, table: str, change: str
) -> None:
    statement = (ENTRY_CHANGES if table == "entries" else CHANGES)[change].format(table=table)
    transaction = superuser.transaction()
    await transaction.start()
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await superuser.execute(statement)
    finally:
        await transaction.rollback()


@pytest.mark.parametrize("table", ["entries", "tree_heads"])
@pytest.mark.parametrize("change", ["UPDATE", "DELETE", "TRUNCATE"])
async def test_the_writer_role_may_not_change_the_log_even_without_the_trigger(
    services: Services, superuser: asyncpg.Connection, table: str, change: str
) -> None:
    statement = (ENTRY_CHANGES if table == "entries" else CHANGES)[change].format(table=table)
    transaction = superuser.transaction()
    await transaction.start()
    try:
        await superuser.execute(f"ALTER TABLE audit.{table} DISABLE TRIGGER USER")
        await superuser.execute(f"SET LOCAL ROLE {WRITER_ROLE}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await superuser.execute(statement)
    finally:
        await transaction.rollback()  # also re-enables the trigger


async def test_audit_connections_act_as_the_writer_role(
    services: Services, infrastructure: Infrastructure
) -> None:
    engine = create_async_engine(async_url(infrastructure.database_url))
    act_as_writer(engine)
    try:
        async with engine.connect() as connection:
            await connection.rollback()
            assert (await connection.execute(text("SELECT current_user"))).scalar() == WRITER_ROLE
            assert (await connection.execute(text("SELECT count(*) FROM audit.entries"))).scalar()
    finally:
        await engine.dispose()


async def test_an_entry_changed_behind_the_databases_back_is_found_at_its_seq(
    services: Services, superuser: asyncpg.Connection, auditor: dict[str, str]
) -> None:
    head = await latest_head(services, auditor)
    seq = max(1, head.tree_size // 2)
    original = await superuser.fetchval("SELECT content FROM audit.entries WHERE seq = $1", seq)

    async def rewrite(content: bytes) -> None:
        async with superuser.transaction():
            await superuser.execute("ALTER TABLE audit.entries DISABLE TRIGGER USER")
            await superuser.execute(
                "UPDATE audit.entries SET content = $1 WHERE seq = $2", content, seq
            )
            await superuser.execute("ALTER TABLE audit.entries ENABLE TRIGGER USER")

    await rewrite(original.replace(b'"', b" ", 1) if b'"' in original else original + b" ")
    try:
        verdict = (await services.audit.get("/v1/audit/verify", headers=auditor)).json()
    finally:
        await rewrite(original)
    assert verdict["ok"] is False
    assert verdict["first_bad_seq"] == seq
    assert verdict["fault"] == "content_changed"
    restored = (await services.audit.get("/v1/audit/verify", headers=auditor)).json()
    assert restored["ok"] is True, restored
    assert restored["latest_tree_head"]["signature"]


def flipped(value: str, index: int) -> str:
    """The text with one character changed; a hex digit stays a hex digit."""
    c = value[index]
    other = format(int(c, 16) ^ 1, "x") if c in "0123456789abcdef" else chr(ord(c) ^ 1)
    return value[:index] + other + value[index + 1 :]


def flipped_signature(signature: str, index: int) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[index] ^= 1
    return base64.b64encode(bytes(raw)).decode()


async def test_inclusion_proofs_check_offline_and_fail_when_any_byte_changes(
    services: Services, auditor: dict[str, str], public_key: Ed25519PublicKey
) -> None:
    head = await latest_head(services, auditor)
    for seq in sorted({1, head.tree_size}):
        response = await services.audit.get(f"/v1/audit/entries/{seq}/proof", headers=auditor)
        assert response.status_code == 200, response.text
        proof = InclusionProof.model_validate(response.json())
        assert check_inclusion(proof, public_key) is None
        assert proof.tree_head.tree_size >= seq
        changed: list[InclusionProof] = [
            *(proof.model_copy(update={"content": flipped(proof.content, i)})
              for i in range(len(proof.content))),
            *(proof.model_copy(update={"leaf_hash": flipped(proof.leaf_hash, i)})
              for i in range(len(proof.leaf_hash))),
            *(proof.model_copy(update={"audit_path": [
                flipped(h, i) if n == k else h for n, h in enumerate(proof.audit_path)]})
              for k in range(len(proof.audit_path)) for i in range(len(proof.audit_path[k]))),
            *(proof.model_copy(update={"tree_head": proof.tree_head.model_copy(
                update={"root_hash": flipped(proof.tree_head.root_hash, i)})})
              for i in range(64)),
            *(proof.model_copy(update={"tree_head": proof.tree_head.model_copy(
                update={"signature": flipped_signature(proof.tree_head.signature or "", i)})})
              for i in range(64)),
            proof.model_copy(update={"seq": seq + 1, "leaf_index": seq}),
        ]  # fmt: skip
        assert all(check_inclusion(bad, public_key) is not None for bad in changed)


async def test_consistency_proofs_check_offline_and_fail_when_any_byte_changes(
    services: Services, auditor: dict[str, str], public_key: Ed25519PublicKey
) -> None:
    first = await latest_head(services, auditor)

    async def grown() -> TreeHeadView | None:
        head = await latest_head(services, auditor)  # each query is itself audited
        return head if head.tree_size > first.tree_size else None

    second = await eventually(grown, what="a larger tree head")
    response = await services.audit.get(
        "/v1/audit/consistency",
        params={"first": first.tree_size, "second": second.tree_size},
        headers=auditor,
    )
    assert response.status_code == 200, response.text
    proof = ConsistencyProof.model_validate(response.json())
    assert check_consistency(proof, public_key) is None
    changed: list[ConsistencyProof] = [
        *(proof.model_copy(update={"proof": [
            flipped(h, i) if n == k else h for n, h in enumerate(proof.proof)]})
          for k in range(len(proof.proof)) for i in range(len(proof.proof[k]))),
        *(proof.model_copy(update={side: getattr(proof, side).model_copy(
            update={"root_hash": flipped(getattr(proof, side).root_hash, i)})})
          for side in ("first", "second") for i in range(64)),
        *(proof.model_copy(update={side: getattr(proof, side).model_copy(
            update={"signature": flipped_signature(getattr(proof, side).signature, i)})})
          for side in ("first", "second") for i in range(64)),
    ]  # fmt: skip
    assert all(check_consistency(bad, public_key) is not None for bad in changed)


async def test_only_auditors_may_ask_for_tree_heads_and_proofs(
    services: Services, token: Callable[..., str]
) -> None:
    caseworker = bearer(token("nm-csc", "caseworker", "sw-curious"))
    for url in (
        "/v1/audit/tree-heads/latest",
        "/v1/audit/entries/1/proof",
        "/v1/audit/consistency?first=1&second=2",
    ):
        assert (await services.audit.get(url, headers=caseworker)).status_code == 403
