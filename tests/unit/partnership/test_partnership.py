"""Loading a partnership file: the reference loads, and every kind of mistake is refused clearly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.partnership import (
    Partnership,
    PartnershipError,
    RouteTarget,
    default_partnership_path,
    load_partnership,
)

Change = Callable[[dict[str, Any]], None]


def reference() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(default_partnership_path().read_text())
    return document


def refusal(tmp_path: Path, text: str) -> PartnershipError:
    path = tmp_path / "partnership.yaml"
    path.write_text(text)
    with pytest.raises(PartnershipError) as caught:
        load_partnership(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_the_reference_partnership_loads() -> None:
    partnership = load_partnership(default_partnership_path())
    assert partnership.partnership == "northmoor-eastvale"
    assert partnership.fallback_agency.id == "nm-csc"
    assert partnership.rules[0].route is RouteTarget.CHILDRENS_SOCIAL_CARE_OF_HOME_AREA
    assert partnership.cumulative_concern.window.days == 90


def test_the_default_path_is_the_shipped_reference_file() -> None:
    path = default_partnership_path()
    assert path.name == "northmoor-eastvale.yaml"
    assert path.parent.name == "partnerships"
    assert path.is_file()


def setter(*where: str | int, value: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for step in where[:-1]:
            target = target[step]
        target[where[-1]] = value

    return change


def remover(*where: str | int) -> Change:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for step in where[:-1]:
            target = target[step]
        del target[where[-1]]

    return change


def duplicate_first_agency(document: dict[str, Any]) -> None:
    document["agencies"].append(dict(document["agencies"][0], fallback=False))


MISTAKES: list[tuple[str, Change, str]] = [
    (
        "unknown agency in a rule",
        setter("rules", 2, "route", value=["nme-polise"]),
        "rules[2].route[0]: unknown agency id 'nme-polise'",
    ),
    (
        "unknown target",
        setter("rules", 0, "route", value="childrens_social_care_of_home"),
        "rules[0].route: unknown target",
    ),
    (
        "route neither list nor name",
        setter("rules", 0, "route", value=7),
        "rules[0].route: give a list",
    ),
    ("empty route", setter("rules", 2, "route", value=[]), "rules[2].route"),
    (
        "unknown condition",
        setter("rules", 2, "when", value={"severity_at_leest": "high"}),
        "rules[2].when.severity_at_leest: unknown key",
    ),
    (
        "unknown severity",
        setter("rules", 2, "when", value={"severity_at_least": "urgent"}),
        "rules[2].when.severity_at_least",
    ),
    (
        "unknown category",
        setter("rules", 3, "when", "category_in", 0, value="theft"),
        "rules[3].when.category_in[0]",
    ),
    ("age as text", setter("rules", 5, "when", "age_under", value="5"), "rules[5].when.age_under"),
    (
        "unknown local authority",
        setter("rules", 5, "when", "home_local_authority_in", value=["northmore"]),
        "unknown local authority 'northmore'",
    ),
    (
        "unknown profile",
        setter("agencies", 6, "profile", value="helth"),
        "agencies[6].profile: unknown sharing profile 'helth'",
    ),
    (
        "unknown profile field",
        setter("sharing_profiles", "school", 0, value="subject.shoe_size"),
        "sharing_profiles.school[0]: unknown field 'subject.shoe_size'",
    ),
    (
        "field listed twice",
        setter("sharing_profiles", "school", 1, value="summary"),
        "sharing_profiles.school[4]: 'summary' is listed twice",
    ),
    (
        "bad duration",
        setter("ack_within", "medium", value="1 day"),
        "ack_within.medium: '1 day' is not an ISO 8601 duration",
    ),
    (
        "months have no fixed length",
        setter("cumulative_concern", "window", value="P3M"),
        "cumulative_concern.window",
    ),
    ("seconds as a number", setter("ack_within", "high", value=3600), "ack_within.high"),
    (
        "zero duration",
        setter("ack_within", "immediate", value="PT0S"),
        "ack_within.immediate: must be longer than zero",
    ),
    (
        "missing severity deadline",
        remover("ack_within", "low"),
        "ack_within: no deadline for severity low",
    ),
    (
        "unknown severity deadline",
        setter("ack_within", "urgent", value="PT5M"),
        "ack_within.urgent",
    ),
    ("duplicate agency id", duplicate_first_agency, "'nm-csc' is used by two agencies"),
    (
        "duplicate rule id",
        setter("rules", 1, "id", value="home-social-care"),
        "rules[1].id: 'home-social-care' is used twice",
    ),
    ("reserved rule id", setter("rules", 1, "id", value="fallback"), "rules[1].id: 'fallback'"),
    (
        "no fallback",
        remover("agencies", 0, "fallback"),
        "exactly one agency must be fallback: true, not 0",
    ),
    (
        "two fallbacks",
        setter("agencies", 1, "fallback", value=True),
        "exactly one agency must be fallback: true, not 2",
    ),
    (
        "fallback not social care",
        setter("agencies", 2, "fallback", value=True),
        "agencies[2].fallback: the fallback must be childrens_social_care",
    ),
    (
        "social care without local authority",
        remover("agencies", 1, "local_authority"),
        "agencies[1]: a childrens_social_care agency needs its local_authority",
    ),
    (
        "school without urn",
        remover("agencies", 3, "school_urn"),
        "agencies[3]: a school agency needs its school_urn",
    ),
    ("unknown agency kind", setter("agencies", 2, "kind", value="polise"), "agencies[2].kind"),
    (
        "unknown key in an agency",
        setter("agencies", 2, "email", value="x@example.org"),
        "agencies[2].email: unknown key",
    ),
    ("unknown top-level key", setter("escalation", value={}), "escalation: unknown key"),
    ("missing policy version", remover("policy_version"), "policy_version: required but missing"),
    ("lower-case postcode district", setter("areas", "nm4", value="northmoor"), "areas.nm4"),
    (
        "cumulative count of zero",
        setter("cumulative_concern", "min_concerns", value=0),
        "cumulative_concern.min_concerns",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_partnership_file_with_a_mistake_is_refused_naming_place_and_reason(
    tmp_path: Path, case: str, change: Change, expected: str
) -> None:
    document = reference()
    change(document)
    error = refusal(tmp_path, yaml.safe_dump(document, sort_keys=False))
    assert expected in str(error)


def test_the_refusal_gives_the_line_of_the_mistake(tmp_path: Path) -> None:
    text = default_partnership_path().read_text()
    line = text[: text.index("severity_at_least: high")].count("\n") + 1
    error = refusal(tmp_path, text.replace("severity_at_least: high", "severity_at_leest: high"))
    assert f"line {line}, rules[2].when.severity_at_leest: unknown key" in str(error)
    assert error.problems[0].line == line


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = default_partnership_path().read_text()
    text = text.replace("profile: health\n", "profile: helth\n").replace("[nm-yjs]", "[nm-yjss]")
    error = refusal(tmp_path, text)
    assert len(error.problems) == 4
    assert "(4 problems)" in str(error)


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    text = default_partnership_path().read_text().replace("  NM2: northmoor", "  NM1: eastvale")
    assert "areas.NM1: key repeated" in str(refusal(tmp_path, text))


def test_a_file_that_is_not_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    error = refusal(tmp_path, "partnership: x\nareas: [unclosed\n")
    assert error.problems[0].line is not None
    assert "is not YAML" in str(error)


@pytest.mark.parametrize("text", ["", "- just\n- a list\n"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    assert "(top)" in str(refusal(tmp_path, text))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PartnershipError, match="cannot be read"):
        load_partnership(tmp_path / "absent.yaml")


def test_a_partnership_built_in_code_is_checked_too() -> None:
    document = reference()
    document["rules"][2]["route"] = ["nobody"]
    with pytest.raises(ValidationError, match=r"rules\[2\]\.route\[0\]: unknown agency id"):
        Partnership.model_validate(document)
