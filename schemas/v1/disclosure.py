"""A concern cut down to what one recipient may see: withheld parts are absent, not null."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from schemas.v1.concern import HouseholdMember, LawfulBasis, Location, Reporter


class _OnlyDisclosed(BaseModel):
    """Serialises only the fields that were given, so a withheld field never appears."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _drop_withheld(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}


class DisclosedSubject(_OnlyDisclosed):
    """The parts of the child's details this recipient may see."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    nhs_number: str | None = None
    postcode: str | None = None
    school_urn: str | None = None


class DisclosedConcern(_OnlyDisclosed):
    """The parts of a concern this recipient may see, as its sharing profile allows."""

    subject: DisclosedSubject | None = Field(
        default=None, description="The child, in part or whole."
    )
    household: list[HouseholdMember] | None = None
    summary: str | None = None
    narrative: str | None = None
    location: Location | None = None
    reporter: Reporter | None = None
    lawful_basis: LawfulBasis | None = None


# The names a sharing profile may list: a whole part, or `subject.<field>` of the child.
WHOLE_PARTS: frozenset[str] = frozenset(DisclosedConcern.model_fields)
SUBJECT_FIELDS: frozenset[str] = frozenset(
    f"subject.{name}" for name in DisclosedSubject.model_fields
)
DISCLOSABLE_FIELDS: frozenset[str] = WHOLE_PARTS | SUBJECT_FIELDS
