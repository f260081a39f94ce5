"""Schemathesis against each service's own /openapi.json: every answer is the one documented.

Each app of the `services` fixture, and a delivery app of its own (real Kafka and PostgreSQL),
is served by uvicorn on a free port in the test's event loop; schemathesis runs in a thread
beside it and calls it over HTTP with a valid bearer token, positive and negative cases, a
bounded and seeded number per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.http_server import server_options
from services.delivery.app import build_app as build_delivery
from services.delivery.settings import DeliverySettings
from services.partnership import default_partnership_path
from tests.conftest import Services
from tests.infrastructure import free_port
from tests.integration.delivery_support import close_within
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25
# The stream never ends by itself; it is checked by tests/integration/test_routing_stream.py.
ENDLESS = {("GET", "/v1/notifications/stream")}
CALLERS = {
    "intake": ("nm-hospital-ed", "agency_system", "ed-conformance"),
    "routing": ("nm-csc", "caseworker", "sw-conformance"),
    "audit": ("nm-csc", "partnership_auditor", "ig-conformance"),
    "delivery": ("nme-police", "delivery_admin", "da-conformance"),
}


def app_of(client: httpx.AsyncClient) -> Any:
    """The ASGI app the fixture's client reaches in-process."""
    transport = client._transport  # the fixture keeps no other handle on its apps
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The (already started) app served over HTTP on a free port: its base URL."""
    port = free_port()
    options = server_options(app.state.settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", **options)
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, within=10, what="the server's start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def failures_of(base_url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation's cases against the service; what failed, one line each."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in ENDLESS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(20261201)
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def conforms(case: Any) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            try:
                conforms()
            except Unsatisfiable:
                pass  # nothing in the operation can be made invalid: no negative case exists
            except Exception as failure:
                found.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}"
                )
    return found


@contextlib.asynccontextmanager
async def running_delivery(service_environment: dict[str, str]) -> AsyncIterator[Any]:
    """Delivery on the run's Kafka and PostgreSQL (the `services` fixture has no delivery)."""
    settings = DeliverySettings(**service_environment, partnership_path=default_partnership_path())
    app = build_delivery(settings, environ={})
    stack = contextlib.AsyncExitStack()
    await stack.enter_async_context(app.router.lifespan_context(app))
    try:
        yield app
    finally:
        await close_within(stack, 60)


@pytest.mark.parametrize("service", ["intake", "routing", "audit", "delivery"])
async def test_every_answer_is_the_one_the_document_gives(
    services: Services,
    service_environment: dict[str, str],
    token: Callable[..., str],
    service: str,
) -> None:
    agency, role, subject = CALLERS[service]
    headers = {"Authorization": f"Bearer {token(agency, role, subject)}"}
    async with contextlib.AsyncExitStack() as stack:
        if service == "delivery":
            app = await stack.enter_async_context(running_delivery(service_environment))
        else:
            app = app_of(getattr(services, service))
        base_url = await stack.enter_async_context(served(app))
        found = await asyncio.to_thread(failures_of, base_url, headers)
    assert not found, "\n\n".join(found)


@pytest.mark.parametrize("service", ["intake", "routing", "audit"])
async def test_every_error_is_documented_only_as_a_problem_document(
    services: Services, service: str
) -> None:
    document = (await getattr(services, service).get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (method, path, code)
    assert "HTTPValidationError" not in document["components"]["schemas"]
