"""Routing's record of policy versions: one text per name, across runs; a changed text refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.v1 import Topic
from services.partnership import default_partnership_path
from services.partnership.holder import PartnershipHolder, PolicyVersion, read_version
from services.partnership.loader import PartnershipError, Problem
from services.partnership.reload import reload_once, watch_partnership
from services.routing.policy_record import (
    check_policy_version,
    record_policy_applied,
    refuse_reused_version,
)
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
REFERENCE = default_partnership_path().read_text(encoding="utf-8")
CHANGED = REFERENCE + "\n# a rule changed, the version did not\n"


def under_version(text: str, version: str) -> str:
    """The text under another policy_version."""
    return text.replace('policy_version: "2026.11.1"', f'policy_version: "{version}"')


def a_version(tmp_path: Path, text: str) -> PolicyVersion:
    """The version a partnership file of this text is."""
    path = tmp_path / "partnership.yaml"
    path.write_text(text, encoding="utf-8")
    return read_version(path)


async def test_an_applied_version_is_on_record_with_its_policy_applied_in_one_commit(
    tmp_path: Path,
) -> None:
    uow = FakeRoutingUnitOfWork()
    version = a_version(tmp_path, REFERENCE)
    await record_policy_applied(uow, version, operator="ig-lead", at=NOW)
    assert uow.commits == 1
    assert uow.committed.policy_versions == {"2026.11.1": (version.sha256, NOW, "ig-lead")}
    (message,) = uow.outbox.on(Topic.AUDIT_EVENTS)
    assert message.event.payload.details["sha256"] == version.sha256


async def test_the_first_text_under_a_name_stays_on_record(tmp_path: Path) -> None:
    uow = FakeRoutingUnitOfWork()
    first = a_version(tmp_path, REFERENCE)
    await record_policy_applied(uow, first, operator="ig-lead", at=NOW)
    await record_policy_applied(uow, first, operator="someone-else", at=NOW.replace(hour=10))
    # Another process's text under the same name: audit hears of it (and marks it refused).
    await record_policy_applied(uow, a_version(tmp_path, CHANGED), operator="ig-lead", at=NOW)
    assert uow.committed.policy_versions == {"2026.11.1": (first.sha256, NOW, "ig-lead")}
    assert len(uow.outbox.on(Topic.AUDIT_EVENTS)) == 3


@pytest.mark.parametrize(
    ("on_record", "candidate", "refused"),
    [
        (None, REFERENCE, False),
        (REFERENCE, REFERENCE, False),
        (REFERENCE, CHANGED, True),
        (REFERENCE, under_version(CHANGED, "2026.12.1"), False),
    ],
    ids=["never-applied", "same-text", "changed-text", "changed-text-new-name"],
)
async def test_a_version_is_refused_only_if_its_name_is_on_record_with_another_text(
    tmp_path: Path, on_record: str | None, candidate: str, refused: bool
) -> None:
    uow = FakeRoutingUnitOfWork()
    if on_record is not None:
        await record_policy_applied(uow, a_version(tmp_path, on_record), operator="o", at=NOW)
    problem = await check_policy_version(uow, a_version(tmp_path, candidate))
    assert (problem is not None) is refused
    if problem is not None:
        assert problem.place == "policy_version"
        assert "'2026.11.1' is on record with another SHA-256" in problem.reason
        assert "give the change a new one" in problem.reason


async def test_routing_refuses_to_start_on_a_changed_file_under_a_recorded_version(
    tmp_path: Path,
) -> None:
    uow = FakeRoutingUnitOfWork()
    await record_policy_applied(uow, a_version(tmp_path, REFERENCE), operator="o", at=NOW)
    path = tmp_path / "partnership.yaml"
    await refuse_reused_version(uow, a_version(tmp_path, REFERENCE), path=path)
    with pytest.raises(PartnershipError) as refused:
        await refuse_reused_version(uow, a_version(tmp_path, CHANGED), path=path)
    assert [p.place for p in refused.value.problems] == ["policy_version"]
    message = str(refused.value)
    assert "2026.11.1" in message
    assert "the file changed but its policy_version did not; give the change a new one" in message


def routing_admission(uow: FakeRoutingUnitOfWork):  # type: ignore[no-untyped-def]
    async def admit(version: PolicyVersion) -> Problem | None:
        return await check_policy_version(uow, version)

    return admit


async def test_a_reload_to_a_changed_text_under_a_name_recorded_earlier_is_refused(
    tmp_path: Path,
) -> None:
    uow = FakeRoutingUnitOfWork()
    earlier = under_version(REFERENCE, "2026.10.1")
    # An earlier run applied 2026.10.1; this process has never seen it.
    await record_policy_applied(uow, a_version(tmp_path, earlier), operator="o", at=NOW)
    path = tmp_path / "partnership.yaml"
    path.write_text(REFERENCE, encoding="utf-8")
    holder = PartnershipHolder(path)
    in_force = holder.in_force
    path.write_text(earlier + "\n# changed since\n", encoding="utf-8")
    outcome = await reload_once(holder, routing_admission(uow))
    assert outcome.refused
    assert [p.place for p in outcome.problems] == ["policy_version"]
    assert holder.in_force is in_force
    # The recorded text itself may come back.
    path.write_text(earlier, encoding="utf-8")
    outcome = await reload_once(holder, routing_admission(uow))
    assert outcome.applied is not None
    assert holder.current.policy_version == "2026.10.1"


async def test_the_watcher_asks_routing_before_applying_and_announces_only_what_it_applied(
    tmp_path: Path,
) -> None:
    uow = FakeRoutingUnitOfWork()
    await record_policy_applied(
        uow, a_version(tmp_path, under_version(REFERENCE, "2026.10.1")), operator="o", at=NOW
    )
    path = tmp_path / "partnership.yaml"
    path.write_text(REFERENCE, encoding="utf-8")
    holder = PartnershipHolder(path)
    announced: list[str] = []

    async def on_applied(version: PolicyVersion, operator: str) -> None:
        announced.append(version.version)
        await record_policy_applied(uow, version, operator=operator, at=NOW)

    watcher = asyncio.create_task(
        watch_partnership(holder, on_applied, admit=routing_admission(uow), interval=0.05)
    )
    try:
        await asyncio.sleep(0.2)
        reused = under_version(CHANGED, "2026.10.1")
        await asyncio.to_thread(path.write_text, reused, "utf-8")
        await asyncio.sleep(0.3)
        assert holder.current.policy_version == "2026.11.1"
        await asyncio.to_thread(path.write_text, under_version(REFERENCE, "2026.12.1"), "utf-8")
        for _ in range(100):
            if len(announced) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
    assert announced == ["2026.11.1", "2026.12.1"]
    assert set(uow.committed.policy_versions) == {"2026.10.1", "2026.11.1", "2026.12.1"}
