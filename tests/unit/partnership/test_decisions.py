"""Decision codes, decision deadlines and rule descriptions in the partnership file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.v1.concern import Severity
from services.partnership import (
    AgencyKind,
    WithinWorkingDays,
    default_partnership_path,
    load_partnership,
)
from tests.builders import the_reference_partnership
from tests.unit.partnership.test_partnership import Change, reference, refusal, remover, setter

EVERY_KIND_DECIDES = {"noted", "action_taken", "referred_on"}


def test_childrens_social_care_decides_as_working_together_names_the_responses() -> None:
    codes = the_reference_partnership().decision_codes("nm-csc")
    assert [c.code for c in codes] == [
        "no_further_action",
        "information_and_advice",
        "early_help",
        "child_and_family_assessment",
        "strategy_discussion",
        "open_case_updated",
    ]


@pytest.mark.parametrize("agency", [a.id for a in the_reference_partnership().agencies])
def test_every_agency_of_the_reference_has_decision_codes_with_labels(agency: str) -> None:
    partnership = the_reference_partnership()
    codes = partnership.decision_codes(agency)
    assert codes
    assert all(c.label.strip() for c in codes)
    if partnership.agency(agency).kind is not AgencyKind.CHILDRENS_SOCIAL_CARE:
        assert {c.code for c in codes} >= EVERY_KIND_DECIDES


def test_a_decision_code_has_the_label_people_read() -> None:
    partnership = the_reference_partnership()
    assert partnership.decision_label("ev-csc", "strategy_discussion") == (
        "Strategy discussion (section 47)"
    )
    assert partnership.decision_label("nme-police", "referred_on") == "Referred on"


def test_an_unknown_decision_code_has_no_label() -> None:
    partnership = the_reference_partnership()
    assert partnership.decision_label("nm-csc", "noted") is None
    assert partnership.decision_label("nme-police", "strategy_discussion") is None


def test_an_unknown_agency_has_no_decision_codes() -> None:
    with pytest.raises(KeyError):
        the_reference_partnership().decision_codes("nm-nobody")
    with pytest.raises(KeyError):
        the_reference_partnership().decision_label("nm-nobody", "noted")


def test_the_codes_handed_out_cannot_change_the_partnership() -> None:
    partnership = the_reference_partnership()
    partnership.decision_codes("nm-csc").clear()
    assert partnership.decision_codes("nm-csc")


def written(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "partnership.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_kind_not_listed_takes_the_default_codes(tmp_path: Path) -> None:
    document = reference()
    del document["decisions"]["youth_justice"]
    document["decisions"]["default"] = [{"code": "considered", "label": "Considered"}]
    partnership = load_partnership(written(tmp_path, document))
    assert [c.code for c in partnership.decision_codes("nm-yjs")] == ["considered"]
    assert partnership.decision_label("nm-yjs", "considered") == "Considered"
    assert partnership.decision_label("nme-police", "considered") is None


def test_children_s_social_care_decides_within_one_working_day_whatever_the_severity() -> None:
    partnership = the_reference_partnership()
    for severity in Severity:
        assert partnership.decision_time("nm-csc", severity) == WithinWorkingDays(working_days=1)


def test_a_kind_not_listed_takes_the_default_decision_deadlines() -> None:
    partnership = the_reference_partnership()
    assert partnership.decision_time("nme-police", Severity.IMMEDIATE) == timedelta(hours=4)
    assert partnership.decision_time(AgencyKind.SCHOOL, Severity.LOW) == WithinWorkingDays(
        working_days=5
    )
    assert partnership.decision_time("health", Severity.MEDIUM) == WithinWorkingDays(working_days=3)
    with pytest.raises(KeyError):
        partnership.decision_time("nm-nobody", Severity.LOW)


def codes(*names: str) -> list[dict[str, str]]:
    return [{"code": name, "label": name.replace("_", " ").capitalize()} for name in names]


MISTAKES: list[tuple[str, Change, str]] = [
    (
        "repeated code",
        setter("decisions", "police", value=codes("noted", "action_taken", "noted")),
        "decisions.police[2].code: 'noted' is listed twice",
    ),
    (
        "code not a slug",
        setter("decisions", "police", value=codes("Noted!")),
        "decisions.police[0].code: String should match pattern",
    ),
    (
        "blank label",
        setter("decisions", "police", value=[{"code": "noted", "label": "  "}]),
        "decisions.police[0].label: must not be empty",
    ),
    (
        "label missing",
        setter("decisions", "police", value=[{"code": "noted"}]),
        "decisions.police[0].label: required but missing",
    ),
    (
        "unknown key in a code",
        setter("decisions", "police", value=[{"code": "noted", "label": "Noted", "colour": 1}]),
        "decisions.police[0].colour: unknown key",
    ),
    ("no codes listed", setter("decisions", "police", value=[]), "decisions.police: List should"),
    (
        "kind without codes",
        remover("decisions", "youth_justice"),
        "decisions: no decision codes for agency kind youth_justice (agency nm-yjs): "
        "give decisions.youth_justice or decisions.default",
    ),
    (
        "unknown agency kind",
        setter("decisions", "polise", value=codes("noted")),
        "decisions.polise: unknown agency kind 'polise'",
    ),
    ("no decisions at all", remover("decisions"), "decisions: required but missing"),
    (
        "bad decision duration",
        setter("decide_within", "default", "immediate", value="4 hours"),
        "decide_within.default.immediate: '4 hours' is not an ISO 8601 duration",
    ),
    (
        "months in a decision duration",
        setter("decide_within", "default", "low", value="P1M"),
        "decide_within.default.low: 'P1M' is not an ISO 8601 duration",
    ),
    (
        "decision time as a number",
        setter("decide_within", "default", "immediate", value=4),
        "decide_within.default.immediate: give an ISO 8601 duration such as PT4H, "
        "or {working_days: N}",
    ),
    (
        "zero working days",
        setter("decide_within", "default", "high", value={"working_days": 0}),
        "decide_within.default.high.working_days: Input should be greater than or equal to 1",
    ),
    (
        "working days as text",
        setter("decide_within", "default", "high", value={"working_days": "1"}),
        "decide_within.default.high.working_days",
    ),
    (
        "calendar days are not working days",
        setter("decide_within", "default", "high", value={"days": 1}),
        "decide_within.default.high.days: unknown key",
    ),
    (
        "severity without a decision deadline",
        remover("decide_within", "default", "low"),
        "decide_within.default: no deadline for severity low",
    ),
    (
        "kind without decision deadlines",
        remover("decide_within", "default"),
        "decide_within: no decision deadlines for agency kind police (agency nme-police)",
    ),
    (
        "unknown time zone",
        setter("working_days", "timezone", value="Europe/Londres"),
        "working_days.timezone: 'Europe/Londres' is not an IANA time zone",
    ),
    (
        "unknown bank-holiday calendar",
        setter("working_days", "calendar", value="wales"),
        "working_days.calendar",
    ),
    (
        "closure listed twice",
        setter("working_days", "closures", value=["2026-12-24", "2026-12-24"]),
        "working_days.closures[1]: 2026-12-24 is listed twice",
    ),
    (
        "closure not a date",
        setter("working_days", "closures", value=["24/12/2026"]),
        "working_days.closures[0]",
    ),
    (
        "blank rule description",
        setter("rules", 0, "description", value=""),
        "rules[0].description: must not be empty",
    ),
    (
        "rule named as the escalation reason",
        setter("rules", 1, "id", value="escalation"),
        "rules[1].id: 'escalation' is used twice or reserved",
    ),
    (
        "rule named as the cumulative-concern reason",
        setter("rules", 1, "id", value="cumulative_concern"),
        "rules[1].id: 'cumulative_concern' is used twice or reserved",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_decision_mistake_is_refused_naming_place_and_reason(
    tmp_path: Path, case: str, change: Change, expected: str
) -> None:
    document = reference()
    change(document)
    error = refusal(tmp_path, yaml.safe_dump(document, sort_keys=False))
    assert expected in str(error)


def line_of(text: str, needle: str, start: str = "") -> int:
    return text[: text.index(needle, text.index(start))].count("\n") + 1


def test_a_repeated_decision_code_is_refused_at_its_line(tmp_path: Path) -> None:
    text = default_partnership_path().read_text()
    repeated = "    - {code: referred_on, label: Referred on}\n  health:"
    error = refusal(
        tmp_path, text.replace(repeated, "    - {code: noted, label: Noted}\n  health:")
    )
    line = line_of(text, "{code: referred_on", start="\n  school:\n")
    assert (
        str(error.problems[0]) == f"line {line}, decisions.school[2].code: 'noted' is listed twice"
    )


def test_a_kind_without_codes_is_refused_at_the_decisions_line(tmp_path: Path) -> None:
    text = default_partnership_path().read_text()
    start = text.index("  youth_justice:\n    - {code: noted")
    end = text.index("\n\n", start)
    error = refusal(tmp_path, text[:start] + text[end + 1 :])
    assert [(p.place, p.line) for p in error.problems] == [
        ("decisions", line_of(text, "\ndecisions:") + 1)
    ]
    assert "agency kind youth_justice (agency nm-yjs)" in error.problems[0].reason


def test_every_rule_of_the_reference_reads_as_a_sentence() -> None:
    partnership = the_reference_partnership()
    for rule in partnership.rules:
        assert rule.description
        assert partnership.rule_description(rule.id) == rule.description
    assert partnership.rule_description("home-social-care") == (
        "Any concern goes to the children's social care of the child's home area"
    )


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("fallback", "fallback receives it"),
        ("cumulative_concern", "Several agencies have raised concerns"),
        ("escalation", "not acknowledged or decided by its deadline"),
    ],
)
def test_built_in_reasons_have_their_own_description(reason: str, words: str) -> None:
    assert words in the_reference_partnership().rule_description(reason)


def test_a_rule_without_description_or_an_unknown_one_reads_as_its_id(tmp_path: Path) -> None:
    document = reference()
    del document["rules"][0]["description"]
    partnership = load_partnership(written(tmp_path, document))
    assert partnership.rule_description("home-social-care") == "home-social-care"
    assert partnership.rule_description("a-rule-since-removed") == "a-rule-since-removed"
