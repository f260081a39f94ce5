"""Query parameters have bounds, and an agency's open inbox streams have a cap."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.routing.stream import OpenStreams
from tests.conftest import Services
from tests.integration.test_openapi_conformance import app_of, served
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
PROBLEM = "application/problem+json"
TOO_BIG = 2**63


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "concern_id",
    ["urn:uuid:12345678-1234-5678-1234-567812345678", "{12345678-1234-5678-1234-567812345678}",
     "0" * 10_000, "not-a-uuid"],
)  # fmt: skip
async def test_intake_answers_an_overlong_or_malformed_concern_id_404_like_a_missing_one(
    services: Services, token: Callable[..., str], concern_id: str
) -> None:
    answer = await services.intake.get(
        f"/v1/concerns/{concern_id}", headers=bearer(token("nm-hospital-ed"))
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "A" * 41}, 400),
        ({"cursor": encoded(str(TOO_BIG))}, 400),
        ({"cursor": encoded("-1")}, 400),
        ({"cursor": encoded("w5")}, 400),  # a worklist's cursor on the newest-first order
        ({"cursor": encoded(f"w{TOO_BIG}"), "order": "worklist"}, 400),
        ({"cursor": "%%%"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"concern_id": "not-a-uuid"}, 422),
        ({"kind": "gossip"}, 422),
        ({"status": "lost"}, 422),
        ({"severity": "apocalyptic"}, 422),
        ({"assignee": "x" * 201}, 422),
        ({"order": "oldest"}, 422),
    ],
)
async def test_routing_refuses_a_listing_query_out_of_bounds(
    services: Services, token: Callable[..., str], params: dict[str, Any], status: int
) -> None:
    answer = await services.routing.get(
        "/v1/notifications", params=params, headers=bearer(token("nm-csc", "caseworker"))
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM


async def test_routing_accepts_the_largest_position_as_a_cursor(
    services: Services, token: Callable[..., str]
) -> None:
    answer = await services.routing.get(
        "/v1/notifications",
        params={"cursor": encoded(str(TOO_BIG - 1))},
        headers=bearer(token("nm-csc", "caseworker")),
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"after": TOO_BIG}, {}),
        ({"after": -1}, {}),
        ({}, {"Last-Event-ID": str(TOO_BIG)}),
        ({}, {"Last-Event-ID": "-1"}),
        ({"limit": 0}, {}),
    ],
)
async def test_routing_refuses_a_stream_position_out_of_bounds(
    services: Services, token: Callable[..., str], params: dict[str, Any], headers: dict[str, str]
) -> None:
    answer = await services.routing.get(
        "/v1/notifications/stream",
        params=params,
        headers=bearer(token("nm-csc", "caseworker")) | headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM


@contextlib.asynccontextmanager
async def capped_streams(services: Services, cap: int) -> AsyncIterator[tuple[str, OpenStreams]]:
    """Routing over real HTTP, its stream count replaced by one with this cap for the test."""
    app = app_of(services.routing)
    before = getattr(app.state, "open_streams", None)
    app.state.open_streams = streams = OpenStreams(cap)
    try:
        async with served(app) as base_url:
            yield base_url, streams
    finally:
        app.state.open_streams = before


async def test_an_agency_holds_at_most_its_cap_of_streams_and_a_closed_one_frees_its_place(
    services: Services, token: Callable[..., str]
) -> None:
    csc = bearer(token("nm-csc", "caseworker", f"sw-{uuid4().hex[:6]}"))
    police = bearer(token("nme-police", "caseworker", f"pc-{uuid4().hex[:6]}"))
    async with (
        capped_streams(services, cap=2) as (base_url, streams),
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        opened = []
        for _ in range(2):
            response = await stack.enter_async_context(
                client.stream("GET", "/v1/notifications/stream", headers=csc)
            )
            assert response.status_code == 200
            opened.append(response)
        assert streams.count("nm-csc") == 2

        refused = await client.get("/v1/notifications/stream", headers=csc)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["status"] == 429

        async with client.stream("GET", "/v1/notifications/stream", headers=police) as other:
            assert other.status_code == 200  # the cap is the agency's own

        await opened[0].aclose()  # the client goes away

        async def freed() -> bool:
            return streams.count("nm-csc") == 1

        await eventually(freed, within=20, what="the closed stream's place given back")
        async with client.stream("GET", "/v1/notifications/stream", headers=csc) as again:
            assert again.status_code == 200
    await eventually(_nothing_open(streams), within=20, what="every stream counted closed")


def _nothing_open(streams: OpenStreams) -> Callable[[], Any]:
    async def probe() -> bool:
        await asyncio.sleep(0)
        return streams.count("nm-csc") == 0 and streams.count("nme-police") == 0

    return probe
