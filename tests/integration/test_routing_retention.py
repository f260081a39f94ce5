"""Retention on real Kafka and PostgreSQL, with a short clock: personal content goes, audited.

The routing job runs on the in-process routing service's own runtime with a partnership file
that keeps personal content for seconds; the audit service records what it did.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schemas.v1 import InclusionProof
from services.audit.proofs import check_inclusion
from services.common.db import async_url
from services.common.keys import load_signing_key
from services.partnership import Partnership, default_partnership_path, load_partnership
from services.partnership.holder import PartnershipHolder
from services.routing.retention_job import apply_retention, retention_job
from tests.builders import a_concern_body
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
KEPT_SECONDS = 3
REMOVED = {"narrative", "household", "reporter"}
NARRATIVE = "Retention test: a full account that must not outlive its period."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def short_retention(tmp_path: Path) -> Partnership:
    """The reference partnership, its file keeping personal content for three seconds."""
    path = tmp_path / "partnership.yaml"
    path.write_text(
        default_partnership_path().read_text()
        + f"\nretention:\n  personal_content: PT{KEPT_SECONDS}S\n"
    )
    return load_partnership(path)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(infrastructure: Infrastructure) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        async_url(infrastructure.database_url), connect_args={"ssl": False}
    )
    yield engine
    await engine.dispose()


async def post_concern(services: Services, token: Callable[..., str]) -> str:
    body = a_concern_body(category="physical_abuse", severity="high", narrative=NARRATIVE)
    response = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-hospital-ed"))
    )
    assert response.status_code == 202, response.text
    concern_id: str = response.json()["concern_id"]
    return concern_id


async def opened(
    services: Services, token: Callable[..., str], agency: str, concern_id: str
) -> list[dict[str, Any]]:
    worker = bearer(token(agency, "caseworker", f"worker-{agency}"))
    listed = await services.routing.get(
        "/v1/notifications", params={"concern_id": concern_id}, headers=worker
    )
    assert listed.status_code == 200, listed.text
    found = []
    for item in listed.json()["items"]:
        one = await services.routing.get(
            f"/v1/notifications/{item['notification_id']}", headers=worker
        )
        assert one.status_code == 200, one.text
        found.append(one.json())
    return found


CONCERN_ROW = text(
    "SELECT payload, content_removed_at FROM routing.concerns WHERE concern_id = :id"
)
NOTIFICATION_ROWS = text(
    "SELECT notification_id, kind, status, acknowledge_by, decide_by, decision, payload, "
    "content_removed_at FROM routing.notifications WHERE concern_id = :id ORDER BY seq"
)


async def stored(engine: AsyncEngine, concern_id: str) -> dict[str, Any]:
    """Routing's rows of a concern: its own and its notifications', as the tables hold them."""
    async with engine.connect() as connection:
        concern = (await connection.execute(CONCERN_ROW, {"id": concern_id})).one()
        notifications = (await connection.execute(NOTIFICATION_ROWS, {"id": concern_id})).all()
    return {"concern": concern, "notifications": notifications}


async def trail(services: Services, auditor: dict[str, str], concern_id: str) -> list[Any]:
    response = await services.audit.get(f"/v1/audit/concerns/{concern_id}/trail", headers=auditor)
    assert response.status_code == 200, response.text
    return [{**item["entry"], "seq": item["seq"]} for item in response.json()["items"]]


async def test_past_retention_the_content_is_removed_audited_and_the_log_still_verifies(
    services: Services,
    token: Callable[..., str],
    engine: AsyncEngine,
    short_retention: Partnership,
    audit_key_path: Path,
) -> None:
    auditor = bearer(token("nm-csc", "partnership_auditor", "ig-partnership"))
    concern_id = await post_concern(services, token)
    csc = await eventually(
        lambda: opened(services, token, "nm-csc", concern_id), what="the concern routed"
    )
    assert csc[0]["concern"]["narrative"] == NARRATIVE
    assert csc[0]["content_removed_at"] is None
    submitted = await eventually(
        lambda: _entry(services, auditor, concern_id, "concern.submitted"), what="the audit"
    )
    before = await stored(engine, concern_id)

    runtime = services.apps["routing"].state.runtime
    job = asyncio.create_task(
        retention_job(runtime, PartnershipHolder.of(short_retention), interval=0.2)()
    )
    try:

        async def removed() -> Any:
            rows = await stored(engine, concern_id)
            return rows if rows["concern"].content_removed_at is not None else None

        after = await eventually(removed, within=KEPT_SECONDS + 30, what="the content removed")
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)

    # Gone from routing's tables: the concern and every notification's disclosed copy.
    assert not REMOVED & set(after["concern"].payload)
    assert after["concern"].payload["summary"] == before["concern"].payload["summary"]
    assert after["concern"].payload["subject"] == before["concern"].payload["subject"]
    assert len(after["notifications"]) == len(before["notifications"]) >= 3
    for old, new in zip(before["notifications"], after["notifications"], strict=True):
        assert not REMOVED & set(new.payload["concern"])
        assert new.content_removed_at == after["concern"].content_removed_at
        assert new.payload["disclosed_fields"] == old.payload["disclosed_fields"]
        # Nothing else changes: status, deadlines and decisions stay.
        assert (new.kind, new.status, new.acknowledge_by, new.decide_by, new.decision) == (
            old.kind, old.status, old.acknowledge_by, old.decide_by, old.decision
        )  # fmt: skip
    assert NARRATIVE not in json.dumps([dict(r.payload) for r in after["notifications"]])

    # The caseworker is told it was removed, not that it was never shared.
    view = (await opened(services, token, "nm-csc", concern_id))[0]
    assert view["content_removed_at"] is not None
    assert "narrative" in view["disclosed_fields"]
    assert not REMOVED & set(view["concern"])

    # Audited once, with the names of the fields and never their values.
    entry = await eventually(
        lambda: _entry(services, auditor, concern_id, "retention.applied"), what="its audit"
    )
    assert entry["actor"]["subject"] == "routing"
    assert entry["details"]["fields_removed"] == ["household", "narrative", "reporter"]
    assert entry["details"]["policy_version"] == short_retention.policy_version
    assert entry["details"]["retention"] == f"PT{KEPT_SECONDS}S"
    assert entry["details"]["notifications"] == len(after["notifications"])
    assert NARRATIVE not in json.dumps(entry)

    verified = (await services.audit.get("/v1/audit/verify", headers=auditor)).json()
    assert verified["ok"] is True, verified
    public_key: Ed25519PublicKey = load_signing_key(audit_key_path).public_key()

    async def proof() -> InclusionProof | None:
        response = await services.audit.get(
            f"/v1/audit/entries/{submitted['seq']}/proof", headers=auditor
        )
        return InclusionProof.model_validate(response.json()) if response.is_success else None

    earlier = await eventually(proof, what="a proof of the concern's first entry")
    assert check_inclusion(earlier, public_key) is None


async def test_after_removal_a_decision_is_fed_back_cut_from_what_is_left(
    services: Services, token: Callable[..., str], engine: AsyncEngine, short_retention: Partnership
) -> None:
    concern_id = await post_concern(services, token)
    csc = await eventually(
        lambda: opened(services, token, "nm-csc", concern_id), what="the concern routed"
    )
    await asyncio.sleep(KEPT_SECONDS + 0.5)
    runtime = services.apps["routing"].state.runtime
    # Two processes at once: each concern is removed (and audited) by exactly one of them.
    passes = await asyncio.gather(*(
        apply_retention(runtime.unit_of_work(), runtime.outbox, short_retention,
                        now=datetime.now(UTC), limit=1000)
        for _ in range(2)
    ))  # fmt: skip
    removed_ids = [str(r.concern_id) for one in passes for r in one]
    assert removed_ids.count(concern_id) == 1
    assert len(removed_ids) == len(set(removed_ids))
    again = await apply_retention(
        runtime.unit_of_work(), runtime.outbox, short_retention, now=datetime.now(UTC)
    )
    assert concern_id not in {str(r.concern_id) for r in again}

    worker = bearer(token("nm-csc", "caseworker", "sw-retention"))
    decided = await services.routing.post(
        f"/v1/notifications/{csc[0]['notification_id']}/decision",
        json={"decision": "strategy_discussion", "rationale": "Risk of significant harm."},
        headers=worker,
    )
    assert decided.status_code == 200, decided.text

    async def feedback() -> list[dict[str, Any]]:
        found = await opened(services, token, "nm-hospital-ed", concern_id)
        return [n for n in found if n["kind"] == "feedback"]

    fed_back = (await eventually(feedback, what="the feedback"))[0]
    # The hospital's profile allows narrative and household: they are gone, and it says so.
    assert {"narrative", "household"} <= set(fed_back["disclosed_fields"])
    assert not REMOVED & set(fed_back["concern"])
    assert fed_back["concern"]["summary"]
    assert fed_back["content_removed_at"] is not None
    rows = await stored(engine, concern_id)
    assert all(row.content_removed_at is not None for row in rows["notifications"])


async def _entry(
    services: Services, auditor: dict[str, str], concern_id: str, action: str
) -> dict[str, Any] | None:
    entries = [e for e in await trail(services, auditor, concern_id) if e["action"] == action]
    assert len(entries) <= 1, entries
    return entries[0] if entries else None
