"""take_up_concerns() on real PostgreSQL: a batch waiting on a key sees the child it waited for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from services.common.db import async_url
from services.routing import store_children
from services.routing.routing import TakenUp
from tests.conftest import Services
from tests.infrastructure import Infrastructure

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(infrastructure: Infrastructure, services: Services) -> AsyncIterator[AsyncEngine]:
    """An engine on the database routing has migrated (the services fixture runs it)."""
    found = create_async_engine(async_url(infrastructure.database_url), connect_args={"ssl": False})
    yield found
    await found.dispose()


async def test_a_batch_waiting_on_a_key_sees_the_child_made_under_it(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine)
    key, child_id = f"take-up-{uuid4().hex}", uuid4()
    first_event, second_event = uuid4(), uuid4()
    async with sessions() as first, first.begin():
        taken = await store_children.take_up(first, [first_event], [key])
        assert taken.fresh == {first_event}
        assert taken.known == {}
        await first.execute(insert(store_children.children).values(child_id=child_id,
                                                                   created_at=NOW))  # fmt: skip
        await first.execute(insert(store_children.child_keys).values(key=key, child_id=child_id))

        async def second_batch() -> TakenUp:
            async with sessions() as second, second.begin():
                return await store_children.take_up(second, [second_event, first_event], [key])

        waiting = asyncio.create_task(second_batch())
        await asyncio.sleep(0.5)
        assert not waiting.done(), "the second batch did not wait for the key's lock"
    seen = await asyncio.wait_for(waiting, timeout=10)
    # It waited on the lock, then looked: the child committed meanwhile is known to it.
    assert seen.known[key].child_id == child_id
    assert seen.known[key].created_at == NOW
    assert seen.fresh == {second_event}  # the first event was handled by the first batch
