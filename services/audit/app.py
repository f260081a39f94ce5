"""Audit's wiring: settings, runtime, routes and subscriber."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.audit import api, api_export, api_people, handlers
from services.audit.db_role import act_as_writer
from services.audit.service import NotAnAuditor, NotRecorded
from services.audit.service_integrity import SizesReversed
from services.audit.settings import AuditSettings
from services.audit.store import metadata
from services.audit.tree_head import TreeSigner
from services.common.app_factory import build_service_app
from services.common.db import migrate
from services.common.problems import problem_response
from services.common.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# How the use cases' refusals answer over HTTP.
REFUSALS: dict[type[Exception], int] = {NotAnAuditor: 403, NotRecorded: 404, SizesReversed: 422}


def build_app(settings: AuditSettings | None = None) -> FastAPI:
    """The audit service as an ASGI app."""
    settings = settings or AuditSettings()
    signer = TreeSigner.from_path(settings.audit_signing_key_path)

    def register(runtime: ServiceRuntime) -> None:
        act_as_writer(runtime.engine)
        handlers.register(runtime, signer)

    app = build_service_app(
        name="audit",
        title="Safeguarding Exchange: audit",
        description="The append-only, hash-chained record of who saw what and when.",
        settings=settings,
        metadata=metadata,
        versions=MIGRATIONS,
        routers=[api.router, api_people.router, api_export.router],
        register_handlers=register,
    )
    app.state.tree_signer = signer

    async def refused(request: Request, error: Exception) -> JSONResponse:
        status = next(code for kind, code in REFUSALS.items() if isinstance(error, kind))
        return problem_response(status, str(error), request=request)

    for refusal in REFUSALS:
        app.add_exception_handler(refusal, refused)
    return app


def migrate_audit(database_url: str) -> None:
    """Bring audit's schema up to date."""
    migrate(database_url, "audit", MIGRATIONS, metadata)
