"""Policy versions on record: the text beside the chain, the entry with version and SHA-256 only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.v1 import AuditAction, Topic
from services.audit import service
from services.audit.chain import entry_content
from services.audit.service import NotAnAuditor, NotRecorded
from services.audit.service_policies import policy_version
from services.audit.store_policies import mark_refused, set_policy_text_aside
from services.common.auth import Caller, Role
from services.partnership import default_partnership_path
from services.partnership.holder import PolicyVersion, sha256_of
from services.routing.policy_record import policy_applied
from tests.builders import the_reference_partnership
from tests.unit.audit.fakes import FakeAuditUnitOfWork

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TEXT = default_partnership_path().read_text(encoding="utf-8")
VERSION = PolicyVersion(the_reference_partnership(), sha256_of(TEXT), TEXT)


def test_the_text_is_set_aside_and_the_entry_keeps_version_sha256_and_operator() -> None:
    event = policy_applied(VERSION, operator="ig-lead")
    chained, applied = set_policy_text_aside([event])
    details = chained[0].payload.details
    assert "content" not in details
    assert (details["policy_version"], details["sha256"]) == ("2026.11.1", VERSION.sha256)
    assert TEXT not in str(entry_content(chained[0]))
    assert chained[0].event_id == event.event_id
    assert [(a.version, a.sha256, a.content, a.applied_by) for a in applied] == [
        ("2026.11.1", VERSION.sha256, TEXT, "ig-lead")
    ]


def test_other_events_pass_unchanged() -> None:
    event = policy_applied(VERSION, operator="ig-lead")
    other = event.model_copy(
        update={"payload": event.payload.model_copy(update={"action": AuditAction.AUDIT_QUERIED})}
    )
    assert set_policy_text_aside([other]) == ([other], [])


def test_a_refused_text_says_so_in_its_entry() -> None:
    event = policy_applied(VERSION, operator="ig-lead")
    (marked,) = mark_refused(set_policy_text_aside([event])[0], {VERSION.sha256})
    assert "refused" in marked.payload.details


async def test_an_auditor_reads_a_version_on_record_and_the_query_is_audited() -> None:
    uow = FakeAuditUnitOfWork()
    await service.append_audit_events(
        uow, [policy_applied(VERSION, operator="ig-lead")], signing_key=None, now=NOW
    )
    for role in (Role.AUDITOR, Role.PARTNERSHIP_AUDITOR):
        caller = Caller(subject="ig", agency="nm-csc", role=role)
        found = await policy_version(uow, caller, "2026.11.1", correlation_id="c")
        assert (found.version, found.sha256, found.content) == ("2026.11.1", VERSION.sha256, TEXT)
    queried = [m.event.payload for m in uow.outbox.on(Topic.AUDIT_EVENTS)]
    assert [q.details for q in queried][-1] == {"query": "policy", "policy_version": "2026.11.1"}


async def test_a_version_not_on_record_is_not_recorded_and_others_are_refused() -> None:
    uow = FakeAuditUnitOfWork()
    auditor = Caller(subject="ig", agency="nm-csc", role=Role.AUDITOR)
    with pytest.raises(NotRecorded):
        await policy_version(uow, auditor, "2099.1", correlation_id="c")
    with pytest.raises(NotAnAuditor):
        await policy_version(
            uow, Caller(subject="sw", agency="nm-csc", role=Role.CASEWORKER), "2026.11.1",
            correlation_id="c",
        )  # fmt: skip
