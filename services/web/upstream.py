"""Calls to intake, routing and audit with the signed-in person's own token, so each is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from services.common.problems import FieldError, Problem

Answer = TypeVar("Answer", bound=BaseModel)


class UpstreamError(Exception):
    """Intake, routing or audit refused or failed a request; `detail` is fit to show a person."""

    def __init__(self, status: int, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.errors = errors


def _problem(response: httpx.Response) -> tuple[str, tuple[FieldError, ...]]:
    # Only a problem document's own words are shown: never a body we cannot read as one.
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        return "", ()
    errors = tuple(problem.errors or ())
    named = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return named or problem.detail or problem.title, errors


class Upstream:
    """HTTP clients for intake, routing and audit, each answer read into its contract model."""

    def __init__(
        self, *, intake_url: str, routing_url: str, audit_url: str, timeout: float
    ) -> None:
        self.timeout = timeout
        limits = httpx.Timeout(timeout)
        self.intake = httpx.AsyncClient(base_url=intake_url, timeout=limits)
        self.routing = httpx.AsyncClient(base_url=routing_url, timeout=limits)
        self.audit = httpx.AsyncClient(base_url=audit_url, timeout=limits)
        # How a person hears of each part: never its address.
        self._names = {
            id(self.intake): "The concerns service",
            id(self.routing): "The notifications service",
            id(self.audit): "The audit service",
        }

    def name(self, client: httpx.AsyncClient) -> str:
        """A part of the system as a person hears of it."""
        return self._names.get(id(client), "A service")

    async def aclose(self) -> None:
        """Close every client."""
        for client in (self.intake, self.routing, self.audit):
            await client.aclose()

    @staticmethod
    def _headers(token: str, correlation_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return headers

    def _unanswered(self, client: httpx.AsyncClient, error: httpx.HTTPError) -> UpstreamError:
        if isinstance(error, httpx.TimeoutException):
            seconds = f"{self.timeout:g}"
            return UpstreamError(504, f"{self.name(client)} did not answer within {seconds} "
                                      "seconds. Try again in a moment.")  # fmt: skip
        return UpstreamError(503, f"{self.name(client)} is not answering just now. "
                                  "Try again in a moment.")  # fmt: skip

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        answer: type[Answer],
        token: str,
        params: Mapping[str, str] | None = None,
        body: BaseModel | None = None,
        correlation_id: str | None = None,
    ) -> Answer:
        """The answer parsed into its contract model, or UpstreamError."""
        headers = self._headers(token, correlation_id)
        content = None
        if body is not None:
            content = body.model_dump_json(exclude_none=True)
            headers["Content-Type"] = "application/json"
        try:
            response = await client.request(
                method, path, params=params, headers=headers, content=content
            )
        except httpx.HTTPError as error:
            raise self._unanswered(client, error) from error
        if response.status_code >= 400:
            detail, errors = _problem(response)
            raise UpstreamError(response.status_code, detail, errors=errors)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as error:
            raise UpstreamError(502, f"{self.name(client)} gave an answer this page cannot "
                                     "read.") from error  # fmt: skip

    async def open_stream(self, *, token: str, last_event_id: str | None) -> httpx.Response:
        """Routing's notification stream, opened (headers read) but not yet consumed."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = self.routing.build_request(
            "GET",
            "/v1/notifications/stream",
            headers=headers,
            timeout=httpx.Timeout(self.timeout, read=None),
        )
        try:
            response = await self.routing.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self._unanswered(self.routing, error) from error
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            detail, errors = _problem(response)
            raise UpstreamError(response.status_code, detail, errors=errors)
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
