"""Pure: a partnership's policy (areas, agencies, profiles, deadlines, rules) and its checks."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.v1.concern import Category, Severity
from schemas.v1.disclosure import DISCLOSABLE_FIELDS, SUBJECT_FIELDS

Loc = tuple[str | int, ...]
CHECK_LATER = "partnership.check_cross_references_later"
# Years and months have no fixed length, so only weeks, days and times are accepted.
_ISO_DURATION = re.compile(
    r"^P(?:\d+W|(?=\d|T\d)(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)$"
)


def _iso_duration(value: object) -> object:
    if not isinstance(value, str) or not _ISO_DURATION.match(value):
        raise ValueError(
            f"{value!r} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds "
            "(years and months vary in length), such as PT15M, P1D or P2W"
        )
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


def _profile_field(value: str) -> str:
    if value not in DISCLOSABLE_FIELDS:
        raise ValueError(f"unknown field {value!r}; known: {', '.join(sorted(DISCLOSABLE_FIELDS))}")
    return value


Duration = Annotated[timedelta, BeforeValidator(_iso_duration), AfterValidator(_positive)]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
District = Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")]
ProfileField = Annotated[str, AfterValidator(_profile_field)]
Count = Annotated[StrictInt, Field(ge=1)]
Age = Annotated[StrictInt, Field(ge=0, le=25)]


class AgencyKind(StrEnum):
    """What an agency is; children's social care and schools have routing meaning."""

    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    POLICE = "police"
    SCHOOL = "school"
    HEALTH = "health"
    YOUTH_JUSTICE = "youth_justice"


class RouteTarget(StrEnum):
    """Recipients a rule names by role rather than by agency id."""

    CHILDRENS_SOCIAL_CARE_OF_HOME_AREA = "childrens_social_care_of_home_area"
    CHILDRENS_SOCIAL_CARE_OF_INCIDENT_AREA = "childrens_social_care_of_incident_area"
    SCHOOL_OF_SUBJECT = "school_of_subject"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agency(_Strict):
    """An agency that raises and receives concerns."""

    id: Slug
    name: Annotated[str, Field(min_length=1)]
    kind: AgencyKind
    local_authority: Slug | None = None
    school_urn: Annotated[str, Field(pattern=r"^[0-9]{6,7}$")] | None = None
    profile: str
    fallback: StrictBool = False

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


def _repeated(values: list[str | None]) -> set[str]:
    return {v for v, count in Counter(values).items() if v is not None and count > 1}


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
    repeated_ids = _repeated([rule.id for rule in p.rules]) | {"fallback"}
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
    return problems


def place(loc: Loc) -> str:
    """A place in the file as a person reads it: rules[2].when.age_under."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "[" not in part and "(" not in part:  # pydantic's union and key tags name no place
            text += f".{part}" if text else part
    return text or "(top)"
