"""A partnership file changed under a stream of concerns (real Kafka and PostgreSQL).

Every concern is routed exactly once and under exactly one policy version, the versions switch
once, an invalid file and a changed file under the same version are refused (in this run, or
under a version routing put in force in an earlier one: then it does not even start), and audit
holds each version's text for GET /v1/audit/policies/{version}.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy import select

from schemas.v1 import ConcernSubmission
from services.common.db import make_engine
from services.partnership import default_partnership_path
from services.partnership.holder import PartnershipHolder, read_version
from services.partnership.loader import PartnershipError
from services.routing import store
from services.routing.app import build_app
from services.routing.policy import decide_recipients
from services.routing.policy_record import record_policy_applied
from services.routing.settings import RoutingSettings
from services.routing.store_policies import policy_versions
from services.routing.unit_of_work import routing_unit_of_work
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.conftest import Services
from tests.integration.test_pipeline import bearer
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REFERENCE = default_partnership_path().read_text(encoding="utf-8")
OLD_VERSION = 'policy_version: "2026.11.1"'
CONCERNS = 40
CHANGE_AFTER = 12


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def changed(version: str) -> str:
    """The reference file under a new version, the police told of every medium concern."""
    text = REFERENCE.replace(OLD_VERSION, f'policy_version: "{version}"')
    text = text.replace("when: {severity_at_least: high}", "when: {severity_at_least: medium}")
    assert text.count(version) == 1
    assert "severity_at_least: medium" in text
    return text


@pytest_asyncio.fixture(loop_scope="session")
async def policy_file(services: Services, tmp_path: Path) -> AsyncIterator[Path]:
    """The session's routing reads a file of this test's for the test, then the shipped one."""
    holder: PartnershipHolder = services.apps["routing"].state.partnership_holder
    shipped = holder.path
    path = tmp_path / "partnership.yaml"
    path.write_text(REFERENCE, encoding="utf-8")
    holder.path = path
    try:
        yield path
    finally:
        path.write_text(REFERENCE, encoding="utf-8")
        await eventually(
            lambda: asyncio.sleep(0, holder.in_force.sha256 == sha256(REFERENCE)),
            what="routing back on the shipped policy",
        )
        holder.path = shipped


async def post_concerns(
    services: Services, token: Any, posted: list[tuple[UUID, dict[str, Any]]]
) -> None:
    """Post CONCERNS medium concerns about different children, a few a second."""
    for _ in range(CONCERNS):
        body = a_concern_body(category="other", severity="medium")
        body["subject"] |= {"nhs_number": an_nhs_number(), "family_name": a_family_name()}
        response = await services.intake.post(
            "/v1/concerns", json=body, headers=bearer(token("nm-hospital-ed"))
        )
        assert response.status_code == 202, response.text
        posted.append((UUID(response.json()["concern_id"]), body))
        await asyncio.sleep(0.15)


async def stored_notifications(
    service_environment: dict[str, str], concern_ids: list[UUID]
) -> list[Any] | None:
    """Every concern notification of these concerns in insertion order, once all are routed."""
    engine = make_engine(RoutingSettings(**service_environment))
    n = store.notifications.c
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(n.seq, n.concern_id, n.recipient_agency, n.payload)
                    .where(n.concern_id.in_(concern_ids), n.kind == "concern")
                    .order_by(n.seq)
                )
            ).all()
    finally:
        await engine.dispose()
    return rows if {row.concern_id for row in rows} == set(concern_ids) else None


async def test_a_changed_file_comes_into_force_mid_stream_each_concern_under_one_version(
    services: Services, token: Any, service_environment: dict[str, str], policy_file: Path
) -> None:
    holder: PartnershipHolder = services.apps["routing"].state.partnership_holder
    old = holder.current
    version = f"2026.12.{uuid4().hex[:8]}"
    new_text = changed(version)
    posted: list[tuple[UUID, dict[str, Any]]] = []
    stream = asyncio.create_task(post_concerns(services, token, posted))
    await eventually(lambda: asyncio.sleep(0, len(posted) >= CHANGE_AFTER), what="first concerns")
    await asyncio.to_thread(policy_file.write_text, new_text, "utf-8")
    await stream
    new = holder.current
    assert new.policy_version == version

    rows = await eventually(
        lambda: stored_notifications(service_environment, [c for c, _ in posted]),
        within=90,
        what=f"routing of all {CONCERNS} concerns",
    )
    assert max(Counter((r.concern_id, r.recipient_agency) for r in rows).values()) == 1
    versions_of: dict[UUID, set[str]] = {}
    for row in rows:
        versions_of.setdefault(row.concern_id, set()).add(row.payload["policy_version"])
    assert all(len(v) == 1 for v in versions_of.values())
    # In the order routing stored them, the versions switch once: old, then new.
    in_order = [row.payload["policy_version"] for row in rows]
    switches = sum(1 for a, b in itertools.pairwise(in_order) if a != b)
    assert (in_order[0], in_order[-1], switches) == (old.policy_version, version, 1)
    policies = {old.policy_version: old, version: new}
    for concern_id, body in posted:
        (used,) = versions_of[concern_id]
        received_at = datetime.fromisoformat(
            next(r.payload["received_at"] for r in rows if r.concern_id == concern_id)
        )
        decision = decide_recipients(
            ConcernSubmission.model_validate(body),
            source_agency="nm-hospital-ed",
            received_at=received_at,
            partnership=policies[used],
        )
        routed = {r.recipient_agency for r in rows if r.concern_id == concern_id}
        assert routed == set(decision.agencies), concern_id
    assert {"nm-csc", "nme-police"} <= {r.recipient_agency for r in rows}

    auditor = bearer(token("nm-csc", "partnership_auditor", "ig-lead"))

    async def on_record() -> dict[str, Any] | None:
        response = await services.audit.get(f"/v1/audit/policies/{version}", headers=auditor)
        return response.json() if response.status_code == 200 else None

    record = await eventually(on_record, what="the new version's text in audit")
    assert (record["version"], record["sha256"], record["content"]) == (
        version,
        sha256(new_text),
        new_text,
    )
    entries = await services.audit.get(
        "/v1/audit/events", params={"action": "policy.applied"}, headers=auditor
    )
    applied = [
        e["entry"] for e in entries.json()["items"]
        if e["entry"]["details"].get("policy_version") == version
    ]  # fmt: skip
    assert len(applied) == 1
    assert applied[0]["details"]["sha256"] == sha256(new_text)
    assert "content" not in applied[0]["details"]
    assert applied[0]["actor"]["role"] == "operator"


async def test_an_invalid_file_and_changed_rules_under_the_same_version_are_refused(
    services: Services, policy_file: Path
) -> None:
    holder: PartnershipHolder = services.apps["routing"].state.partnership_holder
    version = f"2026.12.{uuid4().hex[:8]}"
    await asyncio.to_thread(policy_file.write_text, changed(version), "utf-8")
    await eventually(
        lambda: asyncio.sleep(0, holder.current.policy_version == version), what="the new version"
    )
    in_force = holder.in_force
    for refused in (
        changed(version) + "\nunknown_key: 1\n",
        changed(version).replace("min_concerns: 3", "min_concerns: 4"),
    ):
        await asyncio.to_thread(policy_file.write_text, refused, "utf-8")
        # Longer than the watcher's poll: it has looked at the file and kept what is in force.
        await asyncio.sleep(4)
        assert holder.in_force is in_force


async def test_a_version_not_on_record_is_404_and_only_auditors_read_policies(
    services: Services, token: Any
) -> None:
    auditor = bearer(token("nm-csc", "auditor", "nm-ig"))
    missing = await services.audit.get("/v1/audit/policies/no-such-version", headers=auditor)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    caseworker = bearer(token("nm-csc", "caseworker", "sw-1"))
    refused = await services.audit.get("/v1/audit/policies/2026.11.1", headers=caseworker)
    assert refused.status_code == 403

    async def shipped() -> dict[str, Any] | None:
        response = await services.audit.get("/v1/audit/policies/2026.11.1", headers=auditor)
        return response.json() if response.status_code == 200 else None

    record = await eventually(shipped, what="the shipped version on record")
    assert record["sha256"] == sha256(REFERENCE)
    assert record["content"] == REFERENCE


async def sha256_on_record(service_environment: dict[str, str], version: str) -> str | None:
    """The SHA-256 routing.policy_versions holds under this name."""
    engine = make_engine(RoutingSettings(**service_environment))
    v = policy_versions.c
    try:
        async with engine.connect() as connection:
            found: str | None = await connection.scalar(
                select(v.sha256).where(v.policy_version == version)
            )
            return found
    finally:
        await engine.dispose()


def logged_events(output: str) -> list[dict[str, Any]]:
    """The JSON log lines in captured output, as dicts."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


async def test_routing_does_not_start_on_a_file_changed_under_a_version_of_an_earlier_run(
    services: Services,
    service_environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    version = f"2026.12.{uuid4().hex[:8]}"
    path = tmp_path / "partnership.yaml"
    path.write_text(changed(version), encoding="utf-8")
    earlier = build_app(
        RoutingSettings(**service_environment, partnership_path=path, instance_id="routing-earlier")
    )
    async with earlier.router.lifespan_context(earlier):
        await eventually(
            lambda: sha256_on_record(service_environment, version), what="the version on record"
        )
    assert await sha256_on_record(service_environment, version) == sha256(changed(version))

    path.write_text(changed(version).replace("min_concerns: 3", "min_concerns: 4"), "utf-8")
    again = build_app(
        RoutingSettings(**service_environment, partnership_path=path, instance_id="routing-again")
    )
    capsys.readouterr()
    with pytest.raises(PartnershipError) as refused:
        async with again.router.lifespan_context(again):
            pytest.fail("routing started on a changed file under a version on record")
    logged = logged_events(capsys.readouterr().out)
    message = str(refused.value)
    assert version in message
    assert "the file changed but its policy_version did not; give the change a new one" in message
    # Refused before anything was consumed: its broker never started.
    assert not again.state.runtime.broker.running
    (event,) = [e for e in logged if e["event"] == "partnership.refused"]
    assert (event["policy_version"], event["places"]) == (version, ["policy_version"])
    assert set(event) <= {"event", "policy_version", "sha256", "places", "reason", "level",
                          "logger", "timestamp", "service"}  # fmt: skip
    assert await sha256_on_record(service_environment, version) == sha256(changed(version))


async def test_a_reload_to_a_changed_file_under_a_version_of_an_earlier_run_is_refused(
    services: Services, service_environment: dict[str, str], policy_file: Path, tmp_path: Path
) -> None:
    routing = services.apps["routing"]
    holder: PartnershipHolder = routing.state.partnership_holder
    in_force = holder.in_force
    # An earlier run put `version` in force; this process has never seen it.
    version = f"2026.12.{uuid4().hex[:8]}"
    earlier = tmp_path / "earlier.yaml"
    earlier.write_text(changed(version), encoding="utf-8")
    await record_policy_applied(
        routing_unit_of_work(routing.state.runtime),
        read_version(earlier),
        operator="ig-lead",
        at=datetime.now(UTC),
    )
    reused = changed(version).replace("min_concerns: 3", "min_concerns: 4")
    await asyncio.to_thread(policy_file.write_text, reused, "utf-8")
    # Longer than the watcher's poll: it has looked at the file and kept what is in force.
    await asyncio.sleep(4)
    assert holder.in_force is in_force
    assert await sha256_on_record(service_environment, version) == sha256(changed(version))
    # The text on record under that name is admitted.
    await asyncio.to_thread(policy_file.write_text, changed(version), "utf-8")
    await eventually(
        lambda: asyncio.sleep(0, holder.current.policy_version == version), what="the version"
    )
