"""Handler parameters from FastStream's context, resolved on the event loop; gathering fetches."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.common.kafka import IDLE_POLL_MS, ConsumedMessage, FromContext
from services.common.poison_runtime import GATHER_BYTES, guarded_batches


async def test_context_values_and_the_message_reach_the_handler_without_a_worker_thread() -> None:
    broker = KafkaBroker()
    broker.context.set_global("runtime", {"name": "routing"})
    seen: list[tuple[Any, bytes, str]] = []

    @broker.subscriber("t", group_id="g")
    async def handler(
        body: dict[str, int],
        message: ConsumedMessage,
        runtime: Annotated[dict[str, str], FromContext("runtime")],
    ) -> None:
        seen.append((runtime["name"], message.body, threading.current_thread().name))

    threads_before = threading.active_count()
    async with TestKafkaBroker(broker) as test_broker:
        for n in range(3):
            await test_broker.publish({"n": n}, "t")

    assert [(name, body) for name, body, _ in seen] == [
        ("routing", b'{"n":0}'),
        ("routing", b'{"n":1}'),
        ("routing", b'{"n":2}'),
    ]
    # FastStream's own Context would have started anyio's worker threads to resolve each value.
    assert threading.active_count() == threads_before


async def test_a_context_value_that_is_not_there_fails_the_message_by_name() -> None:
    broker = KafkaBroker()

    @broker.subscriber("t", group_id="g")
    async def handler(
        body: dict[str, int], runtime: Annotated[Any, FromContext("runtime")]
    ) -> None:
        raise AssertionError("not reached")

    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(Exception, match="runtime"):
            await test_broker.publish({"n": 1}, "t")


def fetch_settings(subscriber: Any) -> dict[str, Any]:
    """The settings FastStream 0.7 starts this subscriber's aiokafka consumer with."""
    return dict(subscriber._connection_args)


@pytest.mark.parametrize(
    ("gather_ms", "wait_ms", "min_bytes"), [(0, IDLE_POLL_MS, 1), (200, 200, GATHER_BYTES)]
)
def test_a_gathering_subscriber_lets_the_broker_hold_its_fetch(
    gather_ms: int, wait_ms: int, min_bytes: int
) -> None:
    subscriber = guarded_batches(
        KafkaBroker(), "t", group_id="g", max_records=10, gather_ms=gather_ms
    )
    settings = fetch_settings(subscriber)
    assert (settings["fetch_max_wait_ms"], settings["fetch_min_bytes"]) == (wait_ms, min_bytes)
