"""Delivery's wiring: settings, partnership, runtime, routes, subscriber and sender."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import structlog
from fastapi import FastAPI

from services.common.app_factory import build_service_app
from services.common.db import migrate
from services.common.kafka import ensure_topics
from services.common.runtime import ServiceRuntime
from services.delivery import api, handlers
from services.delivery.sender import DeliverySender
from services.delivery.settings import DeliverySettings
from services.delivery.store import metadata
from services.partnership.holder import PartnershipHolder, PolicyVersion
from services.partnership.reload import watch_partnership

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = structlog.get_logger()


def build_app(
    settings: DeliverySettings | None = None, *, environ: Mapping[str, str] | None = None
) -> FastAPI:
    """The delivery service as an ASGI app; webhook secrets are read from `environ`."""
    settings = settings or DeliverySettings()
    holder = PartnershipHolder(settings.partnership_path)
    partnership = holder.current
    senders: list[DeliverySender] = []

    def register(runtime: ServiceRuntime) -> None:
        sender = DeliverySender(
            runtime, partnership, settings, environ=os.environ if environ is None else environ
        )
        senders.append(sender)
        handlers.register(runtime, holder, sender)

    app = build_service_app(
        name="delivery",
        title="Safeguarding Exchange: delivery",
        description=(
            "Delivers every notification into its agency's own systems: Standard Webhooks or "
            "the agency's Kafka topic, retried until it lands, each attempt audited."
        ),
        settings=settings,
        metadata=metadata,
        versions=MIGRATIONS,
        routers=[api.router],
        register_handlers=register,
    )
    app.state.partnership_holder = holder
    app.state.delivery_sender = senders[0]
    app.state.runtime.background.append(senders[0].run)

    feeds = set(handlers.feed_topics(partnership))

    async def on_applied(version: PolicyVersion, operator: str) -> None:
        # A new Kafka destination's feed is made first; if that fails, the watcher tries again.
        wanted = handlers.feed_topics(version.partnership)
        if not wanted.keys() <= feeds:
            await ensure_topics(settings, {t: n for t, n in wanted.items() if t not in feeds})
            feeds.update(wanted)
        senders[0].apply(version.partnership)

    app.state.runtime.background.append(lambda: watch_partnership(holder, on_applied))
    return app


def migrate_delivery(database_url: str) -> None:
    """Bring delivery's schema up to date."""
    migrate(database_url, "delivery", MIGRATIONS, metadata)
