"""Intake's /openapi.json documents every answer it can give, errors as problem+json."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Services

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PROBLEM = "application/problem+json"


async def openapi(services: Services) -> dict[str, Any]:
    response = await services.intake.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_submitting_documents_every_status_code(services: Services) -> None:
    responses = (await openapi(services))["paths"]["/v1/concerns"]["post"]["responses"]
    assert set(responses) == {"202", "200", "400", "401", "403", "409", "413", "415", "422", "503"}


async def test_reading_a_concern_documents_every_status_code(services: Services) -> None:
    responses = (await openapi(services))["paths"]["/v1/concerns/{concern_id}"]["get"]["responses"]
    assert set(responses) == {"200", "401", "404", "503"}


async def test_every_error_is_documented_as_a_problem_document(services: Services) -> None:
    paths = (await openapi(services))["paths"]
    for path in ("/v1/concerns", "/v1/concerns/{concern_id}"):
        for operation in paths[path].values():
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert list(response["content"]) == [PROBLEM], (path, code)
                    schema = response["content"][PROBLEM]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (path, code)


async def test_a_malformed_concern_id_answers_404_like_a_missing_one(
    services: Services, token: Any
) -> None:
    response = await services.intake.get(
        "/v1/concerns/not-a-uuid", headers={"Authorization": f"Bearer {token('nm-csc')}"}
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
