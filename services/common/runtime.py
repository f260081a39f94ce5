"""What a service process holds while it runs: database, broker, outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, RetryCallState, stop_after_delay, wait_exponential

from services.common.auth import TokenVerifier
from services.common.db import UnitOfWork, database_ready, make_engine, migrate_async
from services.common.kafka import ensure_topics, make_broker
from services.common.outbox import outbox_table, processed_events_table
from services.common.outbox_pruning import OutboxPruner
from services.common.outbox_relay import OutboxRelay
from services.common.settings import ServiceSettings

log = structlog.get_logger()


@dataclass
class ServiceRuntime:
    """The connections and background tasks of one service process."""

    name: str
    settings: ServiceSettings
    metadata: MetaData
    versions: Path
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    broker: KafkaBroker = field(init=False)
    outbox: Table = field(init=False)
    processed: Table = field(init=False)
    relay: OutboxRelay = field(init=False)
    pruner: OutboxPruner = field(init=False)
    token_verifier: TokenVerifier | None = field(init=False, default=None)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Run once migrated, before anything is consumed: one that raises refuses the start.
    startup_checks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Topics of this service's own beyond the exchange's (name -> partitions), made at start.
    extra_topics: dict[str, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.broker = make_broker(self.settings, client_id=f"safeguard-{self.name}")
        self.outbox = outbox_table(self.metadata)
        self.processed = processed_events_table(self.metadata)
        self.relay = OutboxRelay(self.engine, self.outbox, self.broker)
        self.pruner = OutboxPruner(
            self.engine,
            self.outbox,
            self.processed,
            outbox_retention=self.settings.outbox_retention,
            processed_retention=self.settings.processed_events_retention,
            interval_seconds=self.settings.outbox_prune_interval_seconds,
        )
        self.background.append(self.pruner.run)
        if self.settings.jwt_public_key_path or self.settings.jwt_jwks_url:
            self.token_verifier = TokenVerifier(self.settings)

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on this service's database."""
        return UnitOfWork(self.sessions)

    async def ready(self) -> dict[str, bool]:
        """Whether PostgreSQL and Kafka answer."""
        database = await database_ready(self.engine)
        try:
            kafka = bool(await self.broker.ping(timeout=2.0))
        except Exception:
            kafka = False
        return {"postgresql": database, "kafka": kafka}

    async def _once_reachable(self, what: str, step: Callable[[], Awaitable[object]]) -> None:
        """Run a startup step, retrying while Kafka or PostgreSQL is not there yet."""

        def waiting(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning("service.waiting", step=what, error=type(error).__name__)

        async for attempt in AsyncRetrying(
            stop=stop_after_delay(self.settings.startup_timeout_seconds),
            wait=wait_exponential(multiplier=0.25, max=5),
            before_sleep=waiting,
            reraise=True,
        ):
            with attempt:
                await step()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Migrate, check, make topics, start the broker and background tasks; stop on exit."""
        # A service started while its broker or database restarts waits for them, rather than
        # exiting and leaving the restart to whatever supervises it.
        await self._once_reachable(
            "migrations",
            lambda: migrate_async(
                self.settings.database_url, self.name, self.versions, self.metadata
            ),
        )
        try:
            for check in self.startup_checks:
                await check()
        except BaseException:
            await self.engine.dispose()
            raise
        await self._once_reachable(
            "topics", lambda: ensure_topics(self.settings, self.extra_topics)
        )
        # Not retried: a broker that failed half way through starting is not restartable.
        await self.broker.start()
        self._tasks = [asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay")]
        self._tasks += [
            asyncio.create_task(job(), name=f"{self.name}-job") for job in self.background
        ]
        log.info("service.started", instance=self.settings.instance_id)
        try:
            yield
        finally:
            # A relay cancelled between publishing and marking sent would publish that batch
            # again later (harmless, consumers deduplicate), so let it finish the batch first.
            relay, *jobs = self._tasks
            self.relay.stop()
            for job in jobs:
                job.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(relay), timeout=10)
            except TimeoutError:
                relay.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.broker.stop()
            await self.engine.dispose()
            log.info("service.stopped")


async def service_runtime(request: Request) -> ServiceRuntime:
    """The running service of the app handling this request."""
    value: ServiceRuntime = request.app.state.runtime
    return value


RuntimeDep = Annotated[ServiceRuntime, Depends(service_runtime)]
