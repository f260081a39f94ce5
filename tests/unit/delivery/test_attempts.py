"""One webhook attempt: Standard Webhooks headers, the secret's format, what an answer means.

The answers come from a real server on loopback, written byte by byte where an answer has to
misbehave.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


def hook_at(address: tuple[str, int]) -> WebhookDestination:
    """The webhook destination at this host and port, path /in."""
    host, port = address
    return WebhookDestination(id="log", kind="webhook", url=f"http://{host}:{port}/in",
                              secret_env="S")  # fmt: skip


@dataclass
class Request:
    """One request as the receiver read it."""

    target: str
    headers: dict[str, str]
    body: bytes


# Given the request read, writes the answer (or misbehaves) on the connection's writer.
Answerer = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers each request through `answerer`."""

    answerer: Answerer
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    def destination(self) -> WebhookDestination:
        return hook_at(("127.0.0.1", self.port))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in head[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(head[0].split(" ")[1], headers, body)
                self.requests.append(request)
                await self.answerer(request, writer)
                if writer.is_closing():
                    return
        writer.close()


@contextlib.asynccontextmanager
async def receiving(answerer: Answerer) -> AsyncIterator[Receiver]:
    receiver = Receiver(answerer)
    server = await asyncio.start_server(receiver._serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


def answering(status: int, *headers: str, body: bytes = b"") -> Answerer:
    """An answerer that answers every request with this status, headers and body."""

    async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} Whatever", *headers, f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()

    return answer


async def attempts_at(
    destination: WebhookDestination,
    count: int = 1,
    *,
    signed: bool = True,
    read_timeout: float = 2,
) -> list[attempts.AttemptResult]:
    """`count` attempts at the destination in turn, through one client."""
    signer = Webhook(SECRET) if signed else None
    async with attempts.webhook_client(connect_timeout=0.5, read_timeout=read_timeout) as client:
        return [
            await attempts.post_webhook(
                client, a_delivery(), destination, signer, now=datetime.now(UTC)
            )
            for _ in range(count)
        ]


async def attempt(
    destination: WebhookDestination, *, read_timeout: float = 2
) -> attempts.AttemptResult:
    """One signed attempt at the destination."""
    (result,) = await attempts_at(destination, read_timeout=read_timeout)
    return result


async def test_a_redirect_is_not_followed() -> None:
    async with receiving(answering(302, "Location: /elsewhere")) as receiver:
        result = await attempt(receiver.destination())
    assert result.status_code == 302
    assert [r.target for r in receiver.requests] == ["/in"]


async def test_the_answer_status_and_retry_after_are_kept() -> None:
    answer = answering(429, "Retry-After: 30", body=b"slow down")
    async with receiving(answer) as receiver:
        result = await attempt(receiver.destination())
    assert (result.status_code, result.retry_after) == (429, "30")
    (request,) = receiver.requests
    assert Webhook(SECRET).verify(request.body, request.headers, json_parse=False) is None
    assert request.headers["user-agent"] == attempts.USER_AGENT
    assert request.headers["content-type"] == "application/json"


async def test_an_answer_that_never_comes_is_a_timeout() -> None:
    async def never(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with receiving(never) as receiver:
        assert (await attempt(receiver.destination(), read_timeout=0.2)).error == "timeout"


async def test_a_connection_that_is_never_accepted_is_a_timeout() -> None:
    # A listener whose one-place queue is taken: the kernel drops the next SYN, unanswered.
    with socket.socket() as listener, socket.socket() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        queued.connect(listener.getsockname())
        assert (await attempt(hook_at(listener.getsockname()))).error == "timeout"


async def test_nobody_listening_is_a_connection_error() -> None:
    with socket.socket() as bound:  # bound, never listening: the connection is refused
        bound.bind(("127.0.0.1", 0))
        assert (await attempt(hook_at(bound.getsockname()))).error == "connection"


async def test_a_connection_closed_without_an_answer_is_a_connection_error() -> None:
    async def hang_up(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with receiving(hang_up) as receiver:
        assert (await attempt(receiver.destination())).error == "connection"


async def test_without_a_secret_nothing_is_sent() -> None:
    async with receiving(answering(204)) as receiver:
        (result,) = await attempts_at(receiver.destination(), signed=False)
    assert result.error == "secret_missing"
    assert receiver.connections == 0


async def test_a_long_answer_is_read_only_so_far_its_status_decides_and_its_connection_goes() -> (
    None
):
    written = 0

    async def endless(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        if len(receiver.requests) > 1:  # only the first answer is endless
            await answering(204)(request, writer)
            return
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            while written < 64 * 1024 * 1024:
                writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                written += 1024
                await writer.drain()
        writer.close()

    async with receiving(endless) as receiver:
        first, second = await attempts_at(receiver.destination(), 2)
    assert (first.status_code, first.error) == (200, None)
    assert second.status_code == 204
    # The long answer's connection was closed long before its end, not left for the next one.
    assert written < 64 * 1024 * 1024
    assert receiver.connections == 2


async def test_an_answer_broken_off_after_its_status_is_still_that_status() -> None:
    async def broken(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 1000\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async with receiving(broken) as receiver:
        result = await attempt(receiver.destination())
    assert (result.status_code, result.error) == (202, None)


async def test_an_answer_whose_body_dribbles_is_given_up_on_with_its_status() -> None:
    async def dribble(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)

    async with receiving(dribble) as receiver:
        # Read timeout above the whole body's ten seconds: the drain's own second ends it.
        result = await attempt(receiver.destination(), read_timeout=20)
    assert (result.status_code, result.error) == (200, None)


async def test_attempts_to_one_receiver_share_a_connection() -> None:
    async with receiving(answering(200, body=b"accepted")) as receiver:
        results = await attempts_at(receiver.destination(), 3)
    assert [r.status_code for r in results] == [200, 200, 200]
    assert receiver.connections == 1
