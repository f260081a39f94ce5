"""The body limit counts bytes as they arrive and times them; the answer is problem+json."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message

from services.common.http import install_middleware
from services.common.http_body import BodyRefused, GuardedBody


def a_receive(chunks: list[bytes], *, pause: float = 0.0):  # type: ignore[no-untyped-def]
    """An ASGI receive giving these chunks, `pause` seconds apart, then waiting forever."""
    remaining: Iterator[bytes] = iter(chunks)
    left = len(chunks)

    async def receive() -> Message:
        nonlocal left
        await asyncio.sleep(pause)
        chunk = next(remaining, None)
        if chunk is None:
            await asyncio.Event().wait()
        left -= 1
        return {"type": "http.request", "body": chunk, "more_body": left > 0}

    return receive


async def read_all(body: GuardedBody) -> int:
    while not body.complete:
        await body.receive()
    return body.received


async def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    body = GuardedBody(a_receive([b"x" * 600] * 3), max_bytes=1000, timeout=5, chunk_timeout=5)
    with pytest.raises(BodyRefused) as refused:
        await read_all(body)
    assert (refused.value.status, body.received) == (413, 1200)


async def test_a_body_within_the_limit_passes_whole() -> None:
    body = GuardedBody(a_receive([b"x" * 400] * 2), max_bytes=1000, timeout=5, chunk_timeout=5)
    assert await read_all(body) == 800


async def test_a_body_that_stalls_between_chunks_is_refused_with_408() -> None:
    body = GuardedBody(a_receive([b"{", b"}"], pause=0.3), max_bytes=1000, timeout=5,
                       chunk_timeout=0.1)  # fmt: skip
    with pytest.raises(BodyRefused) as refused:
        await read_all(body)
    assert refused.value.status == 408


async def test_a_body_that_trickles_past_the_whole_deadline_is_refused_with_408() -> None:
    body = GuardedBody(a_receive([b"x"] * 20, pause=0.05), max_bytes=1000, timeout=0.3,
                       chunk_timeout=1)  # fmt: skip
    with pytest.raises(BodyRefused) as refused:
        await read_all(body)
    assert refused.value.status == 408
    assert body.received < 20


async def test_after_the_body_receive_waits_for_the_client_without_a_deadline() -> None:
    body = GuardedBody(a_receive([b"{}"]), max_bytes=1000, timeout=0.05, chunk_timeout=0.05)
    await read_all(body)
    with pytest.raises(TimeoutError):  # ours, not a refusal: nothing more arrives
        await asyncio.wait_for(body.receive(), timeout=0.2)


def an_app() -> FastAPI:
    app = FastAPI()
    install_middleware(app, service="test", max_body=1000)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


async def test_an_oversized_streamed_body_answers_413_problem_json_not_400() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 500

    transport = httpx.ASGITransport(app=an_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/echo", content=chunks())
        accepted = await client.post("/echo", content=b"x" * 900)
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["connection"] == "close"
    assert refused.json()["status"] == 413
    assert accepted.json() == {"bytes": 900}
