"""PostgreSQL through SQLAlchemy 2 (async, asyncpg): engines, units of work, migrations."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnElement, MetaData, Select, Table, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.common.settings import ServiceSettings

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"


def async_url(database_url: str) -> str:
    """The SQLAlchemy asyncpg form of a postgresql:// URL."""
    url = make_url(database_url)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def unnested_rows(table: Table, columns: Sequence[str], *, prefix: str) -> Select[Any]:
    """Rows given as one array parameter per column (`<prefix>_<column>`), unnested side by side.

    An INSERT from it is one statement, built and prepared once, for any number of rows, where
    a multi-row VALUES is another statement (compiled, then prepared) for each count of rows.
    """
    return select(
        *(
            func.unnest(bindparam(f"{prefix}_{name}", type_=ARRAY(table.c[name].type)))
            for name in columns
        )
    )


def unnested_insert(
    table: Table,
    columns: Sequence[str],
    *,
    prefix: str,
    only_if: ColumnElement[bool] | None = None,
) -> Insert:
    """The INSERT of unnested_rows() into the table (only when `only_if` holds); add
    `.on_conflict_do_nothing()` for rows that may be there already."""
    rows = unnested_rows(table, columns, prefix=prefix)
    if only_if is not None:
        rows = rows.where(only_if)
    return pg_insert(table).from_select(list(columns), rows)


def unnested_parameters(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, prefix: str
) -> dict[str, list[Any]]:
    """The parameters of unnested_rows() for these rows."""
    return {f"{prefix}_{name}": [row[name] for row in rows] for name in columns}


def _connect_args(settings: ServiceSettings) -> dict[str, Any]:
    if settings.database_ssl_mode == "disable":
        # asyncpg would otherwise ask for TLS first on every new connection ("prefer").
        return {"ssl": False}
    context = ssl.create_default_context(
        cafile=str(settings.database_ssl_root_cert) if settings.database_ssl_root_cert else None
    )
    if settings.database_ssl_mode in ("require", "verify-ca"):
        context.check_hostname = False
    if settings.database_ssl_mode == "require":
        context.verify_mode = ssl.CERT_NONE
    return {"ssl": context}


def make_engine(settings: ServiceSettings, **options: Any) -> AsyncEngine:
    """An async engine for the service's database, TLS as configured."""
    return create_async_engine(
        async_url(settings.database_url),
        # A fixed pool: overflow connections are closed when returned, and under load a new
        # connection (fork plus SCRAM on the server) per request costs more than waiting for one.
        # No pre-ping: a connection broken by a database restart fails its one statement, and
        # SQLAlchemy then discards every connection made before the failure.
        pool_size=settings.database_pool_size,
        max_overflow=0,
        connect_args=_connect_args(settings),
        # JSONB parameters (routing's stored concerns and notifications) through orjson: the
        # standard library's encoder was about 3.5% of routing's CPU.
        json_serializer=json_text,
        **options,
    )


def json_text(value: Any) -> str:
    """A JSON parameter as text, as `json.dumps` would write it up to whitespace."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class UnitOfWork:
    """One transaction: commit once at the end, or everything rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session; only inside `async with`."""
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        await self.session.commit()


def migrate(database_url: str, service: str, versions: Path, metadata: MetaData) -> None:
    """Bring the service's schema to the newest revision (blocking; serialised by a lock)."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(versions))
    config.attributes.update(url=async_url(database_url), schema=service, metadata=metadata)
    command.upgrade(config, "head")


async def migrate_async(
    database_url: str, service: str, versions: Path, metadata: MetaData
) -> None:
    """migrate() from inside a running event loop."""
    await asyncio.to_thread(migrate, database_url, service, versions, metadata)


async def database_ready(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        async with engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=2)
        return True
    except Exception:
        return False
