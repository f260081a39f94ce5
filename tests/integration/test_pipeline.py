"""A concern posted to intake is routed per policy, seen in inboxes, and audited (real Kafka/PG)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.builders import a_concern_body
from tests.conftest import Services
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_concern(services: Services, token: Any, agency: str, **changes: Any) -> str:
    response = await services.intake.post(
        "/v1/concerns", json=a_concern_body(**changes), headers=bearer(token(agency))
    )
    assert response.status_code == 202, response.text
    concern_id: str = response.json()["concern_id"]
    return concern_id


async def inbox(
    services: Services, token: Any, agency: str, concern_id: str
) -> list[dict[str, Any]]:
    """The agency's notifications of a concern, each opened (a list item is only a summary)."""
    worker = bearer(token(agency, "caseworker", f"worker-{agency}"))
    response = await services.routing.get(
        "/v1/notifications", params={"concern_id": concern_id}, headers=worker
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = []
    for summary in response.json()["items"]:
        opened = await services.routing.get(
            f"/v1/notifications/{summary['notification_id']}", headers=worker
        )
        assert opened.status_code == 200, opened.text
        items.append(opened.json())
    return items


async def test_concern_reaches_each_recipient_cut_to_its_profile(
    services: Services, token: Any
) -> None:
    concern_id = await post_concern(
        services, token, "nm-hospital-ed", category="physical_abuse", severity="high"
    )

    async def routed() -> dict[str, Any] | None:
        response = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token("nm-hospital-ed"))
        )
        body: dict[str, Any] = response.json()
        return body if body.get("status") == "routed" else None

    status = await eventually(routed, what="routing of the concern")
    recipients = {r["agency"]: r["reasons"] for r in status["recipients"]}
    assert recipients == {
        "nm-csc": ["home-social-care", "incident-social-care"],
        "nme-police": ["police-serious-harm"],
        "nm-school-oakfield": ["school-of-child"],
    }

    school = await inbox(services, token, "nm-school-oakfield", concern_id)
    assert len(school) == 1
    assert set(school[0]["concern"]) == {"subject", "summary"}
    assert "narrative" not in school[0]["concern"]
    assert "nhs_number" not in school[0]["concern"]["subject"]

    police = await inbox(services, token, "nme-police", concern_id)
    assert police[0]["concern"]["narrative"]
    assert await inbox(services, token, "ev-csc", concern_id) == []
    assert await inbox(services, token, "nm-hospital-ed", concern_id) == []


async def test_concern_with_no_known_area_falls_back_and_is_audited(
    services: Services, token: Any
) -> None:
    concern_id = await post_concern(
        services, token, "nme-police", subject={"postcode": "ZZ9 9ZZ"}, location={"postcode": None}
    )
    fallback = await eventually(
        lambda: inbox(services, token, "nm-csc", concern_id), what="fallback notification"
    )
    assert fallback[0]["reasons"] == ["fallback"]

    auditor = bearer(token("nm-csc", "auditor", "auditor-1"))

    async def trail() -> list[str] | None:
        response = await services.audit.get(
            f"/v1/audit/concerns/{concern_id}/trail", headers=auditor
        )
        actions = [item["entry"]["action"] for item in response.json()["items"]]
        return actions if "notification.listed" in actions else None

    actions = await eventually(trail, what="the audit trail")
    # Intake and routing publish independently, so the log's order between them may vary.
    assert {"concern.submitted", "concern.routed", "notification.delivered"} <= set(actions)
    verified = (await services.audit.get("/v1/audit/verify", headers=auditor)).json()
    assert verified["ok"] is True
    assert verified["entries"] >= len(actions)


async def test_another_agencys_notification_answers_404_and_is_audited(
    services: Services, token: Any
) -> None:
    concern_id = await post_concern(services, token, "nm-hospital-ed")
    own = await eventually(lambda: inbox(services, token, "nm-csc", concern_id), what="routing")
    notification_id = own[0]["notification_id"]
    outsider = bearer(token("ev-school-hilltop", "caseworker", "nosy"))
    refused = await services.routing.get(f"/v1/notifications/{notification_id}", headers=outsider)
    missing = await services.routing.get(
        "/v1/notifications/00000000-0000-0000-0000-000000000000", headers=outsider
    )
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"] == missing.json()["detail"]

    auditor = bearer(token("nm-csc", "auditor", "auditor-1"))

    async def denied() -> list[Any] | None:
        response = await services.audit.get(
            "/v1/audit/events", params={"action": "access.denied", "actor": "nosy"}, headers=auditor
        )
        items: list[Any] = response.json()["items"]
        return items or None

    entries = await eventually(denied, what="the access.denied entry")
    assert entries[0]["entry"]["notification_id"] == notification_id


async def test_acknowledging_twice_changes_nothing(services: Services, token: Any) -> None:
    concern_id = await post_concern(services, token, "nm-hospital-ed")
    own = await eventually(lambda: inbox(services, token, "nm-csc", concern_id), what="routing")
    worker = bearer(token("nm-csc", "caseworker", "sw-1"))
    url = f"/v1/notifications/{own[0]['notification_id']}/acknowledge"
    first = (await services.routing.post(url, headers=worker)).json()
    second = (
        await services.routing.post(url, headers=bearer(token("nm-csc", "caseworker", "sw-2")))
    ).json()
    assert first["status"] == "acknowledged"
    assert second["acknowledgement"] == first["acknowledgement"]
    assert first["acknowledgement"]["acknowledged_by"] == "sw-1"


async def test_started_services_have_frozen_their_startup_heap(services: Services) -> None:
    # The services run in this process: their lifespans froze its heap and set the threshold.
    assert gc.get_freeze_count() > 0
    young = {app.state.settings.gc_young_threshold for app in services.apps.values()}
    assert young == {gc.get_threshold()[0]} == {20_000}
