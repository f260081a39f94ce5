"""Consumer offsets committed behind the handler, so a batch handler never waits on Kafka for one.

FastStream acknowledges a handled batch by committing the consumer's offsets and waiting for the
broker's answer before it fetches the next batch: 6.5 ms of every routing batch at 100/s, in
which the handler could have begun the next. Here the commit goes out in the background once
the handler has succeeded, one commit in flight per consumer, later batches' offsets joined into
the next one. Nothing is committed before its batch is handled, so a crash still only redelivers:
what was handled since the last commit that landed comes again, and every handler is safe to run
twice (its processed events). A failed batch is not touched: FastStream seeks back as before.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import BaseMiddleware
from faststream.message import AckStatus

log = structlog.get_logger()


class OffsetCommitter:
    """The offsets one consumer has handled, committed in the background, one commit at a time."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._handled: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None

    def handled(self, records: tuple[Any, ...]) -> None:
        """These records are handled: commit past them (soon, not now)."""
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            self._handled[partition] = max(self._handled.get(partition, 0), record.offset + 1)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit())

    async def _commit(self) -> None:
        while self._handled:
            offsets, self._handled = self._handled, {}
            try:
                await self._consumer.commit(offsets)
            except Exception as error:
                # A rebalance took the partitions, or Kafka is away: the next batch's commit
                # carries these offsets too (unless a newer one is there), else a restart
                # redelivers from the last commit that landed.
                log.warning("kafka.commit_failed", error=type(error).__name__)
                for partition, offset in offsets.items():
                    self._handled.setdefault(partition, offset)
                return


_committers: weakref.WeakKeyDictionary[Any, OffsetCommitter] = weakref.WeakKeyDictionary()


def commit_behind(message: Any) -> bool:
    """Commit a handled message's offsets in the background and mark it acknowledged; whether
    it was (a message without its own commit, or from another kind of consumer, is left be)."""
    consumer = getattr(message, "consumer", None)
    if message.committed is not None or not isinstance(consumer, AIOKafkaConsumer):
        return False
    records = (
        message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
    )
    committer = _committers.get(consumer)
    if committer is None:
        committer = _committers[consumer] = OffsetCommitter(consumer)
    committer.handled(records)
    message.committed = AckStatus.ACKED
    return True


class CommitBehind(BaseMiddleware):
    """Once a message is handled, commit its offsets in the background (see the module's doc)."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        """Run the handler; on success, commit behind it."""
        result = await call_next(msg)
        commit_behind(msg)
        return result
