"""Pure: a partnership's policy (areas, agencies, profiles, deadlines, rules) and its checks."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.v1.concern import Category, Severity
from schemas.v1.disclosure import DISCLOSABLE_FIELDS, SUBJECT_FIELDS
from services.partnership.decisions import (
    DecideWithin,
    DecisionCode,
    DecisionCodes,
    WithinWorkingDays,
    WorkingCalendar,
    decision_problems,
    for_kind,
)
from services.partnership.destinations import (
    DeliveryPolicy,
    Destination,
    KafkaDestination,
    WebhookDestination,
    destination_problems,
)
from services.partnership.fields import AgencyKind, Count, Duration, Label, Loc, Slug
from services.partnership.fields import Strict as _Strict
from services.partnership.fields import repeated as _repeated

CHECK_LATER = "partnership.check_cross_references_later"
# Reasons a notification gives that no rule of the file names; a rule may not take their ids.
BUILT_IN_REASONS = {
    "fallback": "No children's social care was found, so the partnership's fallback receives it",
    "cumulative_concern": (
        "Several agencies have raised concerns about this child within the partnership's "
        "window, so the children's social care of the child's home area is alerted"
    ),
    "escalation": (
        "It was not acknowledged or decided by its deadline, so it is passed on again and "
        "to the children's social care of the child's home area"
    ),
    "feedback": "The decision of an agency that received the concern, returned to its source",
}


def _profile_field(value: str) -> str:
    if value not in DISCLOSABLE_FIELDS:
        raise ValueError(f"unknown field {value!r}; known: {', '.join(sorted(DISCLOSABLE_FIELDS))}")
    return value


District = Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")]
ProfileField = Annotated[str, AfterValidator(_profile_field)]
Age = Annotated[StrictInt, Field(ge=0, le=25)]


class RouteTarget(StrEnum):
    """Recipients a rule names by role rather than by agency id."""

    CHILDRENS_SOCIAL_CARE_OF_HOME_AREA = "childrens_social_care_of_home_area"
    CHILDRENS_SOCIAL_CARE_OF_INCIDENT_AREA = "childrens_social_care_of_incident_area"
    SCHOOL_OF_SUBJECT = "school_of_subject"


class Agency(_Strict):
    """An agency that raises and receives concerns."""

    id: Slug
    name: Annotated[str, Field(min_length=1)]
    kind: AgencyKind
    local_authority: Slug | None = None
    school_urn: Annotated[str, Field(pattern=r"^[0-9]{6,7}$")] | None = None
    profile: str
    fallback: StrictBool = False
    deliveries: list[Destination] = Field(
        default_factory=list, description="The agency's own systems that take its notifications."
    )

    @model_validator(mode="after")
    def _kind_needs(self) -> Agency:
        if self.kind is AgencyKind.CHILDRENS_SOCIAL_CARE and self.local_authority is None:
            raise ValueError("a childrens_social_care agency needs its local_authority")
        if self.kind is AgencyKind.SCHOOL and self.school_urn is None:
            raise ValueError("a school agency needs its school_urn")
        if self.kind is not AgencyKind.SCHOOL and self.school_urn is not None:
            raise ValueError("only a school agency may have a school_urn")
        return self


class Conditions(_Strict):
    """What must all hold for a rule to apply; an empty set always holds."""

    severity_at_least: Severity | None = None
    category_in: Annotated[list[Category], Field(min_length=1)] | None = None
    age_under: Age | None = None
    age_at_least: Age | None = None
    home_local_authority_in: Annotated[list[Slug], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _satisfiable(self) -> Conditions:
        if (
            self.age_under is not None
            and self.age_at_least is not None
            and self.age_at_least >= self.age_under
        ):
            raise ValueError("age_at_least must be below age_under, or the rule never applies")
        return self


class Rule(_Strict):
    """When the conditions hold, send the concern to these recipients."""

    id: Slug
    description: Label | None = None
    when: Conditions = Field(default_factory=Conditions)
    route: Annotated[list[Slug], Field(min_length=1)] | RouteTarget

    @field_validator("route", mode="before")
    @classmethod
    def _route_shape(cls, value: object) -> object:
        if isinstance(value, str) and value not in set(RouteTarget):
            targets = ", ".join(RouteTarget)
            raise ValueError(
                f"unknown target {value!r}: give a list of agency ids or one of {targets}"
            )
        if not isinstance(value, str | list) or value == []:
            raise ValueError("give a list of agency ids or the name of one target")
        return value


class CumulativeConcern(_Strict):
    """Thresholds for alerting children's social care to a child with several concerns."""

    window: Duration
    min_concerns: Count
    min_source_agencies: Count


# Three years: long enough for every deadline, escalation, revised decision and a child
# safeguarding practice review to find what was shared as it was shared; short enough that the
# exchange never becomes a second case record. Each agency keeps its own under its own schedule.
DEFAULT_PERSONAL_CONTENT_RETENTION = timedelta(days=1095)


class Retention(_Strict):
    """How long routing keeps a concern's personal content: narrative, household, reporter."""

    personal_content: Duration = DEFAULT_PERSONAL_CONTENT_RETENTION


class Partnership(_Strict):
    """A safeguarding partnership's routing policy, as loaded from its file."""

    partnership: Slug
    policy_version: Annotated[str, Field(min_length=1)]
    areas: dict[District, Slug]
    agencies: Annotated[list[Agency], Field(min_length=1)]
    sharing_profiles: dict[Slug, list[ProfileField]]
    ack_within: dict[Severity, Duration]
    rules: list[Rule]
    cumulative_concern: CumulativeConcern
    decisions: DecisionCodes
    working_days: WorkingCalendar = Field(default_factory=WorkingCalendar)
    decide_within: DecideWithin
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    retention: Retention = Field(default_factory=Retention)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Partnership:
        if isinstance(info.context, dict) and info.context.get(CHECK_LATER):
            return self
        problems = cross_reference_problems(self)
        if problems:
            raise ValueError("; ".join(f"{place(loc)}: {reason}" for loc, reason in problems))
        return self

    def has_agency(self, agency_id: str) -> bool:
        """Whether an agency of this id is in the partnership."""
        return any(agency.id == agency_id for agency in self.agencies)

    def agency(self, agency_id: str) -> Agency:
        """The agency with this id (KeyError if there is none)."""
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(agency_id)

    @property
    def fallback_agency(self) -> Agency:
        """The agency that receives what no children's social care could be found for."""
        return next(agency for agency in self.agencies if agency.fallback)

    def kind_of(self, agency: str | AgencyKind) -> AgencyKind:
        """The kind of an agency given by id, or the kind itself (KeyError if neither)."""
        if isinstance(agency, AgencyKind):
            return agency
        if self.has_agency(agency):
            return self.agency(agency).kind
        if agency in set(AgencyKind):
            return AgencyKind(agency)
        raise KeyError(agency)

    def destinations(self, agency_id: str) -> list[WebhookDestination | KafkaDestination]:
        """Where an agency's own systems take its notifications (none for an unknown agency)."""
        found = next((agency for agency in self.agencies if agency.id == agency_id), None)
        return list(found.deliveries) if found else []

    def decision_codes(self, agency_id: str) -> list[DecisionCode]:
        """The decisions this agency may record, in the file's order (KeyError if unknown)."""
        codes = for_kind(self.decisions, self.agency(agency_id).kind)
        return list(codes or [])

    def decision_label(self, agency_id: str, code: str) -> str | None:
        """The words for one of this agency's decision codes; None if it has no such code."""
        return next((c.label for c in self.decision_codes(agency_id) if c.code == code), None)

    def decision_time(
        self, agency: str | AgencyKind, severity: Severity
    ) -> timedelta | WithinWorkingDays:
        """How long an agency (by id or kind) has to decide on a notification of this severity."""
        deadlines = for_kind(self.decide_within, self.kind_of(agency))
        if deadlines is None:
            raise KeyError(agency)
        return deadlines[severity]

    def rule_description(self, rule_id: str) -> str:
        """The sentence a person reads for a reason: the rule's description, else its id."""
        if rule_id in BUILT_IN_REASONS:
            return BUILT_IN_REASONS[rule_id]
        # A reason may name a rule a later policy version dropped; its id still says something.
        rule = next((rule for rule in self.rules if rule.id == rule_id), None)
        return rule.description if rule and rule.description else rule_id


def _agency_problems(p: Partnership) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    cscs = [a for a in p.agencies if a.kind is AgencyKind.CHILDRENS_SOCIAL_CARE]
    repeated = {
        "id": _repeated([a.id for a in p.agencies]),
        "school_urn": _repeated([a.school_urn for a in p.agencies]),
        "local_authority": _repeated([a.local_authority for a in cscs]),
    }
    for i, agency in enumerate(p.agencies):
        for key, values in repeated.items():
            value = getattr(agency, key)
            if value in values and (key != "local_authority" or agency in cscs):
                problems.append((("agencies", i, key), f"{value!r} is used by two agencies"))
        if agency.profile not in p.sharing_profiles:
            known = ", ".join(p.sharing_profiles)
            problems.append(
                (
                    ("agencies", i, "profile"),
                    f"unknown sharing profile {agency.profile!r}; known: {known}",
                )
            )
        problems += destination_problems(i, agency.deliveries)
        if agency.fallback and agency not in cscs:
            problems.append(
                (("agencies", i, "fallback"), "the fallback must be childrens_social_care")
            )
    fallbacks = sum(agency.fallback for agency in p.agencies)
    if fallbacks != 1:
        problems.append(
            (("agencies",), f"exactly one agency must be fallback: true, not {fallbacks}")
        )
    return problems


def _rule_problems(p: Partnership) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    agency_ids = {agency.id for agency in p.agencies}
    authorities = set(p.areas.values()) | {a.local_authority for a in p.agencies}
    repeated_ids = _repeated([rule.id for rule in p.rules]) | set(BUILT_IN_REASONS)
    for i, rule in enumerate(p.rules):
        if rule.id in repeated_ids:
            problems.append((("rules", i, "id"), f"{rule.id!r} is used twice or reserved"))
        for j, agency_id in enumerate(rule.route if isinstance(rule.route, list) else []):
            if agency_id not in agency_ids:
                problems.append((("rules", i, "route", j), f"unknown agency id {agency_id!r}"))
        for j, authority in enumerate(rule.when.home_local_authority_in or []):
            if authority not in authorities:
                where: Loc = ("rules", i, "when", "home_local_authority_in", j)
                problems.append((where, f"unknown local authority {authority!r}"))
    return problems


def cross_reference_problems(p: Partnership) -> list[tuple[Loc, str]]:
    """Everything that refers to something missing, repeats an id, or leaves a gap."""
    problems = _agency_problems(p) + _rule_problems(p)
    for name, fields in p.sharing_profiles.items():
        for j, field in enumerate(fields):
            if fields.index(field) != j:
                problems.append((("sharing_profiles", name, j), f"{field!r} is listed twice"))
            elif field in SUBJECT_FIELDS and "subject" in fields:
                problems.append((("sharing_profiles", name, j), f"{field!r} is within 'subject'"))
    missing = [severity.value for severity in Severity if severity not in p.ack_within]
    if missing:
        problems.append((("ack_within",), f"no deadline for severity {', '.join(missing)}"))
    return problems + decision_problems(p.agencies, p.decisions, p.decide_within, p.working_days)


def place(loc: Loc) -> str:
    """A place in the file as a person reads it: rules[2].when.age_under."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "[" not in part and "(" not in part:  # pydantic's union and key tags name no place
            text += f".{part}" if text else part
    return text or "(top)"
