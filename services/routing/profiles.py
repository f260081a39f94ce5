"""Sharing profiles: cut a concern down to what one recipient may see.

A profile is a list of field names. A name without a dot is a whole part of the concern
(`subject`, `household`, `summary`, ...); `subject.<field>` is one field of the child's details.
A withheld part is absent from the disclosed concern (and from its JSON), never blanked. A part
the profile allows is disclosed even when the concern holds no value for it (a `location` with
no postcode, an empty `household`, a child without an NHS number): it is listed in
`disclosed_fields` and travels as `null` or `[]`, because "nothing is known" is itself
something the recipient is allowed to know, and withheld (absent) must stay distinguishable
from unknown (null). A part removed under the retention policy is absent as well (the
notification that carries it is marked removed, see retention.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from schemas.v1.concern import ConcernSubmission
from schemas.v1.disclosure import (
    DISCLOSABLE_FIELDS,
    SUBJECT_FIELDS,
    DisclosedConcern,
    DisclosedSubject,
)
from services.routing.retention import removed_parts


@dataclass(frozen=True)
class Disclosure:
    """A concern as one recipient may see it, and the names of the fields it holds."""

    concern: DisclosedConcern
    disclosed_fields: list[str]


def normalise_profile(fields: Iterable[str]) -> list[str]:
    """Sorted, distinct field names; `subject.x` is dropped when all of `subject` is allowed."""
    allowed = set(fields)
    unknown = allowed - DISCLOSABLE_FIELDS
    if unknown:
        raise ValueError(f"unknown profile fields: {', '.join(sorted(unknown))}")
    if "subject" in allowed:
        allowed -= SUBJECT_FIELDS
    return sorted(allowed)


def apply_sharing_profile(concern: ConcernSubmission, fields: Iterable[str]) -> Disclosure:
    """Disclose only the parts of a concern that a sharing profile allows."""
    names = normalise_profile(fields)
    removed = removed_parts(concern)
    parts: dict[str, Any] = {}
    subject_fields: dict[str, Any] = {}
    for name in names:
        if name == "subject":
            subject_fields = {f: getattr(concern.subject, f) for f in DisclosedSubject.model_fields}
        elif name.startswith("subject."):
            field = name.removeprefix("subject.")
            subject_fields[field] = getattr(concern.subject, field)
        elif name not in removed:
            parts[name] = getattr(concern, name)
    if any(name == "subject" or name.startswith("subject.") for name in names):
        parts["subject"] = DisclosedSubject(**subject_fields)
    return Disclosure(concern=DisclosedConcern(**parts), disclosed_fields=names)
