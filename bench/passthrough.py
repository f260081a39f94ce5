"""The raw pass-through in its own process, as a service runs: consume -> fan out -> produce.

`python -m bench.passthrough SERVERS SOURCE PARTITIONS SINK FAN_OUT OUT_SIZE` reads SOURCE from
its end (every partition assigned, offsets committed per batch under a group, as the services
do), forwards each record `FAN_OUT` times on average (at least once) at OUT_SIZE bytes, keyed
as it came, through an idempotent acks=all producer, and notes when each record's forwards were
acknowledged. It prints `ready` once its positions are pinned; each `report` line on stdin is
answered with one JSON object of the records done since the last report, key -> epoch seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


def forwards(owed: float, fan_out: float) -> tuple[int, float]:
    """How many records to forward for the next one consumed (at least one), and what is owed."""
    owed += fan_out
    count = max(1, int(owed))
    return count, owed - count


async def forward(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    sink: str,
    *,
    fan_out: float,
    out_size: int,
    done: dict[str, float],
) -> None:
    """Forward until cancelled, noting each consumed record's acknowledged time in `done`."""
    out, owed = b"y" * out_size, 0.0
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=2000)
        pending: list[asyncio.Future[Any]] = []
        keys: list[bytes] = []
        for records in batches.values():
            for record in records:
                count, owed = forwards(owed, fan_out)
                for _ in range(count):
                    pending.append(await producer.send(sink, out, key=record.key))
                keys.append(record.key or b"")
        if pending:
            await asyncio.gather(*pending)
            await consumer.commit()
            now = time.time()
            for key in keys:
                done[key.decode()] = now


async def main(servers: str, source: str, partitions: int, sink: str, fan_out: float,
               out_size: int) -> None:  # fmt: skip
    """Run the pass-through, answering `report` on stdin, until stdin closes."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, group_id=f"{source}.group", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=2
    )
    await consumer.start()
    await producer.start()
    try:
        assigned = [TopicPartition(source, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for partition in assigned:
            await consumer.position(partition)
        done: dict[str, float] = {}
        forwarding = asyncio.create_task(
            forward(consumer, producer, sink, fan_out=fan_out, out_size=out_size, done=done)
        )
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print("ready", flush=True)
        while line := await reader.readline():
            if forwarding.done():
                forwarding.result()
            if line.strip() == b"report":
                print(json.dumps(done), flush=True)
                done.clear()
        forwarding.cancel()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    servers, source, partitions, sink, fan_out, out_size = sys.argv[1:7]
    asyncio.run(main(servers, source, int(partitions), sink, float(fan_out), int(out_size)))
