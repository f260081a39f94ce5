"""Intake's wiring: settings, runtime, routes and subscribers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.common.app_factory import build_service_app
from services.common.db import migrate
from services.intake import api, handlers
from services.intake.settings import IntakeSettings
from services.intake.store import metadata
from services.partnership.holder import PartnershipHolder
from services.partnership.reload import watch_partnership


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake service as an ASGI app."""
    settings = settings or IntakeSettings()
    holder = PartnershipHolder(settings.partnership_path)
    app = build_service_app(
        name="intake",
        title="Safeguarding Exchange: intake",
        description="Agency systems submit safeguarding concerns here.",
        settings=settings,
        metadata=metadata,
        versions=Path(__file__).resolve().parent / "migrations",
        routers=[api.router],
        register_handlers=lambda runtime: handlers.register(runtime, holder),
        max_body=settings.max_body_bytes,
    )
    app.state.partnership_holder = holder
    app.state.runtime.background.append(lambda: watch_partnership(holder))
    return app


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate_intake(database_url: str) -> None:
    """Bring intake's schema up to date."""
    migrate(database_url, "intake", MIGRATIONS, metadata)
