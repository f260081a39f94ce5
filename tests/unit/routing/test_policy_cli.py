"""`safeguard policy check` and `safeguard policy explain`, called as functions."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.cli_policy import cmd_policy_check, received_at, register
from services.partnership import default_partnership_path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_CONCERN = ROOT / "docs" / "examples" / "concern.json"
REFERENCE = default_partnership_path()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="safeguard")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_check_accepts_the_reference_partnership(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("policy", "check", str(REFERENCE))
    assert args.func(args) == 0
    assert "ok (partnership northmoor-eastvale" in capsys.readouterr().out


def test_check_lists_each_problem_with_file_line_place_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = REFERENCE.read_text().replace("profile: school", "profile: no-such-profile", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text)

    assert cmd_policy_check(argparse.Namespace(path=path)) == 1

    out = capsys.readouterr().out.splitlines()
    profile = next(line for line in out if "no-such-profile" in line)
    assert profile.startswith(f"{path}:")
    assert ".profile: unknown sharing profile 'no-such-profile'" in profile
    line = int(profile.split(":")[1])
    assert "no-such-profile" in text.splitlines()[line - 1]
    assert out[-1] == f"{path}: 1 problem"


def test_check_of_a_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_policy_check(argparse.Namespace(path=tmp_path / "absent.yaml")) == 1
    assert "cannot be read" in capsys.readouterr().out


def test_explain_names_recipients_rules_fields_and_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse(
        "policy", "explain", str(REFERENCE), str(EXAMPLE_CONCERN),
        "--received-at", "2026-11-23T10:00:00+00:00", "--source-agency", "nm-hospital-ed",
    )  # fmt: skip
    assert args.func(args) == 0

    blocks = {
        block.splitlines()[0].split(" ")[0]: block
        for block in capsys.readouterr().out.split("\n\n")[1:]
    }
    assert set(blocks) == {"nm-csc", "ev-csc", "nme-police", "nm-school-oakfield"}
    school = blocks["nm-school-oakfield"]
    assert "rules:          school-of-child" in school
    assert "summary" in school
    assert "narrative" not in school
    assert "subject.nhs_number" not in school
    # A high-severity concern must be acknowledged within an hour in the reference partnership.
    assert "acknowledge by: 2026-11-23T11:00:00+00:00" in blocks["nm-csc"]


def test_explain_never_sends_the_source_agency_its_own_concern(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse(
        "policy", "explain", str(REFERENCE), str(EXAMPLE_CONCERN), "--source-agency", "nme-police"
    )
    assert args.func(args) == 0
    assert "\nnme-police " not in capsys.readouterr().out


def test_explain_without_received_at_uses_now(capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    args = parse("policy", "explain", str(REFERENCE), str(EXAMPLE_CONCERN))
    assert args.func(args) == 0
    first = capsys.readouterr().out.splitlines()[1]
    stamp = first.removeprefix("received at ").split(",")[0]
    assert before <= datetime.fromisoformat(stamp) <= datetime.now(UTC)


def test_explain_reports_an_invalid_concern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    concern = json.loads(EXAMPLE_CONCERN.read_text())
    concern["severity"] = "apocalyptic"
    path = tmp_path / "concern.json"
    path.write_text(json.dumps(concern))
    args = parse("policy", "explain", str(REFERENCE), str(path))
    assert args.func(args) == 1
    assert f"{path}: severity:" in capsys.readouterr().out


def test_received_at_takes_a_naive_time_as_utc() -> None:
    assert received_at("2026-11-23T10:00:00") == datetime(2026, 11, 23, 10, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError):
        received_at("yesterday")
