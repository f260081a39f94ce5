"""Audit's wiring: settings, runtime, routes and subscriber."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.audit import api, handlers
from services.audit.settings import AuditSettings
from services.audit.store import metadata
from services.common.app_factory import build_service_app
from services.common.db import migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build_app(settings: AuditSettings | None = None) -> FastAPI:
    """The audit service as an ASGI app."""
    settings = settings or AuditSettings()
    return build_service_app(
        name="audit",
        title="Safeguarding Exchange: audit",
        description="The append-only, hash-chained record of who saw what and when.",
        settings=settings,
        metadata=metadata,
        versions=MIGRATIONS,
        routers=[api.router],
        register_handlers=handlers.register,
    )


def migrate_audit(database_url: str) -> None:
    """Bring audit's schema up to date."""
    migrate(database_url, "audit", MIGRATIONS, metadata)
