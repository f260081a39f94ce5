"""Pure: what a change of partnership policy would have done to concerns already routed.

Each past concern is decided again under the old and the new policy by `decide_recipients`, the
code routing itself runs; no I/O and no clock. The answer holds ids, counts and field names only,
never a concern's content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.v1.concern import ConcernSubmission
from services.partnership import Partnership
from services.routing.policy import RoutingDecision, decide_recipients
from services.routing.profiles import normalise_profile

SAMPLE = 5


@dataclass(frozen=True)
class PastConcern:
    """A concern routing holds: what was raised, by whom, and when it was received."""

    concern_id: UUID
    concern: ConcernSubmission
    source_agency: str
    received_at: datetime


@dataclass
class AgencyChange:
    """How one agency's share of the past concerns would change under the new policy."""

    agency: str
    gained: int = 0
    lost: int = 0
    # Concerns it receives under both, but by other rules.
    rerouted: int = 0
    # Per rule: the new policy's reasons for concerns gained, the old policy's for those lost.
    gained_by_rule: Counter[str] = field(default_factory=Counter)
    lost_by_rule: Counter[str] = field(default_factory=Counter)
    fields_newly_seen: list[str] = field(default_factory=list)
    fields_no_longer_seen: list[str] = field(default_factory=list)
    # Concerns it receives under both policies whose disclosure would gain or lose fields.
    disclosure_changed: int = 0
    sample_gained: list[UUID] = field(default_factory=list)
    sample_lost: list[UUID] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything about this agency differs."""
        return bool(
            self.gained
            or self.lost
            or self.rerouted
            or self.fields_newly_seen
            or self.fields_no_longer_seen
        )


@dataclass(frozen=True)
class PolicyDiff:
    """The old and new policy versions, the concerns replayed, and each agency that changes."""

    old_version: str
    new_version: str
    replayed: int
    affected: int
    agencies: tuple[AgencyChange, ...]
    sample_affected: tuple[UUID, ...]

    def as_json(self) -> dict[str, object]:
        """The diff as one JSON-ready object (ids, counts and field names only)."""
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "concerns_replayed": self.replayed,
            "concerns_affected": self.affected,
            "sample_affected": [str(i) for i in self.sample_affected],
            "agencies": [
                {
                    "agency": a.agency,
                    "gained": a.gained,
                    "lost": a.lost,
                    "rerouted": a.rerouted,
                    "gained_by_rule": dict(sorted(a.gained_by_rule.items())),
                    "lost_by_rule": dict(sorted(a.lost_by_rule.items())),
                    "fields_newly_seen": a.fields_newly_seen,
                    "fields_no_longer_seen": a.fields_no_longer_seen,
                    "disclosure_changed": a.disclosure_changed,
                    "sample_gained": [str(i) for i in a.sample_gained],
                    "sample_lost": [str(i) for i in a.sample_lost],
                }
                for a in self.agencies
            ],
        }


def profile_fields(partnership: Partnership, agency_id: str) -> set[str]:
    """The fields an agency's sharing profile shows (none if it is not in the partnership)."""
    if not partnership.has_agency(agency_id):
        return set()
    profile = partnership.sharing_profiles[partnership.agency(agency_id).profile]
    return set(normalise_profile(profile))


def _reasons(decision: RoutingDecision) -> dict[str, tuple[str, ...]]:
    return {r.agency: r.reasons for r in decision.recipients}


def diff_policies(
    history: Iterable[PastConcern], *, old: Partnership, new: Partnership, sample: int = SAMPLE
) -> PolicyDiff:
    """Replay each past concern under both policies and sum up, per agency, what changes."""
    changes: dict[str, AgencyChange] = {}
    replayed = 0
    affected: list[UUID] = []
    for past in sorted(history, key=lambda p: (p.received_at, p.concern_id)):
        replayed += 1
        before, after = (
            _reasons(
                decide_recipients(
                    past.concern,
                    source_agency=past.source_agency,
                    received_at=past.received_at,
                    partnership=policy,
                )
            )
            for policy in (old, new)
        )
        touched = False
        for agency in sorted(before.keys() | after.keys()):
            change = changes.setdefault(agency, AgencyChange(agency))
            if agency not in before:
                change.gained += 1
                change.gained_by_rule.update(after[agency])
                _add_sample(change.sample_gained, past.concern_id, sample)
            elif agency not in after:
                change.lost += 1
                change.lost_by_rule.update(before[agency])
                _add_sample(change.sample_lost, past.concern_id, sample)
            else:
                rerouted = set(before[agency]) != set(after[agency])
                disclosed = profile_fields(old, agency) != profile_fields(new, agency)
                change.rerouted += rerouted
                change.disclosure_changed += disclosed
                if not (rerouted or disclosed):
                    continue
            touched = True
        if touched:
            affected.append(past.concern_id)
    # Every agency whose profile changes is listed, even one no past concern reached.
    for agency in {a.id for a in old.agencies} | {a.id for a in new.agencies}:
        was, becomes = profile_fields(old, agency), profile_fields(new, agency)
        if was != becomes:
            change = changes.setdefault(agency, AgencyChange(agency))
            change.fields_newly_seen = sorted(becomes - was)
            change.fields_no_longer_seen = sorted(was - becomes)
    return PolicyDiff(
        old_version=old.policy_version,
        new_version=new.policy_version,
        replayed=replayed,
        affected=len(affected),
        agencies=tuple(c for _, c in sorted(changes.items()) if c.changed),
        sample_affected=tuple(affected[:sample]),
    )


def _add_sample(ids: list[UUID], concern_id: UUID, size: int) -> None:
    if len(ids) < size:
        ids.append(concern_id)
