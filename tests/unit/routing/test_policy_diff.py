"""The preview of a policy change on a seeded history, checked against cases worked by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from schemas.v1.concern import Severity
from services.partnership import Partnership, Rule
from services.routing.policy_diff import AgencyChange, PastConcern, diff_policies
from tests.builders import RECEIVED, a_concern, the_reference_partnership

OLD = the_reference_partnership()


def concern_id(n: int) -> UUID:
    return UUID(int=n)


def past(n: int, source: str, **changes: Any) -> PastConcern:
    """The n-th concern of the history, received n hours after the first."""
    return PastConcern(
        concern_id=concern_id(n),
        concern=a_concern(**changes),
        source_agency=source,
        received_at=RECEIVED + timedelta(hours=n),
    )


# Every child is 8, lives in Northmoor (NM1) and goes to Oakfield Primary unless said otherwise.
HISTORY = [
    # old: nm-csc. new: nm-csc and the police (serious harm now starts at medium).
    past(1, "nm-hospital-ed", severity="medium", category="other"),
    # old and new: nm-csc and the police; the school raised it, so it is not told.
    past(2, "nm-school-oakfield", severity="high", category="neglect"),
    # old: nm-csc and youth justice (exploitation at 12); new: nm-csc only (rule removed).
    past(
        3,
        "nme-police",
        severity="medium",
        category="child_exploitation",
        subject={"date_of_birth": "2014-03-01"},
    ),
    # old and new: nm-csc and the school, which would no longer see the date of birth.
    past(4, "nm-hospital-ed", severity="low", category="neglect"),
    # old: nm-csc and the school; new: also the police, and the school sees less.
    past(5, "nm-hospital-ed", severity="medium", category="neglect"),
]


def changed_policy() -> Partnership:
    """Police at medium, no youth justice rule, schools no longer see the date of birth."""
    rules: list[Rule] = []
    for rule in OLD.rules:
        if rule.id == "yjs-exploitation":
            continue
        if rule.id == "police-serious-harm":
            rule = rule.model_copy(
                update={"when": rule.when.model_copy(update={"severity_at_least": Severity.MEDIUM})}
            )
        rules.append(rule)
    profiles = dict(OLD.sharing_profiles)
    profiles["school"] = [f for f in profiles["school"] if f != "subject.date_of_birth"]
    return OLD.model_copy(
        update={"policy_version": "2026.12.1", "rules": rules, "sharing_profiles": profiles}
    )


def by_agency(changes: tuple[AgencyChange, ...]) -> dict[str, AgencyChange]:
    return {change.agency: change for change in changes}


def test_the_diff_names_both_versions_and_counts_the_concerns_it_replayed() -> None:
    diff = diff_policies(HISTORY, old=OLD, new=changed_policy())
    assert (diff.old_version, diff.new_version) == ("2026.11.1", "2026.12.1")
    assert diff.replayed == 5
    assert diff.affected == 4
    assert diff.sample_affected == (concern_id(1), concern_id(3), concern_id(4), concern_id(5))


def test_police_gain_the_medium_concerns_under_the_serious_harm_rule() -> None:
    police = by_agency(diff_policies(HISTORY, old=OLD, new=changed_policy()).agencies)["nme-police"]
    assert (police.gained, police.lost, police.rerouted) == (2, 0, 0)
    assert dict(police.gained_by_rule) == {"police-serious-harm": 2}
    assert police.sample_gained == [concern_id(1), concern_id(5)]
    assert police.fields_newly_seen == police.fields_no_longer_seen == []


def test_youth_justice_loses_the_exploitation_concern_it_had_by_its_rule() -> None:
    yjs = by_agency(diff_policies(HISTORY, old=OLD, new=changed_policy()).agencies)["nm-yjs"]
    assert (yjs.gained, yjs.lost) == (0, 1)
    assert dict(yjs.lost_by_rule) == {"yjs-exploitation": 1}
    assert yjs.sample_lost == [concern_id(3)]


def test_every_school_stops_seeing_the_date_of_birth_and_oakfield_on_two_concerns() -> None:
    agencies = by_agency(diff_policies(HISTORY, old=OLD, new=changed_policy()).agencies)
    for school in ("nm-school-oakfield", "nm-school-riverside", "ev-school-hilltop"):
        assert agencies[school].fields_no_longer_seen == ["subject.date_of_birth"]
        assert agencies[school].fields_newly_seen == []
    assert agencies["nm-school-oakfield"].disclosure_changed == 2
    assert agencies["nm-school-riverside"].disclosure_changed == 0


def test_agencies_nothing_changes_for_are_left_out() -> None:
    agencies = by_agency(diff_policies(HISTORY, old=OLD, new=changed_policy()).agencies)
    assert "nm-csc" not in agencies
    assert "nm-hospital-ed" not in agencies


def test_a_renamed_rule_reroutes_without_gaining_or_losing() -> None:
    rules = [
        r.model_copy(update={"id": "home-area-social-care"}) if r.id == "home-social-care" else r
        for r in OLD.rules
    ]
    new = OLD.model_copy(update={"policy_version": "2026.12.2", "rules": rules})
    csc = by_agency(diff_policies(HISTORY, old=OLD, new=new).agencies)["nm-csc"]
    assert (csc.gained, csc.lost, csc.rerouted) == (0, 0, 5)


def test_the_same_policy_changes_nothing() -> None:
    diff = diff_policies(HISTORY, old=OLD, new=OLD)
    assert diff.affected == 0
    assert diff.agencies == ()


def test_the_json_holds_ids_counts_and_field_names_never_content() -> None:
    document = diff_policies(HISTORY, old=OLD, new=changed_policy()).as_json()
    text = str(document)
    for content in ("Amelia", "Stone", "hungry", "Full account", "NM1 1AA", "Sam Reid"):
        assert content not in text
    assert document["concerns_affected"] == 4
