"""The partnership holder: a checked new version is swapped in whole; anything else is refused."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from services.partnership import default_partnership_path
from services.partnership.holder import PartnershipHolder, PolicyVersion, sha256_of
from services.partnership.loader import Problem
from services.partnership.reload import operator_of, reload_once, watch_partnership

REFERENCE = default_partnership_path().read_text(encoding="utf-8")


def version_line(version: str) -> str:
    """The reference file's text under another policy_version."""
    for line in REFERENCE.splitlines():
        if line.startswith("policy_version:"):
            return REFERENCE.replace(line, f"policy_version: {version}")
    raise AssertionError("the reference file has no policy_version line")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "partnership.yaml"
    path.write_text(REFERENCE, encoding="utf-8")
    return path


def test_holder_starts_with_the_file_its_text_and_sha256(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    assert holder.in_force.content == REFERENCE
    assert holder.in_force.sha256 == sha256_of(REFERENCE)
    assert holder.current.policy_version == holder.in_force.version


def test_an_unchanged_file_applies_nothing(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    outcome = holder.reload()
    assert outcome.applied is None
    assert not outcome.refused


def test_a_valid_new_version_comes_into_force(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    policy_file.write_text(version_line("2099-01-01.1"), encoding="utf-8")
    outcome = holder.reload()
    assert outcome.applied is not None
    assert outcome.applied.version == "2099-01-01.1"
    assert holder.current.policy_version == "2099-01-01.1"


def test_an_invalid_file_is_refused_and_the_running_policy_stays(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    before = holder.current
    policy_file.write_text(version_line("2099-01-01.1") + "\nunknown_key: 1\n", encoding="utf-8")
    outcome = holder.reload()
    assert outcome.refused
    assert [p.place for p in outcome.problems] == ["unknown_key"]
    assert holder.current is before


def test_a_file_that_is_not_yaml_is_refused(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    policy_file.write_text("rules: [\n", encoding="utf-8")
    assert holder.reload().refused
    assert holder.current.policy_version == holder.in_force.version


def test_a_changed_file_under_the_same_version_is_refused(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    before = holder.in_force
    policy_file.write_text(REFERENCE + "\n# a rule changed, the version did not\n", "utf-8")
    outcome = holder.reload()
    assert outcome.refused
    assert outcome.problems[0].place == "policy_version"
    assert holder.in_force is before


def test_a_version_seen_before_may_come_back_with_the_same_text(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    first = holder.in_force.version
    policy_file.write_text(version_line("2099-01-01.1"), encoding="utf-8")
    holder.reload()
    policy_file.write_text(REFERENCE, encoding="utf-8")
    outcome = holder.reload()
    assert outcome.applied is not None
    assert outcome.applied.version == first


def test_the_operator_comes_from_the_sidecar_file_then_the_environment(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEGUARD_OPERATOR", "ig-lead")
    assert operator_of(policy_file) == "ig-lead"
    policy_file.with_name(policy_file.name + ".operator").write_text("j-patel\n", "utf-8")
    assert operator_of(policy_file) == "j-patel"


async def test_the_watcher_announces_the_first_version_then_each_change(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    announced: list[tuple[str, str]] = []

    async def on_applied(version: PolicyVersion, operator: str) -> None:
        announced.append((version.version, version.sha256))

    watcher = asyncio.create_task(watch_partnership(holder, on_applied, interval=0.05))
    try:
        await asyncio.sleep(0.2)
        changed = version_line("2099-01-01.1")
        await asyncio.to_thread(policy_file.write_text, changed, encoding="utf-8")
        for _ in range(100):
            if len(announced) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
    assert announced == [
        (PartnershipHolder(default_partnership_path()).in_force.version, sha256_of(REFERENCE)),
        ("2099-01-01.1", sha256_of(changed)),
    ]


async def test_sighup_reloads_at_once(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    watcher = asyncio.create_task(watch_partnership(holder, interval=3600))
    try:
        await asyncio.sleep(0.05)
        # Never send the signal unless the watcher took it: by default SIGHUP ends the process.
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        await asyncio.to_thread(policy_file.write_text, version_line("2099-01-02.1"), "utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if holder.current.policy_version == "2099-01-02.1":
                break
            await asyncio.sleep(0.02)
    finally:
        watcher.cancel()
    assert holder.current.policy_version == "2099-01-02.1"


async def test_an_admission_problem_refuses_a_new_version_and_an_unchanged_file_is_not_asked(
    policy_file: Path,
) -> None:
    holder = PartnershipHolder(policy_file)
    before = holder.in_force
    asked: list[str] = []

    async def admit(version: PolicyVersion) -> Problem | None:
        asked.append(version.version)
        return Problem("policy_version", None, "on record elsewhere")

    assert not (await reload_once(holder, admit)).refused
    assert asked == []
    await asyncio.to_thread(policy_file.write_text, version_line("2099-01-03.1"), "utf-8")
    outcome = await reload_once(holder, admit)
    assert outcome.problems == (Problem("policy_version", None, "on record elsewhere"),)
    assert (asked, holder.in_force) == (["2099-01-03.1"], before)


async def test_an_admission_that_fails_is_asked_again_until_it_answers(policy_file: Path) -> None:
    holder = PartnershipHolder(policy_file)
    answers: list[str] = []

    async def admit(version: PolicyVersion) -> Problem | None:
        answers.append(version.version)
        if len(answers) < 3:
            raise ConnectionError("the database is away")
        return None

    watcher = asyncio.create_task(watch_partnership(holder, admit=admit, interval=0.05))
    try:
        await asyncio.sleep(0.1)
        await asyncio.to_thread(policy_file.write_text, version_line("2099-01-04.1"), "utf-8")
        for _ in range(100):
            if holder.current.policy_version == "2099-01-04.1":
                break
            await asyncio.sleep(0.02)
    finally:
        watcher.cancel()
    assert holder.current.policy_version == "2099-01-04.1"
    assert answers == ["2099-01-04.1"] * 3
