"""Intake's HTTP contract on real Kafka and PostgreSQL: auth, validation, idempotency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tests.builders import a_concern_body
from tests.conftest import Services
from tests.infrastructure import Infrastructure

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_same_reference_and_body_again_answers_200_with_the_same_id(
    services: Services, token: Any
) -> None:
    body = a_concern_body()
    headers = bearer(token("nm-hospital-ed"))
    first = await services.intake.post("/v1/concerns", json=body, headers=headers)
    again = await services.intake.post("/v1/concerns", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert (
        first.json()
        == again.json()
        == {"concern_id": first.json()["concern_id"], "status": "accepted"}
    )


async def test_same_reference_with_another_body_answers_409_naming_the_concern(
    services: Services, token: Any
) -> None:
    body = a_concern_body()
    headers = bearer(token("nm-hospital-ed"))
    first = await services.intake.post("/v1/concerns", json=body, headers=headers)
    changed = await services.intake.post(
        "/v1/concerns", json=body | {"summary": "Something else"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert changed.json()["concern_id"] == first.json()["concern_id"]


async def test_concurrent_duplicates_make_one_concern(services: Services, token: Any) -> None:
    body = a_concern_body()
    headers = bearer(token("nm-hospital-ed"))
    answers = await asyncio.gather(
        *(services.intake.post("/v1/concerns", json=body, headers=headers) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [202]
    assert len({a.json()["concern_id"] for a in answers}) == 1


async def test_bad_fields_are_listed_by_path(services: Services, token: Any) -> None:
    body = a_concern_body(
        subject={"nhs_number": "943 476 5918", "postcode": "not a postcode"},
        category="bad_luck",
        unknown_field=1,
    )
    response = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-csc"))
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"subject.nhs_number", "subject.postcode", "category", "unknown_field"}


async def test_justification_is_required_without_consent(services: Services, token: Any) -> None:
    body = a_concern_body(lawful_basis={"basis": "s.47", "consent": "refused_overridden"})
    response = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-csc"))
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lawful_basis"]


async def test_future_dates_are_refused(services: Services, token: Any) -> None:
    body = a_concern_body(
        subject={"date_of_birth": "2099-01-01"}, occurred_at="2099-01-01T00:00:00Z"
    )
    response = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-csc"))
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "subject.date_of_birth",
        "occurred_at",
    }


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"content-type": "application/json"}, b"{not json", 400),
        ({"content-type": "text/plain"}, b"{}", 415),
        ({"content-type": "application/json"}, b"[" + b" " * 300_000 + b"]", 413),
    ],
)
async def test_malformed_wrong_type_and_oversized_bodies(
    services: Services, token: Any, headers: dict[str, str], content: bytes, status: int
) -> None:
    response = await services.intake.post(
        "/v1/concerns", content=content, headers=headers | bearer(token("nm-csc"))
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_tokens_and_roles_are_checked(
    services: Services, token: Any, signing_key: Any
) -> None:
    body = a_concern_body()
    missing = await services.intake.post("/v1/concerns", json=body)
    forged = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-csc") + "x")
    )
    auditor = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("nm-csc", "auditor"))
    )
    stranger = await services.intake.post(
        "/v1/concerns", json=body, headers=bearer(token("atlantis-police"))
    )
    assert [missing.status_code, forged.status_code, auditor.status_code, stranger.status_code] == [
        401, 401, 403, 403,
    ]  # fmt: skip


async def test_only_the_source_agency_may_read_a_concern(services: Services, token: Any) -> None:
    posted = await services.intake.post(
        "/v1/concerns", json=a_concern_body(), headers=bearer(token("nm-hospital-ed"))
    )
    url = f"/v1/concerns/{posted.json()['concern_id']}"
    assert (
        await services.intake.get(url, headers=bearer(token("nm-hospital-ed")))
    ).status_code == 200
    assert (await services.intake.get(url, headers=bearer(token("nme-police")))).status_code == 404


async def test_each_accepted_concern_is_published_once(
    services: Services, token: Any, infrastructure: Infrastructure
) -> None:
    headers = bearer(token("nm-school-riverside"))
    bodies = [a_concern_body() for _ in range(20)]
    ids = set()
    for body in bodies:
        for _ in range(2):  # every post repeated: a retrying agency system
            response = await services.intake.post("/v1/concerns", json=body, headers=headers)
            ids.add(response.json()["concern_id"])
    consumer = AIOKafkaConsumer(
        "concerns.received",
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[str] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline and len(set(seen) & ids) < len(ids):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                seen += [json.loads(r.value)["payload"]["concern_id"] for r in records]
    finally:
        await consumer.stop()
    mine = [concern_id for concern_id in seen if concern_id in ids]
    assert sorted(mine) == sorted(ids)


async def test_an_unreachable_database_answers_503_with_retry_after(
    services: Services, token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.intake import store

    async def refused(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(store, "add_submission", refused)
    answer = await services.intake.post(
        "/v1/concerns", json=a_concern_body(), headers=bearer(token("nm-hospital-ed"))
    )
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "2"
    assert "retry" in answer.json()["detail"]
