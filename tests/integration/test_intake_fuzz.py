"""Whatever body an agency system sends, intake answers 2xx or a problem document, never 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import a_concern_body
from tests.conftest import Services

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PROBLEM = "application/problem+json"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(["", "\x00", "2018-05-14", "9434765919", "NM1 1AA", "given", "neglect"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=20,
)


def paths(body: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(body, dict):
        for key, value in body.items():
            found += paths(value, (*prefix, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated_concerns(draw: st.DrawFn) -> Any:
    """A valid concern body with a few values replaced, removed or added."""
    body = a_concern_body()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(paths(body)))
        *parents, last = path
        holder: Any = body
        for step in parents:
            holder = holder[step]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove" and isinstance(holder, dict):
            holder.pop(last, None)
        elif action == "add" and isinstance(holder, dict):
            holder[draw(st.text(max_size=20))] = draw(json_values)
        else:
            holder[last] = draw(json_values)
    return body


bodies = st.one_of(json_values, mutated_concerns())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def check(services: Services, headers: dict[str, str], body: Any) -> None:
    response = await services.intake.post(
        "/v1/concerns",
        content=json.dumps(body).encode(),
        headers=headers | {"content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, response.text
        assert response.json()["status"] == response.status_code


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(body=bodies)
async def test_any_body_answers_without_a_server_error(
    services: Services, token: Any, body: Any
) -> None:
    await check(services, bearer(token("nm-csc")), body)


@FUZZ
@given(body=mutated_concerns())
async def test_any_mutated_concern_answers_without_a_server_error(
    services: Services, token: Any, body: Any
) -> None:
    await check(services, bearer(token("nm-hospital-ed")), body)
