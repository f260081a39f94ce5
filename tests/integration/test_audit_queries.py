"""Auditor queries on real Kafka and PostgreSQL: a person's accesses, exports, readable trails."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.builders import a_concern_body
from tests.conftest import Services
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CSV_COLUMNS = [
    "seq", "occurred_at", "recorded_at", "action", "actor_subject", "actor_agency", "actor_role",
    "concern_id", "notification_id", "fields", "details", "entry_hash",
]  # fmt: skip
SEEN = ["notification.listed", "notification.viewed", "notification.acknowledged"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Story:
    """One concern, seen by a caseworker and refused to an outsider, all of it in the log."""

    concern_id: str
    notification_id: str
    fields: list[str]
    listed_fields: list[str]
    submitter: str
    worker: str
    outsider: str
    auditor: dict[str, str]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def story(services: Services, token: Callable[..., str]) -> Story:
    run = uuid.uuid4().hex[:8]
    submitter, worker, outsider = f"ed-{run}", f"sw-{run}", f"nosy-{run}"
    posted = await services.intake.post(
        "/v1/concerns",
        json=a_concern_body(),
        headers=bearer(token("nm-hospital-ed", "agency_system", submitter)),
    )
    assert posted.status_code == 202, posted.text
    concern_id = posted.json()["concern_id"]
    poller = bearer(token("nm-csc", "caseworker", f"poller-{run}"))

    async def routed() -> list[Any] | None:
        response = await services.routing.get(
            "/v1/notifications", params={"concern_id": concern_id}, headers=poller
        )
        items: list[Any] = response.json()["items"]
        return items or None

    await eventually(routed, what="routing to nm-csc")
    caseworker = bearer(token("nm-csc", "caseworker", worker))
    listed = await services.routing.get(
        "/v1/notifications", params={"concern_id": concern_id}, headers=caseworker
    )
    notification = listed.json()["items"][0]
    url = f"/v1/notifications/{notification['notification_id']}"
    opened = await services.routing.get(url, headers=caseworker)
    assert opened.status_code == 200
    assert (await services.routing.post(f"{url}/acknowledge", headers=caseworker)).is_success
    refused = await services.routing.get(
        url, headers=bearer(token("ev-school-hilltop", "caseworker", outsider))
    )
    assert refused.status_code == 404
    auditor = bearer(token("nm-csc", "auditor", f"auditor-{run}"))

    async def logged(subject: str, action: str) -> bool:
        response = await services.audit.get(
            "/v1/audit/events", params={"actor": subject, "action": action}, headers=auditor
        )
        return bool(response.json()["items"])

    await eventually(lambda: logged(worker, SEEN[-1]), what="the acknowledgement in the log")
    await eventually(lambda: logged(outsider, "access.denied"), what="the refusal in the log")
    return Story(
        concern_id=concern_id,
        notification_id=notification["notification_id"],
        fields=opened.json()["disclosed_fields"],
        # A list item is a summary: of the concern, the child's names and age (date of birth).
        listed_fields=["subject.given_name", "subject.family_name", "subject.date_of_birth"],
        submitter=submitter,
        worker=worker,
        outsider=outsider,
        auditor=auditor,
    )


async def accesses(services: Services, story: Story, subject: str, **params: Any) -> Any:
    response = await services.audit.get(
        f"/v1/audit/people/{subject}/accesses", params=params, headers=story.auditor
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_persons_history_shows_exactly_what_they_saw(
    services: Services, story: Story
) -> None:
    history = await accesses(services, story, story.worker)
    assert history["subject"] == story.worker
    assert [item["action"] for item in history["items"]] == SEEN
    for item in history["items"]:
        assert item["concern_id"] == story.concern_id
        assert item["notification_id"] == story.notification_id
        assert item["agency"] == "nm-csc"
        assert item["when"]
    listed, viewed, acknowledged = history["items"]
    assert listed["fields"] == story.listed_fields
    assert viewed["fields"] == story.fields
    assert story.fields
    assert acknowledged["fields"] == []


async def test_a_persons_history_pages_and_filters(services: Services, story: Story) -> None:
    first = await accesses(services, story, story.worker, limit=2)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await accesses(services, story, story.worker, limit=2, cursor=first["next_cursor"])
    assert [item["action"] for item in rest["items"]] == SEEN[2:]
    assert rest["next_cursor"] is None
    elsewhere = await accesses(services, story, story.worker, agency="nme-police")
    assert elsewhere["items"] == []


async def test_a_persons_history_includes_refusals_and_submissions(
    services: Services, story: Story
) -> None:
    refused = (await accesses(services, story, story.outsider))["items"]
    assert [item["action"] for item in refused] == ["access.denied"]
    assert refused[0]["notification_id"] == story.notification_id
    assert refused[0]["fields"] == []
    submitted = (await accesses(services, story, story.submitter))["items"]
    assert [item["action"] for item in submitted] == ["concern.submitted"]
    assert submitted[0]["concern_id"] == story.concern_id


async def test_the_csv_export_holds_the_concerns_rows(services: Services, story: Story) -> None:
    response = await services.audit.get(
        "/v1/audit/export",
        params={"format": "csv", "concern_id": story.concern_id},
        headers=story.auditor,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert all(r["concern_id"] == story.concern_id for r in records)
    seqs = [int(r["seq"]) for r in records]
    assert seqs == sorted(seqs)
    actions = [r["action"] for r in records]
    assert {"concern.submitted", "concern.routed", "notification.delivered", *SEEN} <= set(actions)
    worker = [r for r in records if r["actor_subject"] == story.worker]
    assert [r["action"] for r in worker] == SEEN
    assert worker[0]["fields"] == ";".join(story.listed_fields)
    assert worker[0]["actor_agency"] == "nm-csc"
    delivered = [r for r in records if r["action"] == "notification.delivered"]
    assert "nm-csc" in {json.loads(r["details"])["recipient_agency"] for r in delivered}


async def test_the_json_export_is_an_array_of_entries(services: Services, story: Story) -> None:
    response = await services.audit.get(
        "/v1/audit/export", params={"format": "json", "actor": story.worker}, headers=story.auditor
    )
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    exported = response.json()
    assert isinstance(exported, list)
    assert [item["entry"]["action"] for item in exported] == SEEN
    assert all(len(item["entry_hash"]) == 64 for item in exported)


async def test_the_trail_says_who_saw_what_and_when(services: Services, story: Story) -> None:
    response = await services.audit.get(
        f"/v1/audit/concerns/{story.concern_id}/trail", headers=story.auditor
    )
    assert response.status_code == 200, response.text
    trail = response.json()
    assert len(trail["summary"]) == len(trail["items"])
    steps = {(s["action"], s["who"]["subject"]): s for s in trail["summary"]}
    viewed = steps[("notification.viewed", story.worker)]
    assert viewed["who"] == {"subject": story.worker, "agency": "nm-csc", "role": "caseworker"}
    assert viewed["notification_id"] == story.notification_id
    assert viewed["fields"] == story.fields
    assert viewed["when"]
    delivered = [s for s in trail["summary"] if s["action"] == "notification.delivered"]
    assert "nm-csc" in {s["recipient_agency"] for s in delivered}
    assert steps[("concern.submitted", story.submitter)]["who"]["agency"] == "nm-hospital-ed"

    exported = await services.audit.get(
        f"/v1/audit/concerns/{story.concern_id}/trail",
        params={"format": "csv"},
        headers=story.auditor,
    )
    assert exported.status_code == 200, exported.text
    assert story.concern_id in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {"concern.submitted", *SEEN} <= {row["action"] for row in rows}


async def test_only_auditors_may_query_people_or_export(
    services: Services, story: Story, token: Callable[..., str]
) -> None:
    for role in ("caseworker", "agency_system"):
        headers = bearer(token("nm-csc", role, f"curious-{role}"))
        for url in (
            f"/v1/audit/people/{story.worker}/accesses",
            "/v1/audit/export?format=csv",
            "/v1/audit/export?format=json",
            f"/v1/audit/concerns/{story.concern_id}/trail?format=csv",
        ):
            assert (await services.audit.get(url, headers=headers)).status_code == 403, url


async def test_each_query_is_itself_audited(
    services: Services, story: Story, token: Callable[..., str]
) -> None:
    auditor_subject = f"auditor-q-{uuid.uuid4().hex[:8]}"
    auditor = bearer(token("nm-csc", "auditor", auditor_subject))
    await services.audit.get(f"/v1/audit/people/{story.worker}/accesses", headers=auditor)
    await services.audit.get(
        "/v1/audit/export", params={"format": "csv", "actor": story.worker}, headers=auditor
    )
    await services.audit.get(
        f"/v1/audit/concerns/{story.concern_id}/trail", params={"format": "json"}, headers=auditor
    )

    async def queried() -> list[dict[str, Any]] | None:
        response = await services.audit.get(
            "/v1/audit/events",
            params={"actor": auditor_subject, "action": "audit.queried"},
            headers=auditor,
        )
        details = [item["entry"]["details"] for item in response.json()["items"]]
        asked = {d["query"] for d in details}
        return details if {"person-accesses", "export", "trail"} <= asked else None

    details = await eventually(queried, what="the audit.queried entries")
    by_query = {d["query"]: d for d in details}
    assert by_query["person-accesses"]["subject"] == story.worker
    assert by_query["export"] == {"query": "export", "format": "csv", "actor": story.worker}
    assert by_query["trail"]["format"] == "json"
    assert by_query["trail"]["concern_id"] == story.concern_id
