"""canonical_bytes' fast path writes, for any value, exactly what the definition does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.v1.audit import AuditAction
from services.audit.chain import canonical_bytes, general_canonical_bytes

zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
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
