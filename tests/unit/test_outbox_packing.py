"""A unit of work's events are stored as one outbox row and read back exactly as they were."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from schemas.v1 import Envelope, Topic
from services.common.outbox import (
    OUTBOX_COLUMNS,
    PACKED,
    OutboxBatch,
    OutboxMessage,
    unpacked,
)


def _messages(correlation_ids: list[str]) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            Envelope(type="test.event", producer="test", correlation_id=correlation_id),
            topic, key,
        )
        for correlation_id, topic, key in zip(
            correlation_ids, [Topic.AUDIT_EVENTS, Topic.NOTIFICATIONS_ROUTED] * 50,
            ["one-key", None] * 50, strict=False,
        )
    ]  # fmt: skip


def _row(batch: OutboxBatch) -> tuple[object, ...]:
    parameters = batch.parameters()
    assert all(len(parameters[f"outbox_{name}"]) == 1 for name in OUTBOX_COLUMNS)
    return tuple(parameters[f"outbox_{name}"][0] for name in OUTBOX_COLUMNS)


def test_one_event_is_a_row_of_its_own() -> None:
    batch = OutboxBatch.of(_messages(["only"]))
    row = _row(batch)
    assert row[0] == batch.row_id == batch.event_id[0]
    assert row[3] == "test.event"
    assert unpacked(row) == list(batch.records())


@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=30))
def test_several_are_one_packed_row_that_unpacks_to_them_in_order(
    correlation_ids: list[str],
) -> None:
    batch = OutboxBatch.of(_messages(correlation_ids))
    row = _row(batch)
    assert row[0] == batch.row_id
    assert isinstance(row[0], UUID)
    assert row[0] not in batch.event_id
    assert row[3] == PACKED
    assert unpacked(row) == list(batch.records())
    assert [r.correlation_id for r in unpacked(row)] == correlation_ids


def test_no_events_are_no_row() -> None:
    parameters = OutboxBatch.of([]).parameters()
    assert all(parameters[f"outbox_{name}"] == [] for name in OUTBOX_COLUMNS)
