"""`safeguard policy diff` and `safeguard policy apply`, called as functions (no database)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest

from deploy.cli_policy import register
from deploy.cli_policy_change import diff_text, period
from services.partnership import default_partnership_path
from services.routing.policy_diff import diff_policies
from tests.builders import RECEIVED
from tests.unit.routing.test_policy_diff import HISTORY, OLD, changed_policy

REFERENCE = default_partnership_path().read_text(encoding="utf-8")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="safeguard")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_text_names_versions_counts_rules_fields_and_sample_ids() -> None:
    new = changed_policy()
    lines = diff_text(diff_policies(HISTORY, old=OLD, new=new), old=OLD, new=new, since=RECEIVED)
    text = "\n".join(lines)
    assert lines[0] == "partnership northmoor-eastvale: policy 2026.11.1 -> 2026.12.1"
    assert "5 concerns received since 2026-11-16T09:30:00+00:00 replayed; 4 would" in text
    assert "  would gain 2: police-serious-harm 2" in text
    assert "  would lose 1: yjs-exploitation 1" in text
    assert "  would no longer see: subject.date_of_birth" in text
    assert "00000000-0000-0000-0000-000000000003" in text
    assert "Amelia" not in text


def test_since_takes_an_iso_duration() -> None:
    assert period("P30D") == timedelta(days=30)
    with pytest.raises(argparse.ArgumentTypeError):
        period("30 days")


def test_diff_refuses_an_invalid_file_before_reading_any_concern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(REFERENCE + "\nunknown_key: 1\n")
    args = parse("policy", "diff", str(default_partnership_path()), str(broken),
                 "--database-url", "postgresql://nobody@127.0.0.1:1/none")  # fmt: skip
    assert args.func(args) == 1
    assert "unknown_key: unknown key" in capsys.readouterr().out


def test_apply_puts_the_file_and_its_operator_in_place(tmp_path: Path) -> None:
    target = tmp_path / "in-force.yaml"
    target.write_text(REFERENCE)
    new = tmp_path / "new.yaml"
    new.write_text(REFERENCE.replace('policy_version: "2026.11.1"', 'policy_version: "2026.12.1"'))
    args = parse("policy", "apply", str(new), "--operator", "ig-lead", "--target", str(target))
    assert args.func(args) == 0
    assert target.read_text() == new.read_text()
    assert (tmp_path / "in-force.yaml.operator").read_text().strip() == "ig-lead"


def test_apply_refuses_changed_rules_under_the_version_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "in-force.yaml"
    target.write_text(REFERENCE)
    new = tmp_path / "new.yaml"
    new.write_text(REFERENCE.replace("min_concerns: 3", "min_concerns: 4"))
    args = parse("policy", "apply", str(new), "--target", str(target))
    assert args.func(args) == 1
    assert "give the change a new policy_version" in capsys.readouterr().out
    assert target.read_text() == REFERENCE
