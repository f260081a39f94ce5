"""Which rules were in force: an auditor reads a policy version as it came into force."""

from __future__ import annotations

from schemas.v1 import PolicyView
from services.audit.service import NotRecorded, record_query
from services.audit.service_scope import require_auditor
from services.audit.unit_of_work import AuditUnitOfWork
from services.common.auth import Caller


async def policy_version(
    uow: AuditUnitOfWork, caller: Caller, version: str, *, correlation_id: str
) -> PolicyView:
    """The partnership file of one policy version, its SHA-256 and when it came into force.

    The partnership's policy is every agency's: an agency's auditor reads it as the
    partnership's does.
    """
    require_auditor(caller)
    details = {"query": "policy", "policy_version": version}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    async with uow:
        found = await uow.entries.policy(version)
    if found is None:
        raise NotRecorded(f"Policy version {version!r} is not on record.")
    return found
