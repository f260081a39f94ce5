"""Bounded input over a real socket: huge chunked bodies and slow clients are cut off in time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import uvicorn

from services.common.http_server import server_config
from tests.infrastructure import free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

LIMITS = {
    "http_header_timeout_seconds": 2.0,
    "http_body_timeout_seconds": 3.0,
    "http_body_chunk_timeout_seconds": 1.5,
}
BOUND = 20.0  # seconds within which every refusal must have happened


@pytest_asyncio.fixture(loop_scope="session")
async def intake_url(service_environment: dict[str, str]) -> AsyncIterator[str]:
    """Intake under uvicorn on a free port, as `safeguard run intake` runs it."""
    from services.intake.app import build_app
    from services.intake.settings import IntakeSettings

    settings = IntakeSettings(**service_environment, **LIMITS)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(
        server_config(build_app(settings), host="127.0.0.1", port=port, settings=settings)
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 120
    while not server.started:
        assert not serving.done(), "intake did not start"
        assert time.monotonic() < deadline, "intake did not start within 120 s"
        await asyncio.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)


async def answer(reader: asyncio.StreamReader) -> bytes:
    """Whatever the server sends until it closes the connection (b'' if it just closes)."""
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def status_of(response: bytes) -> int | None:
    """The status code of a raw HTTP response, None if the connection was closed unanswered."""
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(url.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port)


async def still_healthy(url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{url}/healthz")).json() == {"status": "ok"}


async def test_a_50_mb_chunked_body_is_refused_as_it_arrives(intake_url: str) -> None:
    reader, writer = await connect(intake_url)
    writer.write(
        b"POST /v1/concerns HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)

    async def send_50_mb() -> int:
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < 50 * 1024 * 1024:
                writer.write(chunk)
                await writer.drain()
                sent += 64 * 1024
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return sent

    started = time.monotonic()
    sending = asyncio.create_task(send_50_mb())
    response = await asyncio.wait_for(answer(reader), timeout=BOUND)
    sent = await asyncio.wait_for(sending, timeout=BOUND)
    writer.close()
    assert time.monotonic() - started < BOUND
    assert status_of(response) in (413, None), response[:200]
    if status_of(response) == 413:
        assert b"application/problem+json" in response
    assert sent < 50 * 1024 * 1024, "the server read the whole 50 MB"
    await still_healthy(intake_url)


async def trickle(writer: asyncio.StreamWriter, data: bytes, *, per_second: int) -> None:
    """Send `data` a few bytes a second, as a slow (or malicious) client does."""
    with contextlib.suppress(ConnectionError):
        for start in range(0, len(data), per_second):
            writer.write(data[start : start + per_second])
            await writer.drain()
            await asyncio.sleep(1.0)


@pytest.mark.parametrize(
    ("what", "head", "slow"),
    [
        ("headers", b"", b"POST /v1/concerns HTTP/1.1\r\nHost: intake\r\nX-Padding: " + b"y" * 200),
        (
            "body",
            b"POST /v1/concerns HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000\r\n\r\n",
            b"{" + b" " * 3999,
        ),
    ],
)
async def test_a_slow_trickle_is_cut_off_with_408_or_a_closed_connection(
    intake_url: str, what: str, head: bytes, slow: bytes
) -> None:
    reader, writer = await connect(intake_url)
    writer.write(head)
    started = time.monotonic()
    sending = asyncio.create_task(trickle(writer, slow, per_second=3))
    try:
        response = await asyncio.wait_for(answer(reader), timeout=BOUND)
    finally:
        sending.cancel()
        writer.close()
    assert time.monotonic() - started < BOUND, what
    assert status_of(response) in (408, None), response[:200]
    await still_healthy(intake_url)


async def test_a_client_that_connects_and_sends_nothing_is_disconnected(intake_url: str) -> None:
    reader, writer = await connect(intake_url)
    started = time.monotonic()
    response = await asyncio.wait_for(answer(reader), timeout=BOUND)
    writer.close()
    assert time.monotonic() - started < BOUND
    assert status_of(response) in (408, None)


async def test_a_content_length_over_the_limit_is_refused_before_the_body(intake_url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            f"{intake_url}/v1/concerns",
            content=b"x" * (300 * 1024),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    await still_healthy(intake_url)
