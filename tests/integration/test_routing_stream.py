"""GET /v1/notifications/stream: the caller's agency's notifications as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import uuid4

import pytest

from tests.conftest import Services
from tests.integration.test_pipeline import bearer, inbox, post_concern
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def server_sent_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append(fields)
    return events


async def test_stream_sends_the_agencys_notification_and_audits_it(
    services: Services, token: Any
) -> None:
    concern_id = await post_concern(services, token, "nm-hospital-ed")
    await eventually(lambda: inbox(services, token, "nm-csc", concern_id), what="routing")
    subject = f"streamer-{uuid4().hex[:8]}"
    headers = {**bearer(token("nm-csc", "caseworker", subject)), "Last-Event-ID": "0"}

    response = await asyncio.wait_for(
        services.routing.get(
            "/v1/notifications/stream",
            params={"concern_id": concern_id, "limit": 1},
            headers=headers,
        ),
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    [event] = server_sent_events(response.text)
    assert event["event"] == "notification"
    assert int(event["id"]) > 0
    notification = json.loads(event["data"])
    assert notification["concern_id"] == concern_id
    assert notification["reasons"]

    auditor = bearer(token("nm-csc", "auditor", "auditor-1"))

    async def listed() -> list[Any] | None:
        response = await services.audit.get(
            "/v1/audit/events",
            params={"action": "notification.listed", "actor": subject},
            headers=auditor,
        )
        items: list[Any] = response.json()["items"]
        return items or None

    [entry] = await eventually(listed, what="the notification.listed entry")
    assert entry["entry"]["notification_id"] == notification["notification_id"]


async def test_stream_needs_a_token(services: Services) -> None:
    response = await services.routing.get("/v1/notifications/stream")
    assert response.status_code == 401
