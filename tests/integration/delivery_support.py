"""For delivery's integration tests: a real webhook receiver on loopback, and routed events."""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from schemas.v1 import NotificationRouted, Topic
from tests.infrastructure import free_port

# (path, how many times this webhook-id has come to this path, webhook-id) -> HTTP status
Behaviour = Callable[[str, int, str], Awaitable[int]]


def a_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def always_204(path: str, attempt: int, webhook_id: str) -> int:
    """A receiver that takes everything."""
    return 204


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that verifies every signature and records what it accepted.

    Like a careful receiver, each path (one destination) keeps one record per webhook-id,
    however often one comes.
    """

    secret: str
    behaviour: Behaviour = always_204
    port: int = field(default_factory=free_port)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted_at: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    forged: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        """The webhook URL of one path of this receiver."""
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.forged += 1
            return web.Response(status=400)
        path = request.match_info["path"]
        webhook_id = request.headers["webhook-id"]
        self.requests[(path, webhook_id)] += 1
        status = await self.behaviour(path, self.requests[(path, webhook_id)], webhook_id)
        if 200 <= status < 300 and webhook_id not in self.accepted_at[path]:
            self.accepted[webhook_id] = payload
            self.accepted_at[path].append(webhook_id)
        return web.Response(status=status)

    async def start(self) -> None:
        """Listen on the receiver's port."""
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening: from now on a connection is refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ids_at(self, path: str) -> set[str]:
        """The webhook-ids accepted at one path."""
        return set(self.accepted_at[path])


async def publish_routed(bootstrap_servers: str, events: Sequence[NotificationRouted]) -> None:
    """Put routed notifications on notifications.routed, as routing's relay does."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                Topic.NOTIFICATIONS_ROUTED.value,
                event.model_dump_json().encode(),
                key=str(event.payload.notification_id).encode(),
                headers=[("event-type", b"notification.routed")],
            )
    finally:
        await producer.stop()


async def close_within(stack: AsyncExitStack, seconds: float) -> None:
    """Close `stack` (an app's lifespan, clients); if that hangs, show every task and fail."""
    closing = asyncio.ensure_future(stack.aclose())
    done, _ = await asyncio.wait({closing}, timeout=seconds)
    if not done:
        for task in asyncio.all_tasks():
            print(f"--- {task.get_name()}", file=sys.stderr)
            task.print_stack(limit=40, file=sys.stderr)
        raise AssertionError(f"shutting the delivery service down took over {seconds:.0f} s")
    closing.result()
