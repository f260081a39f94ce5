"""Pure routing decisions: who receives a concern, by when, and when a child's concerns add up.

No I/O and no clock: every time is passed in. A naive datetime is taken to be UTC.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol, TypeVar
from uuid import UUID

from schemas.v1.concern import ConcernSubmission, Severity, Subject, postcode_district
from services.partnership import AgencyKind, Conditions, Partnership, RouteTarget, Rule
from services.partnership.deadlines import decision_deadline

FALLBACK = "fallback"


@dataclass(frozen=True)
class Recipient:
    """One agency a concern goes to: why, what it may see, and by when it must acknowledge."""

    agency: str
    reasons: tuple[str, ...]
    profile: str
    fields: tuple[str, ...]
    acknowledge_by: datetime
    # When its decision is due (every recipient of a routed concern is expected to decide).
    decide_by: datetime | None = None


@dataclass(frozen=True)
class RoutingDecision:
    """Where one concern goes, under which version of the partnership's policy."""

    source_agency: str
    received_at: datetime
    policy_version: str
    home_local_authority: str | None
    incident_local_authority: str | None
    recipients: tuple[Recipient, ...]

    @property
    def agencies(self) -> list[str]:
        """The recipient agency ids, in the order the rules first named them."""
        return [recipient.agency for recipient in self.recipients]

    def reasons(self) -> set[tuple[str, str]]:
        """Every (agency, reason) pair of the decision."""
        return {(r.agency, reason) for r in self.recipients for reason in r.reasons}


def decide_recipients(
    concern: ConcernSubmission,
    *,
    source_agency: str,
    received_at: datetime,
    partnership: Partnership,
) -> RoutingDecision:
    """Apply every rule of the partnership to a concern and name its recipients and reasons."""
    home = local_authority_of(concern.subject.postcode, partnership)
    incident = local_authority_of(concern.location.postcode, partnership)
    age = age_when_received(concern.subject.date_of_birth, received_at)
    reasons: dict[str, list[str]] = {}
    for rule in partnership.rules:
        if _holds(rule.when, concern, age=age, home=home):
            for agency_id in _targets(rule, concern, partnership, home=home, incident=incident):
                if rule.id not in reasons.setdefault(agency_id, []):
                    reasons[agency_id].append(rule.id)
    csc = AgencyKind.CHILDRENS_SOCIAL_CARE
    if not any(partnership.agency(agency_id).kind is csc for agency_id in reasons):
        reasons.setdefault(partnership.fallback_agency.id, []).append(FALLBACK)
    # Removed only now: a children's social care agency that raised the concern already holds
    # it, so it must count above and spare the fallback; the fallback itself may be the source.
    reasons.pop(source_agency, None)
    deadline = acknowledgement_deadline(received_at, concern.severity, partnership)
    recipients = tuple(
        Recipient(
            agency=agency_id,
            reasons=tuple(rule_ids),
            profile=partnership.agency(agency_id).profile,
            fields=tuple(partnership.sharing_profiles[partnership.agency(agency_id).profile]),
            acknowledge_by=deadline,
            decide_by=decision_deadline(received_at, agency_id, concern.severity, partnership),
        )
        for agency_id, rule_ids in reasons.items()
    )
    return RoutingDecision(
        source_agency=source_agency,
        received_at=received_at,
        policy_version=partnership.policy_version,
        home_local_authority=home,
        incident_local_authority=incident,
        recipients=recipients,
    )


def _holds(when: Conditions, concern: ConcernSubmission, *, age: int, home: str | None) -> bool:
    return (
        (when.severity_at_least is None or concern.severity.rank >= when.severity_at_least.rank)
        and (when.category_in is None or concern.category in when.category_in)
        and (when.age_under is None or age < when.age_under)
        and (when.age_at_least is None or age >= when.age_at_least)
        and (when.home_local_authority_in is None or home in when.home_local_authority_in)
    )


def _targets(
    rule: Rule,
    concern: ConcernSubmission,
    partnership: Partnership,
    *,
    home: str | None,
    incident: str | None,
) -> list[str]:
    if isinstance(rule.route, list):
        return rule.route
    found = {
        RouteTarget.CHILDRENS_SOCIAL_CARE_OF_HOME_AREA: childrens_social_care_of(home, partnership),
        RouteTarget.CHILDRENS_SOCIAL_CARE_OF_INCIDENT_AREA: childrens_social_care_of(
            incident, partnership
        ),
        RouteTarget.SCHOOL_OF_SUBJECT: school_of(concern.subject.school_urn, partnership),
    }[rule.route]
    return [] if found is None else [found]


def local_authority_of(postcode: str | None, partnership: Partnership) -> str | None:
    """The local authority of a postcode's district, if the partnership covers it."""
    return None if postcode is None else partnership.areas.get(postcode_district(postcode))


def childrens_social_care_of(local_authority: str | None, partnership: Partnership) -> str | None:
    """The id of the children's social care agency of a local authority, if there is one."""
    return next(
        (
            agency.id
            for agency in partnership.agencies
            if agency.kind is AgencyKind.CHILDRENS_SOCIAL_CARE
            and local_authority is not None
            and agency.local_authority == local_authority
        ),
        None,
    )


def school_of(school_urn: str | None, partnership: Partnership) -> str | None:
    """The id of the school agency with this URN, if there is one."""
    return next(
        (
            agency.id
            for agency in partnership.agencies
            if agency.kind is AgencyKind.SCHOOL
            and school_urn is not None
            and agency.school_urn == school_urn
        ),
        None,
    )


def home_childrens_social_care(concern: ConcernSubmission, partnership: Partnership) -> str:
    """The children's social care of the child's home area, else the fallback agency."""
    home = local_authority_of(concern.subject.postcode, partnership)
    return childrens_social_care_of(home, partnership) or partnership.fallback_agency.id


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def age_when_received(date_of_birth: date, received_at: datetime) -> int:
    """Whole years of age on the (UTC) day the concern was received."""
    day = _utc(received_at).date()
    # Comparing (month, day) makes a 29 February birthday fall on 1 March in other years,
    # as UK law counts it.
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def acknowledgement_deadline(
    received_at: datetime, severity: Severity, partnership: Partnership
) -> datetime:
    """When a notification of this severity must be acknowledged."""
    return received_at + partnership.ack_within[severity]


def is_overdue(acknowledge_by: datetime, now: datetime) -> bool:
    """Whether an unacknowledged notification is past its deadline (at the deadline is in time)."""
    return _utc(now) > _utc(acknowledge_by)


def normalise_name(name: str) -> str:
    """A name reduced to its letters: case-folded, accents stripped, spaces and hyphens gone."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if char.isalpha())


def child_match_keys(subject: Subject, *, secret: bytes) -> list[str]:
    """Keys under which the same child is recognised across concerns and agencies.

    `nhs:` when the NHS number is known, `names-dob:` from the normalised given and family
    names and the date of birth whenever both names keep a letter. A child is the same child
    when any key is shared, so a concern with an NHS number also finds an earlier record without
    one by names and date of birth. Keys are HMAC-SHA256 under `secret`, not plain digests: an
    NHS number has only about 10**9 values, so a plain hash could be reversed by trying them all,
    while without the secret a key says nothing.
    """
    keys: list[str] = []
    if subject.nhs_number:
        keys.append("nhs:" + _digest(subject.nhs_number, secret))
    given, family = normalise_name(subject.given_name), normalise_name(subject.family_name)
    if given and family:
        keys.append("names-dob:" + _digest(f"{given}|{family}|{subject.date_of_birth}", secret))
    return keys


def _digest(text: str, secret: bytes) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


class ChronologyItem(Protocol):
    """What the cumulative-concern check needs of each earlier concern (a ChronologyEntry fits)."""

    @property
    def concern_id(self) -> UUID: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def source_agency(self) -> str: ...


Item = TypeVar("Item", bound=ChronologyItem)


def in_window(
    chronology: Iterable[Item], *, received_at: datetime, partnership: Partnership
) -> list[Item]:
    """The distinct concerns received in the window ending at received_at, oldest first."""
    start = _utc(received_at) - partnership.cumulative_concern.window
    found: dict[UUID, Item] = {}
    for item in chronology:
        if start <= _utc(item.received_at) <= _utc(received_at):
            found.setdefault(item.concern_id, item)
    return sorted(found.values(), key=lambda item: _utc(item.received_at))


def cumulative_alert_due(
    chronology: Iterable[ChronologyItem],
    *,
    received_at: datetime,
    partnership: Partnership,
    already_alerted_at: datetime | None,
) -> bool:
    """Whether a concern received now makes the child's concerns cross the alert threshold.

    The chronology is the child's concerns including the one just received. Counted are the
    distinct concerns received in the window [received_at - window, received_at] and, when an
    alert was raised before, received strictly after it (`already_alerted_at` is the received
    time of the concern that raised it). So each concern counts towards at most one alert:
    after an alert, another needs a fresh set of min_concerns concerns from min_source_agencies
    agencies, and a redelivered concern never raises the same alert twice.
    """
    counted = [
        item
        for item in in_window(chronology, received_at=received_at, partnership=partnership)
        if already_alerted_at is None or _utc(item.received_at) > _utc(already_alerted_at)
    ]
    thresholds = partnership.cumulative_concern
    sources = {item.source_agency for item in counted}
    return (
        len(counted) >= thresholds.min_concerns and len(sources) >= thresholds.min_source_agencies
    )
