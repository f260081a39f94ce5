"""canonical_bytes' fast path, and an entry's content, are exactly what the definition gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.v1.audit import Actor, AuditAction, AuditEvent, AuditEventPayload
from services.audit.chain import (
    canonical_bytes,
    entry_content,
    general_canonical_bytes,
    utc_text,
)

zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
# A day clear of year 1 and year 9999, whose ends have no UTC time in every zone.
moments = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=zones)
atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: the fast path hands those over
    st.text(),  # any code point, control characters and line separators among them
    st.floats(allow_nan=False, allow_infinity=False),
    st.uuids(),
    st.datetimes(timezones=zones),
    st.dates(),
    st.sampled_from(list(AuditAction)),
)
values = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_the_fast_path_writes_the_bytes_of_the_definition(fields: dict[str, Any]) -> None:
    assert canonical_bytes(fields) == general_canonical_bytes(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"big": 2**70, "small": -(2**65)},
        {"tiny": 1e-05, "huge": 1e16, "nested": [{"x": 0.1 + 0.2}]},
        {"on": date(2024, 2, 29), "at": datetime(2024, 2, 29, 23, 59, tzinfo=UTC)},
        {"\uffff": 1, "\U00010000": 2, "é": 3, "Z": 4},
        {"line": "a\u2028b\x00c\x1f\x7f"},
    ],
)
def test_values_the_fast_path_hands_over_or_orders_are_written_as_defined(
    fields: dict[str, Any],
) -> None:
    assert canonical_bytes(fields) == general_canonical_bytes(fields)


@settings(max_examples=400, deadline=None)
@given(moments)
def test_a_datetime_is_written_as_strftime_wrote_it(at: datetime) -> None:
    # Every stored hash was made with strftime's text; the quicker form must not change one.
    assert utc_text(at) == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(
    st.text(max_size=20),
    st.none() | st.text(max_size=20),
    moments,
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
)
def test_an_entrys_content_is_that_of_its_event_as_dumped(
    subject: str, agency: str | None, at: datetime, details: dict[str, Any]
) -> None:
    event = AuditEvent(
        producer="routing",
        correlation_id="c",
        occurred_at=at,
        payload=AuditEventPayload(
            action=AuditAction.CONCERN_ROUTED,
            actor=Actor(subject=subject, agency=agency, role="service"),
            concern_id=uuid4(),
            fields=["summary"],
            details=details,
        ),
    )
    dumped = entry_content(event) | {
        "occurred_at": event.occurred_at,
        "actor": event.payload.actor.model_dump(),
    }
    assert entry_content(event)["actor"] == event.payload.actor.model_dump()
    assert canonical_bytes(entry_content(event)) == general_canonical_bytes(dumped)
