"""Alembic environment shared by every service; each keeps its own versions and schema."""

from __future__ import annotations

import asyncio
import zlib

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
schema: str = config.attributes["schema"]


def _run(connection: Connection) -> None:
    # Two processes of one service may start together: one migrates, the other waits.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": zlib.crc32(schema.encode())})
    try:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=config.attributes["metadata"],
            version_table_schema=schema,
            include_schemas=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": zlib.crc32(schema.encode())}
        )
        connection.commit()


async def _main() -> None:
    engine = create_async_engine(config.attributes["url"])
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


asyncio.run(_main())
