"""Deferred inserts on real PostgreSQL: sent as one statement, before any other, or dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Identity,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.common.db import unnested_insert, unnested_parameters
from services.common.deferred import defer
from tests.infrastructure import Infrastructure
from tests.integration.scratch import schema_name, schema_of_its_own

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def tables(infrastructure: Infrastructure) -> AsyncIterator[tuple[AsyncEngine, Table, Table]]:
    """A parent and a child table (with a foreign key) in a schema of their own."""
    schema = schema_name("deferred")
    metadata = MetaData(schema=schema)
    parents = Table("parents", metadata, Column("name", String, primary_key=True))
    children = Table(
        "children",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("parent", String, ForeignKey(f"{schema}.parents.name"), nullable=False),
    )
    async with schema_of_its_own(infrastructure, metadata) as engine:
        yield engine, parents, children


def _inserts(parents: Table, children: Table) -> tuple[Any, Any]:
    return (
        unnested_insert(parents, ["name"], prefix="p"),
        unnested_insert(children, ["parent"], prefix="c"),
    )


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL of each statement the engine sends meanwhile."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_deferred_inserts_go_as_one_statement_at_the_commit(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, parents, children = tables
    add_parents, add_children = _inserts(parents, children)
    sessions = async_sessionmaker(engine)
    with _statements(engine) as sent:
        async with sessions() as session, session.begin():
            # The child rows refer to a parent deferred alongside them: the foreign key holds.
            defer(session, add_children, {"c_parent": ["ann", "bob"]})
            defer(
                session, add_parents, unnested_parameters([{"name": "ann"}], ["name"], prefix="p")
            )
            # The same insert again: one statement still, its arrays joined.
            defer(session, add_children, {"c_parent": ["ann"]})
            defer(session, add_parents, {"p_name": ["bob"]})
            assert sent == []
    assert len(sent) == 1
    assert sent[0].count("INSERT INTO") == 2
    async with engine.connect() as connection:
        rows = (await connection.execute(select(children.c.parent).order_by("seq"))).scalars()
        assert list(rows) == ["ann", "bob", "ann"]


async def test_a_statement_of_any_kind_sends_what_is_deferred_first(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, parents, children = tables
    add_parents, _ = _inserts(parents, children)
    sessions = async_sessionmaker(engine)
    async with sessions() as session, session.begin():
        defer(session, add_parents, {"p_name": ["cat", "dan"]})
        seen = await session.scalar(
            select(func.count()).select_from(parents).where(parents.c.name.in_(["cat", "dan"]))
        )
        assert seen == 2


async def test_a_rollback_drops_what_is_deferred(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, parents, children = tables
    add_parents, _ = _inserts(parents, children)
    sessions = async_sessionmaker(engine)
    with _statements(engine) as sent:
        async with sessions() as session:
            async with session.begin():
                await session.execute(text("SELECT 1"))
                defer(session, add_parents, {"p_name": ["eve"]})
                await session.rollback()
            async with session.begin():
                await session.execute(text("SELECT 2"))
    assert not any("INSERT" in statement for statement in sent)
    async with engine.connect() as connection:
        found = await connection.scalar(select(func.count()).where(parents.c.name == "eve"))
        assert found == 0


async def test_two_deferred_inserts_may_not_share_a_parameter_name(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, parents, children = tables
    add_parents = unnested_insert(parents, ["name"], prefix="x")
    add_children = unnested_insert(children, ["parent"], prefix="x")
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        defer(session, add_parents, {"x_name": ["fay"]})
        defer(session, add_children, {"x_name": ["fay"]})
        with pytest.raises(ValueError, match="x_name"):
            await session.commit()
