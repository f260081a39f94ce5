"""A request body read under limits: bytes counted as they arrive, time between and overall."""

from __future__ import annotations

import asyncio
import time

from starlette.types import Message, Receive

MAX_BODY_BYTES = 256 * 1024
BODY_TIMEOUT_SECONDS = 30.0
BODY_CHUNK_TIMEOUT_SECONDS = 10.0


class BodyRefused(Exception):
    """The body went over its size or time limit; `status` is what to answer (413 or 408).

    Not an OSError (as TimeoutError is): the 503 handler for an unreachable database catches those.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class GuardedBody:
    """Wraps an ASGI `receive`: refuses a body past `max_bytes`, or too slow to arrive."""

    def __init__(
        self,
        receive: Receive,
        *,
        max_bytes: int,
        timeout: float,
        chunk_timeout: float,
    ) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._chunk_timeout = chunk_timeout
        self._deadline = time.monotonic() + timeout
        self.received = 0
        self.complete = False
        self.refusal: BodyRefused | None = None

    def refuse(self, refusal: BodyRefused) -> BodyRefused:
        """Remember why the body was refused (the app may swallow the exception); return it."""
        self.refusal = refusal
        return refusal

    async def receive(self) -> Message:
        """The next message; limits apply only while the body is still arriving."""
        if self.refusal is not None:
            raise self.refusal
        if self.complete:
            # After the body, receive() only waits for the client to go (SSE streams do this).
            return await self._receive()
        wait = min(self._chunk_timeout, self._deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                message = await self._receive()
        except TimeoutError:
            raise self.refuse(
                BodyRefused(408, "The request body did not arrive in time.")
            ) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._max_bytes:
                raise self.refuse(
                    BodyRefused(413, f"The body must be at most {self._max_bytes} bytes.")
                )
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True
        return message
