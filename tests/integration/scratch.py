"""Scratch space for mechanism tests: a Kafka topic and a PostgreSQL schema of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.db import async_url
from tests.infrastructure import Infrastructure


async def new_topic(infrastructure: Infrastructure, prefix: str) -> str:
    """A new single-partition topic, named `<prefix>-<random>`."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


@asynccontextmanager
async def schema_of_its_own(
    infrastructure: Infrastructure, metadata: MetaData
) -> AsyncIterator[AsyncEngine]:
    """An engine on a database where metadata's tables exist in its schema, dropped after."""
    engine = create_async_engine(
        async_url(infrastructure.database_url), connect_args={"ssl": False}
    )
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {metadata.schema}"))
        await connection.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {metadata.schema} CASCADE"))
        await engine.dispose()


def schema_name(prefix: str) -> str:
    """A new schema name, `<prefix>_<random>`."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
