"""bench.servers: each server it compares really serves the validating endpoint."""

from __future__ import annotations

import httpx
import pytest

from bench.load import concern_bodies
from bench.servers import Server, serving


@pytest.mark.parametrize("name", ["uvicorn", "granian"])
async def test_each_server_accepts_a_valid_concern_and_names_the_field_of_a_bad_one(
    name: str,
) -> None:
    async with serving(Server(name, 1)) as (url, _), httpx.AsyncClient(timeout=10) as client:
        body = concern_bodies(1)[0]
        accepted = await client.post(f"{url}/v1/concerns", json=body)
        refused = await client.post(f"{url}/v1/concerns", json={**body, "severity": "dire"})
    assert accepted.status_code == 202
    assert refused.status_code == 422
    assert "severity" in refused.text
