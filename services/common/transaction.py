"""Pure: what every service's unit of work is, whatever repositories it carries."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class Transaction(Protocol):
    """One transaction: entered with `async with`, committed once, otherwise rolled back on exit."""

    async def __aenter__(self) -> Self:
        """Begin it."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End it; whatever was not committed is dropped."""

    async def commit(self) -> None:
        """Keep everything done in it."""
