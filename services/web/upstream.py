"""Calls to routing and audit with the signed-in person's own token, so each is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from services.common.problems import Problem

Answer = TypeVar("Answer", bound=BaseModel)


class UpstreamError(Exception):
    """Routing or audit refused or failed a request."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        return response.text[:200]
    named = "; ".join(f"{e.field}: {e.message}" for e in problem.errors or [])
    return named or problem.detail or problem.title


class Upstream:
    """HTTP clients for routing and audit."""

    def __init__(self, routing_url: str, audit_url: str) -> None:
        timeout = httpx.Timeout(15.0)
        self.routing = httpx.AsyncClient(base_url=routing_url, timeout=timeout)
        self.audit = httpx.AsyncClient(base_url=audit_url, timeout=timeout)

    async def aclose(self) -> None:
        """Close both clients."""
        await self.routing.aclose()
        await self.audit.aclose()

    @staticmethod
    def _headers(token: str, correlation_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return headers

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        answer: type[Answer],
        token: str,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Answer:
        """The answer parsed into its contract model, or UpstreamError."""
        try:
            response = await client.request(
                method, path, params=params, headers=self._headers(token, correlation_id)
            )
        except httpx.HTTPError as error:
            raise UpstreamError(503, f"{client.base_url} did not answer.") from error
        if response.status_code >= 400:
            raise UpstreamError(response.status_code, _detail(response))
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as error:
            raise UpstreamError(502, f"{client.base_url} answered outside the contract.") from error

    async def open_stream(self, *, token: str, last_event_id: str | None) -> httpx.Response:
        """Routing's notification stream, opened (headers read) but not yet consumed."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = self.routing.build_request(
            "GET",
            "/v1/notifications/stream",
            headers=headers,
            timeout=httpx.Timeout(15.0, read=None),
        )
        try:
            response = await self.routing.send(request, stream=True)
        except httpx.HTTPError as error:
            raise UpstreamError(503, "Routing did not answer.") from error
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            raise UpstreamError(response.status_code, _detail(response))
        return response


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: its name and id, if given, and its data lines joined."""

    data: str
    event: str | None = None
    id: str | None = None


async def server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """Parse an event stream into events (comments skipped)."""
    event: dict[str, str] = {}
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield StreamEvent("\n".join(data), event.get("event"), event.get("id"))
            event, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("event", "id"):
            event[name] = value
