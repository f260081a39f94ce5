"""One webhook attempt: Standard Webhooks headers, the secret's format, what an answer means."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from schemas.v1.delivery import DeliveryStatus
from services.delivery import attempts
from services.delivery.deliveries import Delivery
from services.partnership import WebhookDestination

SECRET = "whsec_" + base64.b64encode(b"a signing secret of 32 bytes....").decode()
HOOK = WebhookDestination(id="log", kind="webhook", url="https://log.example/in", secret_env="S")
NOW = datetime.now(UTC)


def a_delivery() -> Delivery:
    from uuid import uuid4

    return Delivery(
        delivery_id=uuid4(), seq=1, event_id=uuid4(), notification_id=uuid4(),
        concern_id=uuid4(), agency="nm-csc", destination="log", kind="webhook",
        body='{"type":"notification.routed","notification":{}}', correlation_id="c",
        status=DeliveryStatus.PENDING, attempts=1, next_attempt_at=NOW,
        window_started_at=NOW, created_at=NOW,
    )  # fmt: skip


def test_headers_verify_with_standard_webhooks_and_the_id_is_the_event_id() -> None:
    delivery = a_delivery()
    # Verification refuses a timestamp over five minutes from now: sign at the test's own now.
    headers = attempts.signed_headers(Webhook(SECRET), delivery, datetime.now(UTC))
    assert headers["webhook-id"] == str(delivery.event_id)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(delivery.body, headers) == {
        "type": "notification.routed", "notification": {}
    }  # fmt: skip


@pytest.mark.parametrize(
    "value", [None, "", "whsec_", "not-prefixed", "whsec_%%%not base64%%%", "c2VjcmV0"]
)
def test_an_unusable_secret_gives_no_signer(value: str | None) -> None:
    environ = {} if value is None else {"S": value}
    assert attempts.signing_key(HOOK, environ) is None


def test_a_secret_in_the_standard_format_signs() -> None:
    assert attempts.signing_key(HOOK, {"S": SECRET}) is not None


async def answer(handler: httpx.MockTransport) -> attempts.AttemptResult:
    async with httpx.AsyncClient(transport=handler, follow_redirects=False) as client:
        return await attempts.post_webhook(
            client, a_delivery(), HOOK, Webhook(SECRET), now=datetime.now(UTC)
        )


async def test_a_redirect_is_not_followed() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "https://elsewhere.example/"})

    result = await answer(httpx.MockTransport(handle))
    assert result.status_code == 302
    assert seen == ["https://log.example/in"]


async def test_the_answer_status_and_retry_after_are_kept() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert (
            Webhook(SECRET).verify(request.content, dict(request.headers), json_parse=False) is None
        )
        return httpx.Response(429, headers={"retry-after": "30"}, text="slow down")

    result = await answer(httpx.MockTransport(handle))
    assert (result.status_code, result.retry_after) == (429, "30")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection"),
        (httpx.RemoteProtocolError("closed"), "connection"),
    ],
)
async def test_no_answer_is_a_timeout_or_a_connection_error(error: Exception, reason: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    assert (await answer(httpx.MockTransport(handle))).error == reason


async def test_without_a_secret_nothing_is_sent() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent unsigned")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        result = await attempts.post_webhook(client, a_delivery(), HOOK, None, now=NOW)
    assert result.error == "secret_missing"


class EndlessBody(httpx.AsyncByteStream):
    """An answer body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.read += 1024
            yield b"x" * 1024


class BrokenBody(httpx.AsyncByteStream):
    """An answer body that breaks off after its first chunk."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"partial"
        raise httpx.ReadError("connection reset")


async def test_a_long_answer_is_read_only_so_far_and_its_status_decides() -> None:
    body = EndlessBody()
    result = await answer(httpx.MockTransport(lambda _: httpx.Response(200, stream=body)))
    assert result.status_code == 200
    assert body.read <= attempts.DRAINED_BYTES + 1024


async def test_an_answer_broken_off_after_its_status_is_still_that_status() -> None:
    result = await answer(httpx.MockTransport(lambda _: httpx.Response(202, stream=BrokenBody())))
    assert result.status_code == 202
    assert result.error is None


async def test_attempts_to_one_receiver_share_a_connection() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\naccepted")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    local = WebhookDestination(id="log", kind="webhook", url=f"http://127.0.0.1:{port}/in",
                               secret_env="S")  # fmt: skip
    async with server, attempts.webhook_client(connect_timeout=2, read_timeout=2) as client:
        results = [
            await attempts.post_webhook(client, a_delivery(), local, Webhook(SECRET), now=NOW)
            for _ in range(3)
        ]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert connections == 1
