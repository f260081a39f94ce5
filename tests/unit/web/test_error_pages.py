"""Errors as pages: a bad id, an expired session, a silent upstream, a refused decision code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from services.common.auth import Role, mint_token
from services.common.keys import public_key_path
from services.web.app import build_app
from services.web.session import COOKIE, csrf_token
from services.web.settings import WebSettings
from tests.builders import RECEIVED
from tests.conftest import AUDIENCE, ISSUER

pytestmark = pytest.mark.asyncio
NOTIFICATION = uuid4()


def web_app(signing_key_path: Path, **settings: Any) -> FastAPI:
    return build_app(WebSettings(jwt_public_key_path=public_key_path(signing_key_path),
                                 jwt_signing_key_path=signing_key_path, **settings))  # fmt: skip


def a_caseworker(
    signing_key: Ed25519PrivateKey, *, lifetime: timedelta = timedelta(hours=1)
) -> str:
    return mint_token(signing_key, agency="nm-csc", role=Role.CASEWORKER, subject="Casey",
                      issuer=ISSUER, audience=AUDIENCE, lifetime=lifetime)  # fmt: skip


def browser(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    cookies = {COOKIE: token} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test",
                             cookies=cookies)  # fmt: skip


def routing_answers(app: FastAPI, handler: Callable[[httpx.Request], httpx.Response]) -> None:
    """Routing replaced by a fake that answers as the handler says."""
    upstream = app.state.web.upstream
    upstream.routing = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://routing.internal:8002"
    )


def a_notification_answer() -> dict[str, Any]:
    return {
        "notification_id": str(NOTIFICATION), "concern_id": str(uuid4()), "kind": "concern",
        "status": "acknowledged", "category": "neglect", "severity": "high",
        "source_agency": "nm-hospital-ed", "received_at": RECEIVED.isoformat(),
        "reasons": ["home-area-social-care"], "policy_version": "2026.11.1",
        "acknowledge_by": (RECEIVED + timedelta(hours=1)).isoformat(),
        "decide_by": (RECEIVED + timedelta(days=1)).isoformat(),
        "concern": {"summary": "Hungry at school."}, "disclosed_fields": ["summary"],
        "decision_codes": [{"code": "early_help", "label": "Early help"}],
    }  # fmt: skip


async def test_a_malformed_or_unknown_id_is_a_not_found_page_that_keeps_the_navigation(
    signing_key_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    app = web_app(signing_key_path)
    routing_answers(app, lambda request: httpx.Response(
        404, json={"title": "Not found", "status": 404, "detail": "No such notification."},
        headers={"content-type": "application/problem+json"}))  # fmt: skip
    async with browser(app, a_caseworker(signing_key)) as client:
        for path in ("/inbox/not-an-id", f"/inbox/{uuid4()}"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            assert "There is no such notification for your agency." in answer.text
            assert 'href="/inbox"' in answer.text
            assert "Sign out" in answer.text
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert "There is no such page." in missing.text


async def test_an_expired_session_says_so_and_returns_to_the_page_after_signing_in(
    signing_key_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    app = web_app(signing_key_path)
    expired = a_caseworker(signing_key, lifetime=timedelta(seconds=-60))
    async with browser(app, expired) as client:
        answer = await client.get(f"/inbox/{NOTIFICATION}?decided=1")
        assert answer.status_code == 303
        target = urlsplit(answer.headers["location"])
        query = parse_qs(target.query)
        assert target.path == "/login"
        assert query == {"next": [f"/inbox/{NOTIFICATION}?decided=1"], "expired": ["1"]}
        login = await client.get(answer.headers["location"])
        assert "Your session has expired" in login.text
        assert f'name="next" value="/inbox/{NOTIFICATION}?decided=1"' in login.text
        form = {"name": "Casey", "agency": "nm-csc", "role": "caseworker"}
        back = await client.post("/login", data={**form, "next": f"/inbox/{NOTIFICATION}"})
        assert back.headers["location"] == f"/inbox/{NOTIFICATION}"
        elsewhere = await client.post("/login", data={**form, "next": "//evil.example/x"})
        assert elsewhere.headers["location"] == "/"


@pytest_asyncio.fixture
async def silent_upstream() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


async def test_an_upstream_that_does_not_answer_in_time_is_a_plain_message(
    signing_key_path: Path, signing_key: Ed25519PrivateKey, silent_upstream: str
) -> None:
    app = web_app(signing_key_path, routing_url=silent_upstream, upstream_timeout=0.3)
    async with browser(app, a_caseworker(signing_key)) as client:
        answer = await client.get("/inbox")
    assert answer.status_code == 504
    assert "did not answer within 0.3 seconds" in answer.text
    assert "127.0.0.1" not in answer.text
    assert silent_upstream not in answer.text
    assert 'href="/inbox"' in answer.text


async def test_an_answer_outside_the_contract_is_never_shown_raw(
    signing_key_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    app = web_app(signing_key_path)
    routing_answers(app, lambda request: httpx.Response(500, json={"internal": "secret-dsn"}))
    async with browser(app, a_caseworker(signing_key)) as client:
        answer = await client.get(f"/inbox/{NOTIFICATION}")
    assert answer.status_code == 502
    assert "secret-dsn" not in answer.text
    assert "routing.internal" not in answer.text
    assert "Something went wrong" in answer.text


async def test_a_decision_code_routing_refuses_shows_the_field_error_on_the_form(
    signing_key_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    app = web_app(signing_key_path)
    sent: list[bytes] = []

    def routing(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            sent.append(request.content)
            refused = {"field": "decision", "message": "Use one of: early_help"}
            problem = {"title": "Invalid request", "status": 422, "errors": [refused]}
            return httpx.Response(422, json=problem,
                                  headers={"content-type": "application/problem+json"})  # fmt: skip
        return httpx.Response(200, json=a_notification_answer())

    routing_answers(app, routing)
    token = a_caseworker(signing_key)
    async with browser(app, token) as client:
        answer = await client.post(
            f"/inbox/{NOTIFICATION}/decision",
            data={"csrf": csrf_token(token), "decision": "made_up", "rationale": "Because."},
        )
    assert answer.status_code == 422
    assert sent == [b'{"decision":"made_up","rationale":"Because."}']
    assert 'id="decision-error"' in answer.text
    assert 'aria-invalid="true" aria-describedby="decision-error"' in answer.text
    assert "Choose one of the decisions in the list" in answer.text
    assert ">Because.</textarea>" in answer.text


async def test_a_colleagues_name_that_cannot_be_one_shows_the_field_error(
    signing_key_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    app = web_app(signing_key_path)
    posted: list[httpx.Request] = []

    def routing(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posted.append(request)
        return httpx.Response(200, json=a_notification_answer())

    routing_answers(app, routing)
    token = a_caseworker(signing_key)
    async with browser(app, token) as client:
        answer = await client.post(f"/inbox/{NOTIFICATION}/assign",
                                   data={"csrf": csrf_token(token), "assignee": "   "})  # fmt: skip
    assert answer.status_code == 422
    assert posted == []
    assert 'id="assignee-error"' in answer.text
    assert "Enter your colleague&#39;s name" in answer.text
