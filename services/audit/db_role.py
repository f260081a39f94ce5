"""Audit works as a role that may insert entries but not change them, on every connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

WRITER_ROLE = "safeguard_audit_writer"


def act_as_writer(engine: AsyncEngine) -> None:
    """Make each new connection of ``engine`` SET ROLE to the audit writer role."""

    @event.listens_for(engine.sync_engine, "connect")
    def set_role(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET ROLE {WRITER_ROLE}")
        cursor.close()
        # The driver opened a transaction for the SET; commit it so a later rollback keeps it.
        dbapi_connection.commit()
