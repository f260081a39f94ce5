"""The referrer learns how far each recipient got: notifications.changed on real Kafka and PG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer

from schemas.v1 import Topic
from schemas.v1.events import (
    NotificationChange,
    NotificationChanged,
    NotificationChangedPayload,
    NotificationKind,
)
from tests.builders import a_concern_body
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PROBLEM = "application/problem+json"
SOURCE = "nm-hospital-ed"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_concern(services: Services, token: Any, agency: str = SOURCE) -> str:
    response = await services.intake.post(
        "/v1/concerns",
        # Routed to nm-csc, nme-police and the child's school.
        json=a_concern_body(category="physical_abuse", severity="high"),
        headers=bearer(token(agency)),
    )
    assert response.status_code == 202, response.text
    concern_id: str = response.json()["concern_id"]
    return concern_id


async def routed_status(services: Services, token: Any, concern_id: str) -> dict[str, Any]:
    """The concern's status once routing has told intake where it went."""

    async def routed() -> dict[str, Any] | None:
        response = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(SOURCE))
        )
        body: dict[str, Any] = response.json()
        return body if body.get("status") == "routed" else None

    return await eventually(routed, what="routing of the concern")


class Routing:
    """Stands in for routing's side of the contract: publishes NotificationChanged on Kafka."""

    def __init__(self, producer: AIOKafkaProducer, concern_id: str, received_at: datetime):
        self.producer = producer
        self.concern_id = UUID(concern_id)
        self.acknowledge_by = received_at + timedelta(hours=1)
        self.decide_by = received_at + timedelta(days=1)

    def change(
        self, recipient: dict[str, Any], change: NotificationChange, at: datetime, **state: Any
    ) -> NotificationChanged:
        return NotificationChanged(
            correlation_id="test-progress",
            payload=NotificationChangedPayload(
                notification_id=UUID(recipient["notification_id"]),
                concern_id=self.concern_id,
                kind=NotificationKind.CONCERN,
                recipient_agency=recipient["agency"],
                source_agency=SOURCE,
                change=change,
                status=state.pop("status", change.value),
                changed_at=at,
                acknowledge_by=self.acknowledge_by,
                decide_by=self.decide_by,
                **state,
            ),
        )

    async def publish(self, *events: NotificationChanged) -> None:
        for event in events:
            await self.producer.send_and_wait(
                Topic.NOTIFICATIONS_CHANGED.value,
                event.model_dump_json().encode(),
                key=str(self.concern_id).encode(),
                headers=[("content-type", b"application/json")],
            )


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> Any:
    started = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def test_the_source_agency_sees_each_recipients_acknowledgement_and_decision(
    services: Services, token: Any, producer: AIOKafkaProducer
) -> None:
    concern_id = await post_concern(services, token)
    status = await routed_status(services, token, concern_id)
    by_agency = {r["agency"]: r for r in status["recipients"]}
    csc, police = by_agency["nm-csc"], by_agency["nme-police"]
    assert csc["notification_id"]
    assert police["notification_id"]
    assert (csc["acknowledged_at"], csc["decision"], csc["assigned"]) == (None, None, False)
    routing = Routing(producer, concern_id, datetime.fromisoformat(status["received_at"]))
    start = datetime.now(UTC)

    acknowledged = routing.change(
        csc, NotificationChange.ACKNOWLEDGED, start, acknowledged_at=start
    )
    decision = routing.change(
        csc,
        NotificationChange.DECIDED,
        start + timedelta(minutes=5),
        acknowledged_at=start,
        assigned=True,
        decision="strategy_discussion",
        decision_label="Strategy discussion (s47)",
        decided_at=start + timedelta(minutes=5),
        revision=1,
    )
    await routing.publish(acknowledged, decision, decision)

    async def csc_decided() -> dict[str, Any] | None:
        answer = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(SOURCE))
        )
        seen = {r["agency"]: r for r in answer.json()["recipients"]}["nm-csc"]
        return seen if seen["decision"] else None

    seen = await eventually(csc_decided, what="nm-csc's decision at intake")
    assert seen["notification_id"] == csc["notification_id"]
    assert seen["decision_label"] == "Strategy discussion (s47)"
    assert datetime.fromisoformat(seen["acknowledged_at"]) == start
    assert datetime.fromisoformat(seen["decided_at"]) == start + timedelta(minutes=5)
    assert datetime.fromisoformat(seen["decide_by"]) == routing.decide_by
    assert (seen["assigned"], seen["overdue"]) == (True, False)

    # An older change arriving later, in a batch of its own, must not undo the decision; the
    # marker behind it on the same partition says when it has been handled.
    await routing.publish(acknowledged)
    marker = routing.change(
        police, NotificationChange.ASSIGNED, start + timedelta(minutes=1), assigned=True
    )
    await routing.publish(marker)

    async def police_assigned() -> dict[str, Any] | None:
        answer = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(SOURCE))
        )
        recipients = {r["agency"]: r for r in answer.json()["recipients"]}
        return recipients if recipients["nme-police"]["assigned"] else None

    recipients = await eventually(police_assigned, what="the police assignment at intake")
    assert recipients["nm-csc"]["decision"] == "strategy_discussion"
    assert recipients["nme-police"]["acknowledged_at"] is None

    other = await services.intake.get(
        f"/v1/concerns/{concern_id}", headers=bearer(token("nme-police"))
    )
    assert other.status_code == 404


async def test_an_older_change_published_after_a_newer_one_is_ignored(
    services: Services, token: Any, producer: AIOKafkaProducer
) -> None:
    concern_id = await post_concern(services, token)
    status = await routed_status(services, token, concern_id)
    csc = {r["agency"]: r for r in status["recipients"]}["nm-csc"]
    routing = Routing(producer, concern_id, datetime.fromisoformat(status["received_at"]))
    start = datetime.now(UTC)
    newer = routing.change(
        csc, NotificationChange.ASSIGNED, start + timedelta(minutes=2), assigned=True,
        acknowledged_at=start, status="acknowledged",
    )  # fmt: skip
    older = routing.change(csc, NotificationChange.ACKNOWLEDGED, start, acknowledged_at=start)
    # Both in one go: intake may take them in one batch or two; either way the newer stays.
    await routing.publish(newer, older)
    marker = routing.change(
        {r["agency"]: r for r in status["recipients"]}["nme-police"],
        NotificationChange.ACKNOWLEDGED,
        start,
        acknowledged_at=start,
    )
    await routing.publish(marker)

    async def police_acknowledged() -> dict[str, Any] | None:
        answer = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(SOURCE))
        )
        recipients = {r["agency"]: r for r in answer.json()["recipients"]}
        return recipients if recipients["nme-police"]["acknowledged_at"] else None

    recipients = await eventually(police_acknowledged, what="the police acknowledgement")
    assert recipients["nm-csc"]["assigned"] is True


async def test_an_agency_lists_its_own_concerns_newest_first_in_pages(
    services: Services, token: Any
) -> None:
    agency = "nm-school-oakfield"
    first, second, third = [await post_concern(services, token, agency) for _ in range(3)]
    headers = bearer(token(agency, "caseworker", "teacher-dsl"))
    page = await services.intake.get("/v1/concerns", params={"limit": 2}, headers=headers)
    assert page.status_code == 200, page.text
    assert [item["concern_id"] for item in page.json()["items"]] == [third, second]
    cursor = page.json()["next_cursor"]
    assert cursor
    following = await services.intake.get(
        "/v1/concerns", params={"limit": 2, "cursor": cursor}, headers=headers
    )
    assert following.status_code == 200, following.text
    assert following.json()["items"][0]["concern_id"] == first
    listed = {item["concern_id"] for item in page.json()["items"] + following.json()["items"]}
    assert listed.isdisjoint(
        item["concern_id"]
        for item in (
            await services.intake.get("/v1/concerns", headers=bearer(token("nme-police")))
        ).json()["items"]
    )


@pytest.mark.parametrize(
    ("params", "role", "status"),
    [
        ({"cursor": "not-a-cursor"}, "agency_system", 400),
        ({"limit": 0}, "agency_system", 422),
        ({"limit": 101}, "agency_system", 422),
        ({}, "auditor", 403),
    ],
)
async def test_a_bad_listing_request_answers_a_problem(
    services: Services, token: Any, params: dict[str, Any], role: str, status: int
) -> None:
    answer = await services.intake.get(
        "/v1/concerns", params=params, headers=bearer(token(SOURCE, role))
    )
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM


async def test_listing_documents_every_status_code(services: Services) -> None:
    document = (await services.intake.get("/openapi.json")).json()
    responses = document["paths"]["/v1/concerns"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "403", "422", "503"}
