"""Concerns put on Kafka: accepted from a valid token's caller, else a dead-letter reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.v1 import AuditEvent, ConcernReceived, ConcernSubmitted, Topic
from services.common.auth import Caller, Role
from services.intake.accept import Accepted
from services.intake.policy import Resubmission
from services.intake.service import DeadLetter, submit_concern, submit_from_kafka
from tests.builders import RECEIVED, a_concern, the_reference_partnership
from tests.unit.intake.fakes import FakeUnitOfWork

CSC = Caller(subject="csc-system", agency="nm-csc", role=Role.AGENCY_SYSTEM)


def submitted(**changes: Any) -> bytes:
    """A ConcernSubmitted record's value, as an agency system would put it on Kafka."""
    event = ConcernSubmitted(
        producer="agency-system", correlation_id="kafka-1", payload=a_concern(**changes)
    )
    return event.model_dump_json().encode()


def changed(body: bytes, change: Any) -> bytes:
    event = json.loads(body)
    change(event["payload"])
    return json.dumps(event).encode()


async def from_kafka(
    uow: FakeUnitOfWork, body: bytes, caller: Caller | None = CSC
) -> Accepted | DeadLetter:
    return await submit_from_kafka(
        uow, the_reference_partnership(), caller=caller, body=body, now=RECEIVED
    )


async def test_a_submission_from_a_valid_token_is_accepted_with_its_events() -> None:
    uow = FakeUnitOfWork()
    accepted = await from_kafka(uow, submitted())
    assert isinstance(accepted, Accepted)
    assert accepted.outcome is Resubmission.NEW
    [received] = uow.outbox.on(Topic.CONCERNS_RECEIVED)
    [audit] = uow.outbox.on(Topic.AUDIT_EVENTS)
    assert isinstance(received.event, ConcernReceived)
    assert isinstance(audit.event, AuditEvent)
    assert received.event.correlation_id == audit.event.correlation_id == "kafka-1"
    assert received.event.payload.source_agency == "nm-csc"
    assert audit.event.payload.details["channel"] == "kafka"


async def test_the_same_record_twice_is_accepted_once() -> None:
    uow = FakeUnitOfWork()
    first = await from_kafka(uow, submitted())
    again = await from_kafka(uow, submitted())
    assert isinstance(first, Accepted)
    assert again == Accepted(first.concern_id, Resubmission.REPLAY)
    assert len(uow.outbox.on(Topic.CONCERNS_RECEIVED)) == 1


def _without_category(payload: dict[str, Any]) -> None:
    del payload["category"]
    payload["subject"]["nhs_number"] = "123"


def _born_in_the_future(payload: dict[str, Any]) -> None:
    payload["subject"]["date_of_birth"] = "2099-01-01"


@pytest.mark.parametrize(
    ("caller", "body", "reason"),
    [
        pytest.param(
            None,
            submitted(),
            "authorization: missing, expired or forged token",
            id="bad token",
        ),
        pytest.param(
            Caller(subject="ig", agency="nm-csc", role=Role.AUDITOR),
            submitted(),
            "authorization: role auditor may not submit",
            id="role",
        ),
        pytest.param(
            Caller(subject="x", agency="atlantis-police", role=Role.AGENCY_SYSTEM),
            submitted(),
            "authorization: unknown agency atlantis-police",
            id="agency",
        ),
        pytest.param(
            CSC,
            b"\xff{not json",
            "invalid: ",
            id="not json",
        ),
        pytest.param(
            CSC,
            changed(submitted(), _born_in_the_future),
            "invalid: subject.date_of_birth: must not be in the future",
            id="future dates",
        ),
    ],
)
async def test_a_refused_record_gets_its_reason_and_nothing_is_kept(
    caller: Caller | None, body: bytes, reason: str
) -> None:
    uow = FakeUnitOfWork()
    refused = await from_kafka(uow, body, caller)
    assert isinstance(refused, DeadLetter)
    assert refused.reason.startswith(reason)
    assert (uow.commits, uow.outbox.committed, uow.submissions.committed) == (0, [], {})


async def test_an_invalid_body_names_each_field_in_its_reason() -> None:
    refused = await from_kafka(FakeUnitOfWork(), changed(submitted(), _without_category))
    assert isinstance(refused, DeadLetter)
    assert refused.reason.startswith("invalid: ")
    assert "payload.category: Field required" in refused.reason
    assert "payload.subject.nhs_number" in refused.reason


async def test_a_reference_reused_for_another_concern_is_refused_naming_it() -> None:
    uow = FakeUnitOfWork()
    first = await submit_concern(
        uow,
        the_reference_partnership(),
        caller=CSC,
        concern=a_concern(),
        channel="http",
        correlation_id="http-1",
        now=RECEIVED,
    )
    assert isinstance(first, Accepted)
    refused = await from_kafka(uow, submitted(summary="Another"))
    assert refused == DeadLetter(f"conflict: reference used for concern {first.concern_id}")
    assert len(uow.outbox.on(Topic.CONCERNS_RECEIVED)) == 1
