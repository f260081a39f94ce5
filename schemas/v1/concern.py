"""The concern an agency submits: the child, what happened, and why sharing it is lawful.

Checks relative to the clock (dates in the future, a child older than 25) are made by intake when
a concern arrives, not here, so an event re-read years later still parses.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

Name = Annotated[str, Field(min_length=1, max_length=100)]
SourceReference = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
]

_WHITESPACE = re.compile(r"\s+")
_POSTCODE = re.compile(r"^(GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})$")


class Category(StrEnum):
    """What kind of harm the concern is about."""

    PHYSICAL_ABUSE = "physical_abuse"
    EMOTIONAL_ABUSE = "emotional_abuse"
    SEXUAL_ABUSE = "sexual_abuse"
    NEGLECT = "neglect"
    DOMESTIC_ABUSE = "domestic_abuse"
    CHILD_EXPLOITATION = "child_exploitation"
    MISSING_CHILD = "missing_child"
    ONLINE_HARM = "online_harm"
    FGM = "fgm"
    RADICALISATION = "radicalisation"
    SELF_HARM = "self_harm"
    OTHER = "other"


class Severity(StrEnum):
    """How urgent the concern is: low < medium < high < immediate."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    IMMEDIATE = "immediate"

    @property
    def rank(self) -> int:
        """Position in the order low < medium < high < immediate."""
        return list(Severity).index(self)


class Consent(StrEnum):
    """Whether the family consented to the sharing."""

    GIVEN = "given"
    REFUSED_OVERRIDDEN = "refused_overridden"
    NOT_SOUGHT_RISK_OF_HARM = "not_sought_risk_of_harm"
    NOT_SOUGHT_OTHER = "not_sought_other"


def normalise_postcode(value: str) -> str:
    """Upper-case a UK postcode with one space before the inward code; refuse other shapes."""
    compact = _WHITESPACE.sub("", value).upper()
    if not _POSTCODE.match(compact) or len(compact) < 5:
        raise ValueError("must be a UK postcode such as 'NM1 4AB'")
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_district(postcode: str) -> str:
    """The outward code ('NM1' of 'NM1 4AB')."""
    return postcode.split(" ")[0]


def nhs_number_is_valid(digits: str) -> bool:
    """Whether ten digits pass the NHS number Modulus 11 check."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Subject(_Part):
    """The child the concern is about."""

    given_name: Name = Field(description="The child's given name.")
    family_name: Name = Field(description="The child's family name.")
    date_of_birth: date = Field(
        description="Date of birth; not in the future, at most 25 years ago."
    )
    nhs_number: str | None = Field(
        default=None,
        description="NHS number: 10 digits with a valid Modulus 11 check digit; spaces allowed.",
        examples=["943 476 5919"],
    )
    postcode: str | None = Field(default=None, description="Home postcode (UK format).")
    school_urn: str | None = Field(
        default=None, pattern=r"^[0-9]{6,7}$", description="Unique Reference Number of the school."
    )

    @field_validator("nhs_number")
    @classmethod
    def _nhs_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = _WHITESPACE.sub("", value)
        if not digits.isdigit() or len(digits) != 10:
            raise ValueError("must be 10 digits (spaces allowed)")
        if not nhs_number_is_valid(digits):
            raise ValueError("is not a valid NHS number: its check digit does not match")
        return digits

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        return None if value is None else normalise_postcode(value)


class HouseholdMember(_Part):
    """Another person in the child's household."""

    name: Annotated[str, Field(min_length=1, max_length=200)] = Field(description="Full name.")
    relationship: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Relationship to the child, e.g. mother, stepfather, sibling."
    )
    date_of_birth: date | None = Field(default=None, description="Date of birth, if known.")


class Location(_Part):
    """Where it happened."""

    postcode: str | None = Field(default=None, description="Postcode of the incident (UK format).")

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        return None if value is None else normalise_postcode(value)


class Reporter(_Part):
    """The professional raising the concern."""

    name: Annotated[str, Field(min_length=1, max_length=200)] = Field(description="Full name.")
    role: Annotated[str, Field(min_length=1, max_length=100)] = Field(description="Job title.")
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = Field(
        default=None, description="Telephone number."
    )
    email: EmailStr | None = Field(default=None, description="Email address.")

    @model_validator(mode="after")
    def _reachable(self) -> Reporter:
        if self.phone is None and self.email is None:
            raise ValueError(
                "give a phone number or an email address so the reporter can be reached"
            )
        return self


class LawfulBasis(_Part):
    """Why sharing this concern is lawful."""

    basis: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The legal basis, e.g. 'Children Act 1989 s.47'."
    )
    consent: Consent = Field(
        description="Whether consent to share was given, refused or not sought."
    )
    justification: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None,
        description="Why sharing goes ahead without consent; required unless consent was given.",
    )

    @model_validator(mode="after")
    def _justified(self) -> LawfulBasis:
        if self.consent is not Consent.GIVEN and not self.justification:
            raise ValueError(
                f"justification is required when consent is {self.consent.value}: "
                "say why sharing goes ahead without consent"
            )
        return self


class ConcernSubmission(_Part):
    """A safeguarding concern as an agency system submits it."""

    source_reference: SourceReference = Field(
        description="The agency's own id for this concern; with the agency it makes a submission "
        "idempotent."
    )
    category: Category = Field(description="What kind of harm.")
    severity: Severity = Field(description="How urgent: low < medium < high < immediate.")
    subject: Subject = Field(description="The child.")
    household: Annotated[list[HouseholdMember], Field(max_length=30)] = Field(
        default_factory=list, description="Other people in the child's household."
    )
    summary: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="A short account, for every recipient."
    )
    narrative: Annotated[str, Field(min_length=1, max_length=20000)] = Field(
        description="The full account; restricted to recipients whose profile allows it."
    )
    location: Location = Field(default_factory=Location, description="Where it happened.")
    reporter: Reporter = Field(description="The professional raising it.")
    lawful_basis: LawfulBasis = Field(description="Why sharing is lawful.")
    occurred_at: AwareDatetime = Field(description="When it happened (with a timezone offset).")
