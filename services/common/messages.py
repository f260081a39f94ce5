"""Pure: an event on its way to a topic (what a decision returns and the outbox stores)."""

from __future__ import annotations

from typing import NamedTuple

from schemas.v1 import Envelope, Topic


class OutboxMessage(NamedTuple):
    """An event to publish, the topic it goes to, and its partition key."""

    event: Envelope
    topic: Topic
    key: str | None
