"""How a service's HTTP server runs: uvicorn, with slow or oversized request headers cut off."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.settings import HttpSettings

_REFUSALS = {
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
}


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request's headers.

    uvicorn has neither for httptools: a client that trickles a header line a byte at a time,
    or connects and sends nothing, would hold its connection for ever.
    """

    header_timeout: float = 10.0
    max_header_bytes: int = 32 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._await_headers()

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._refuse, 408)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, status: int) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        body = b'{"title":"Request headers refused","status":%d}' % status
        self.transport.write(
            _REFUSALS[status]
            + b"content-type: application/problem+json\r\nconnection: close\r\n"
            + b"content-length: %d\r\n\r\n" % len(body)
            + body
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; refuse headers that grow past the limit unfinished."""
        super().data_received(data)
        if self._header_timer is not None:
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._stop_header_timer()
                self._refuse(431)

    def on_headers_complete(self) -> None:
        """The headers arrived in time: the body's own limits take over (RequestPlumbing)."""
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Start the clock again for the next request on this connection."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._stop_header_timer()
        super().connection_lost(exc)


def server_options(settings: HttpSettings | None) -> dict[str, Any]:
    """uvicorn's options for a service: timeouts, connection and header limits."""
    settings = settings or HttpSettings()
    protocol = type(
        "ServiceHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "header_timeout": settings.http_header_timeout_seconds,
            "max_header_bytes": settings.http_max_header_bytes,
        },
    )
    return {
        "http": protocol,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "log_config": None,
        "access_log": False,
    }


def server_config(
    app: Any, *, host: str, port: int, settings: HttpSettings | None
) -> uvicorn.Config:
    """The uvicorn configuration that runs a service's app on host:port."""
    return uvicorn.Config(app, host=host, port=port, **server_options(settings))
