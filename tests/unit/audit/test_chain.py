"""services.audit.chain: canonical bytes, links, and locating tampering."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from schemas.v1.audit import Actor, AuditAction, AuditEventPayload
from services.audit.chain import (
    FIRST_SEQ,
    GENESIS,
    ChainFault,
    ChainRow,
    canonical_bytes,
    link,
    seal,
    verify_chain,
)
from services.audit.merkle import leaf_hash

CONCERN = UUID("8c2b4f1e-6a3d-4e1b-9f2a-1d2c3b4a5e6f")


def a_payload(n: int) -> AuditEventPayload:
    return AuditEventPayload(
        action=AuditAction.NOTIFICATION_VIEWED,
        actor=Actor(subject=f"worker-{n}", agency="nm-csc", role="caseworker"),
        concern_id=CONCERN,
        fields=["summary", "category"],
        details={"n": n},
    )


def a_chain(length: int) -> list[ChainRow]:
    rows: list[ChainRow] = []
    previous = GENESIS
    for seq in range(FIRST_SEQ, FIRST_SEQ + length):
        row = seal(previous, seq, canonical_bytes(a_payload(seq).model_dump()))
        rows.append(row)
        previous = row.entry_hash
    return rows


def test_canonical_bytes_sorts_keys_drops_whitespace_and_stringifies_values() -> None:
    fields: dict[str, Any] = {
        "b": 1,
        "a": [True, None, 1.5],
        "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "on": date(2024, 1, 2),
        "id": CONCERN,
        "action": AuditAction.CONCERN_SUBMITTED,
        "nested": {"z": (), "é": "ü"},
    }
    assert (
        canonical_bytes(fields)
        == (
            '{"a":[true,null,1.5],"action":"concern.submitted","at":"2024-01-02T03:04:05.000000Z",'
            '"b":1,"id":"8c2b4f1e-6a3d-4e1b-9f2a-1d2c3b4a5e6f","nested":{"z":[],"é":"ü"},'
            '"on":"2024-01-02"}'
        ).encode()
    )


def test_canonical_bytes_writes_every_datetime_in_utc() -> None:
    plus_two = datetime(2024, 6, 1, 12, 0, 0, 123, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_bytes({"at": plus_two}) == b'{"at":"2024-06-01T10:00:00.000123Z"}'


def test_canonical_bytes_is_the_same_for_equal_payloads_in_any_key_order() -> None:
    dumped = a_payload(1).model_dump()
    reordered = dict(reversed(list(dumped.items())))
    assert canonical_bytes(dumped) == canonical_bytes(reordered)


@pytest.mark.parametrize(
    "bad",
    [
        {"at": datetime(2024, 1, 1)},
        {"x": math.nan},
        {"x": math.inf},
        {"x": b"raw"},
        {"x": {1: "non-string key"}},
        {"x": {"a", "set"}},
    ],
)
def test_canonical_bytes_refuses_values_without_one_canonical_form(bad: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_bytes(bad)


def test_link_is_sha256_of_previous_hash_then_8_byte_big_endian_seq_then_content() -> None:
    expected = hashlib.sha256(GENESIS + (1).to_bytes(8, "big") + b"{}").digest()
    assert link(GENESIS, 1, b"{}") == expected
    assert expected.hex() == "1bad765d926feacace97a8ddcd329a1f4254c208affc1ba86b3c7d59e8fba83e"


def test_link_refuses_a_short_previous_hash_or_impossible_seq() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        link(b"\x00" * 31, 1, b"")
    with pytest.raises(ValueError, match="64-bit"):
        link(GENESIS, -1, b"")
    with pytest.raises(ValueError, match="64-bit"):
        link(GENESIS, 2**64, b"")


def test_sealed_row_carries_the_rfc_9162_leaf_hash_of_its_content() -> None:
    row = seal(GENESIS, 1, b"{}")
    assert row.leaf_hash == leaf_hash(b"{}")
    assert row.previous_hash == GENESIS


def test_intact_chain_verifies_and_reports_its_head() -> None:
    rows = a_chain(10)
    verdict = verify_chain(rows)
    assert verdict.ok
    assert verdict.rows_checked == 10
    assert verdict.head_hash == rows[-1].entry_hash
    assert verdict.seq is None


def test_empty_chain_verifies_with_genesis_head() -> None:
    verdict = verify_chain([])
    assert verdict.ok
    assert verdict.head_hash == GENESIS


def test_changed_content_is_located_at_its_seq() -> None:
    rows = a_chain(10)
    rows[3] = dataclasses.replace(rows[3], content=rows[3].content.replace(b"worker", b"w0rker"))
    verdict = verify_chain(rows)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 4, ChainFault.CONTENT_CHANGED)
    assert verdict.rows_checked == 3
    assert verdict.head_hash == rows[2].entry_hash


def test_changed_entry_hash_is_located_at_its_seq() -> None:
    rows = a_chain(10)
    rows[5] = dataclasses.replace(rows[5], entry_hash=bytes(32))
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (6, ChainFault.CONTENT_CHANGED)


def test_rewritten_row_with_recomputed_hashes_breaks_the_link_to_the_next_row() -> None:
    rows = a_chain(10)
    forged = canonical_bytes(a_payload(99).model_dump())
    rows[5] = seal(rows[4].entry_hash, 6, forged)
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (7, ChainFault.CHAIN_BROKEN)


def test_changed_previous_hash_breaks_the_chain_at_its_seq() -> None:
    rows = a_chain(10)
    rows[2] = dataclasses.replace(rows[2], previous_hash=rows[0].entry_hash)
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (3, ChainFault.CHAIN_BROKEN)


def test_deleted_row_is_reported_as_a_gap_at_the_missing_seq() -> None:
    rows = a_chain(10)
    del rows[4]
    verdict = verify_chain(rows)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 5, ChainFault.SEQUENCE_GAP)
    assert verdict.rows_checked == 4


def test_deleted_first_row_is_a_gap_at_seq_one() -> None:
    verdict = verify_chain(a_chain(3)[1:])
    assert (verdict.seq, verdict.fault) == (1, ChainFault.SEQUENCE_GAP)


def test_rows_renumbered_into_a_new_order_break_the_chain_where_the_order_changes() -> None:
    rows = a_chain(10)
    third, fourth = rows[2], rows[3]
    rows[2] = dataclasses.replace(fourth, seq=3)
    rows[3] = dataclasses.replace(third, seq=4)
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (3, ChainFault.CHAIN_BROKEN)


def test_rows_read_out_of_order_are_reported_at_the_first_misplaced_seq() -> None:
    rows = a_chain(10)
    rows[2], rows[3] = rows[3], rows[2]
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (3, ChainFault.SEQUENCE_GAP)


def test_repeated_row_is_out_of_order() -> None:
    rows = a_chain(5)
    rows.insert(3, rows[2])
    verdict = verify_chain(rows)
    assert (verdict.seq, verdict.fault) == (3, ChainFault.SEQUENCE_OUT_OF_ORDER)


def test_verification_can_resume_from_a_checked_head() -> None:
    rows = a_chain(10)
    first = verify_chain(rows[:6])
    rest = verify_chain(rows[6:], start_seq=7, previous_hash=first.head_hash)
    assert rest.ok
    assert rest.head_hash == rows[-1].entry_hash
