"""Auditors' scope on real Kafka and PostgreSQL: an agency's own entries; the partnership's all."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.builders import a_concern_body
from tests.conftest import Services
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def a_routed_concern(services: Services, token: Any) -> tuple[str, str]:
    """A concern nm-hospital-ed raised, its nm-csc notification opened: (concern, notification)."""
    response = await services.intake.post(
        "/v1/concerns",
        json=a_concern_body(category="physical_abuse", severity="high"),
        headers=bearer(token("nm-hospital-ed")),
    )
    assert response.status_code == 202, response.text
    concern_id: str = response.json()["concern_id"]
    worker = bearer(token("nm-csc", "caseworker", f"sw-scope-{uuid.uuid4().hex[:6]}"))

    async def routed() -> list[Any] | None:
        listed = await services.routing.get(
            "/v1/notifications", params={"concern_id": concern_id}, headers=worker
        )
        items: list[Any] = listed.json()["items"]
        return items or None

    [notification] = await eventually(routed, what="routing to nm-csc")
    opened = await services.routing.get(
        f"/v1/notifications/{notification['notification_id']}", headers=worker
    )
    assert opened.status_code == 200
    return concern_id, notification["notification_id"]


async def trail(services: Services, auditor: dict[str, str], concern_id: str) -> list[Any]:
    response = await services.audit.get(f"/v1/audit/concerns/{concern_id}/trail", headers=auditor)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return [{**item["entry"], "seq": item["seq"]} for item in items]


async def test_each_auditor_sees_what_its_agency_may_and_a_refusal_is_audited(
    services: Services, token: Any
) -> None:
    concern_id, notification_id = await a_routed_concern(services, token)
    partnership = bearer(token("nm-csc", "partnership_auditor", "ig-partnership"))

    async def complete() -> list[Any] | None:
        entries = await trail(services, partnership, concern_id)
        actions = {e["action"] for e in entries}
        return entries if {"concern.submitted", "notification.viewed"} <= actions else None

    everything = await eventually(complete, what="the whole trail")
    delivered_to = {
        e["details"]["recipient_agency"]: e["seq"]
        for e in everything
        if e["action"] == "notification.delivered"
    }
    assert {"nm-csc", "nme-police"} <= set(delivered_to)

    source = await trail(services, bearer(token("nm-hospital-ed", "auditor", "ig-ed")), concern_id)
    assert [e["seq"] for e in source] == [e["seq"] for e in everything]

    csc = await trail(services, bearer(token("nm-csc", "auditor", "ig-csc")), concern_id)
    assert "concern.submitted" in {e["action"] for e in csc}
    assert delivered_to["nm-csc"] in {e["seq"] for e in csc}
    assert delivered_to["nme-police"] not in {e["seq"] for e in csc}
    assert all(e["notification_id"] in (None, notification_id) for e in csc)

    outsider_subject = f"ig-ev-{uuid.uuid4().hex[:6]}"
    outsider = bearer(token("ev-csc", "auditor", outsider_subject))
    assert await trail(services, outsider, concern_id) == []
    proof = await services.audit.get(
        f"/v1/audit/entries/{delivered_to['nm-csc']}/proof", headers=outsider
    )
    assert proof.status_code == 404, proof.text
    assert (await services.audit.get("/v1/audit/verify", headers=outsider)).json()["ok"] is True

    async def denials() -> list[Any] | None:
        response = await services.audit.get(
            "/v1/audit/events",
            params={"actor": outsider_subject, "action": "access.denied"},
            headers=partnership,
        )
        items: list[Any] = response.json()["items"]
        return items if len(items) >= 2 else None

    denied = [item["entry"] for item in await eventually(denials, what="the access.denied")]
    by_query = {d["details"]["query"]: d for d in denied}
    assert set(by_query) == {"trail", "inclusion-proof"}
    assert by_query["trail"]["concern_id"] == concern_id
    assert by_query["trail"]["details"]["reason"] == "outside the auditor's agency"
    # The outsider may read its own refusals: they are what its staff did.
    own = await services.audit.get(
        "/v1/audit/events", params={"actor": outsider_subject}, headers=outsider
    )
    assert {item["entry"]["action"] for item in own.json()["items"]} >= {"access.denied"}
