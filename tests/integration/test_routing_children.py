"""The child index: one child across concerns and agencies, and one cumulative-concern alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from schemas.v1 import ConcernReceived, ConcernReceivedPayload, ConcernSubmission, Submitter
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.integration.test_pipeline import bearer, inbox, post_concern
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

HOME_CSC = "nm-csc"  # the children's social care of NM1 1AA, the builders' home postcode
NARRATIVE = a_concern_body()["narrative"]


async def routed_concern(services: Services, token: Any, agency: str, **changes: Any) -> str:
    """Post a concern and wait until it is routed (so concerns are routed in posting order)."""
    concern_id = await post_concern(services, token, agency, **changes)

    async def routed() -> bool:
        response = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(agency))
        )
        return bool(response.json().get("status") == "routed")

    await eventually(routed, what=f"routing of concern {concern_id}")
    return concern_id


async def alerts(services: Services, token: Any, concern_ids: list[str]) -> list[dict[str, Any]]:
    """The cumulative-concern alerts in the home social care's inbox raised by these concerns."""
    found = []
    worker = bearer(token(HOME_CSC, "caseworker", "sw-cumulative"))
    for concern_id in concern_ids:
        response = await services.routing.get(
            "/v1/notifications",
            params={"concern_id": concern_id, "kind": "cumulative_concern"},
            headers=worker,
        )
        assert response.status_code == 200, response.text
        # A list item is a summary; the chronology is in the detail.
        for summary in response.json()["items"]:
            opened = await services.routing.get(
                f"/v1/notifications/{summary['notification_id']}", headers=worker
            )
            assert opened.status_code == 200, opened.text
            found.append(opened.json())
    return found


async def test_three_concerns_from_two_agencies_raise_one_alert_and_a_fourth_none(
    services: Services, token: Any
) -> None:
    child = {"nhs_number": an_nhs_number(), "family_name": a_family_name()}
    without_number = child | {"nhs_number": None}
    concern_ids = [
        await routed_concern(services, token, "nm-hospital-ed", subject=child),
        await routed_concern(services, token, "nme-police", subject=child),
        await routed_concern(services, token, "nm-hospital-ed", subject=without_number),
    ]

    [alert] = await alerts(services, token, concern_ids)
    assert alert["kind"] == "cumulative_concern"
    assert alert["concern_id"] == concern_ids[2]
    assert alert["reasons"] == ["cumulative_concern"]
    chronology = alert["chronology"]
    assert [entry["concern_id"] for entry in chronology] == concern_ids
    assert [entry["source_agency"] for entry in chronology] == [
        "nm-hospital-ed", "nme-police", "nm-hospital-ed",
    ]  # fmt: skip
    assert set(chronology[0]) == {
        "concern_id", "received_at", "occurred_at", "category", "severity", "source_agency",
    }  # fmt: skip
    assert "narrative" not in json.dumps(chronology)
    assert NARRATIVE not in json.dumps(chronology)

    concern_ids.append(await routed_concern(services, token, "nme-police", subject=child))
    assert len(await alerts(services, token, concern_ids)) == 1


def received_event(agency: str, received_at: datetime, **subject: Any) -> ConcernReceived:
    """A ConcernReceived as intake publishes it."""
    return ConcernReceived(
        correlation_id=f"test-{uuid4()}",
        payload=ConcernReceivedPayload(
            concern_id=uuid4(),
            source_agency=agency,
            received_at=received_at,
            submitted_by=Submitter(subject="tester", role="agency_system"),
            concern=ConcernSubmission.model_validate(a_concern_body(subject=subject)),
        ),
    )


async def test_a_redelivered_concern_raises_no_second_alert(
    services: Services, token: Any, infrastructure: Infrastructure
) -> None:
    child = {"nhs_number": an_nhs_number(), "family_name": a_family_name()}
    now = datetime.now(UTC)
    first, second, third = (
        received_event(agency, now + timedelta(milliseconds=index), **child)
        for index, agency in enumerate(["nm-hospital-ed", "nme-police", "nme-police"])
    )
    # Another child's concern, published last on the same partition: once it is routed, every
    # event before it (the redelivery too) has been handled.
    sentinel = received_event(
        "nm-hospital-ed",
        now + timedelta(milliseconds=3),
        nhs_number=an_nhs_number(),
        family_name=a_family_name(),
    )
    key = str(first.payload.concern_id).encode()
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in (first, second, third, third, sentinel):
            await producer.send_and_wait(
                "concerns.received",
                event.model_dump_json().encode(),
                key=key,
                headers=[("content-type", b"application/json")],
            )
    finally:
        await producer.stop()

    sentinel_id = str(sentinel.payload.concern_id)
    await eventually(
        lambda: inbox(services, token, HOME_CSC, sentinel_id), what="routing of the sentinel"
    )
    concern_ids = [str(event.payload.concern_id) for event in (first, second, third)]
    [alert] = await alerts(services, token, concern_ids)
    assert alert["concern_id"] == concern_ids[2]
    assert len(alert["chronology"]) == 3
    assert len(await inbox(services, token, HOME_CSC, concern_ids[2])) == 2  # concern + alert


async def test_a_concern_naming_two_known_children_merges_them_into_one_chronology(
    services: Services, token: Any
) -> None:
    nhs_number, family = an_nhs_number(), a_family_name()
    # "-" keeps no letter, so the first concern is known by its NHS number only.
    by_number = {"nhs_number": nhs_number, "given_name": "-", "family_name": family}
    by_names = {"nhs_number": None, "family_name": family}
    both = {"nhs_number": nhs_number, "family_name": family}
    concern_ids = [
        await routed_concern(services, token, "nm-hospital-ed", subject=by_number),
        await routed_concern(services, token, "nme-police", subject=by_names),
    ]
    assert await alerts(services, token, concern_ids) == []

    concern_ids.append(await routed_concern(services, token, "nm-hospital-ed", subject=both))

    [alert] = await alerts(services, token, concern_ids)
    assert [entry["concern_id"] for entry in alert["chronology"]] == concern_ids


async def test_a_refused_look_at_a_notification_is_in_its_concerns_audit_trail(
    services: Services, token: Any
) -> None:
    concern_id = await routed_concern(services, token, "nm-hospital-ed")
    [own, *_] = await inbox(services, token, HOME_CSC, concern_id)
    nosy = f"nosy-{uuid4().hex[:8]}"
    refused = await services.routing.get(
        f"/v1/notifications/{own['notification_id']}",
        headers=bearer(token("ev-school-hilltop", "caseworker", nosy)),
    )
    assert refused.status_code == 404
    auditor = bearer(token(HOME_CSC, "auditor", "auditor-children"))

    async def denied() -> list[dict[str, Any]] | None:
        response = await services.audit.get(
            f"/v1/audit/concerns/{concern_id}/trail", headers=auditor
        )
        items = [
            item["entry"]
            for item in response.json()["items"]
            if item["entry"]["action"] == "access.denied"
            and item["entry"]["actor"]["subject"] == nosy
        ]
        return items or None

    [entry] = await eventually(denied, what="access.denied in the concern's trail")
    assert entry["notification_id"] == own["notification_id"]
