"""Routing's wiring: settings, partnership, runtime, routes and subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from services.common.app_factory import build_service_app
from services.common.db import migrate
from services.partnership.holder import PartnershipHolder, PolicyVersion
from services.partnership.loader import Problem
from services.partnership.reload import watch_partnership
from services.routing import api, api_casework, handlers, stream
from services.routing.escalation import escalation_job
from services.routing.policy_record import (
    check_policy_version,
    record_policy_applied,
    refuse_reused_version,
)
from services.routing.retention_job import retention_job
from services.routing.settings import RoutingSettings
from services.routing.store import metadata
from services.routing.store_children import ChildIndexSecret
from services.routing.unit_of_work import routing_unit_of_work

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build_app(settings: RoutingSettings | None = None) -> FastAPI:
    """The routing service as an ASGI app."""
    settings = settings or RoutingSettings()
    holder = PartnershipHolder(settings.partnership_path)
    app = build_service_app(
        name="routing",
        title="Safeguarding Exchange: routing",
        description="Routes concerns to agencies and serves caseworkers their notifications.",
        settings=settings,
        metadata=metadata,
        versions=MIGRATIONS,
        # The stream first: /notifications/stream must not be read as a notification id.
        routers=[stream.router, api.router, api_casework.router],
        register_handlers=lambda runtime: handlers.register(
            runtime, holder, ChildIndexSecret(settings.child_index_key)
        ),
    )
    app.state.partnership_holder = holder
    runtime = app.state.runtime
    runtime.background.append(
        escalation_job(runtime, holder, interval=settings.escalation_interval_seconds)
    )

    async def policy_not_reused() -> None:
        await refuse_reused_version(
            routing_unit_of_work(runtime), holder.in_force, path=holder.path
        )

    async def admit(version: PolicyVersion) -> Problem | None:
        return await check_policy_version(routing_unit_of_work(runtime), version)

    async def on_applied(version: PolicyVersion, operator: str) -> None:
        await record_policy_applied(
            routing_unit_of_work(runtime), version, operator=operator, at=datetime.now(UTC)
        )

    # A file changed under a policy_version applied in an earlier run: routing does not start.
    runtime.startup_checks.append(policy_not_reused)
    runtime.background.append(lambda: watch_partnership(holder, on_applied, admit=admit))
    runtime.background.append(
        retention_job(runtime, holder, interval=settings.retention_interval_seconds)
    )
    return app


def migrate_routing(database_url: str) -> None:
    """Bring routing's schema up to date."""
    migrate(database_url, "routing", MIGRATIONS, metadata)
