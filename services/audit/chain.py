"""Pure hash chain over audit entries: canonical bytes, links, and verification.

Definitions (version 1; changing any of them changes every stored hash):

- content: ``canonical_bytes(fields)`` of the entry's fields (see that function).
- entry hash: ``SHA-256(previous_hash || seq || content)`` where ``previous_hash`` is the
  32-byte entry hash of seq - 1 (``GENESIS``, 32 zero bytes, before the first entry) and ``seq``
  is an unsigned 64-bit big-endian integer. Sequence numbers start at ``FIRST_SEQ`` (1).
- leaf hash: RFC 9162 ``SHA-256(0x00 || content)``; entry seq s is Merkle leaf index s - 1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

import orjson

from schemas.v1 import AuditEvent
from services.audit.merkle import HASH_SIZE, leaf_hash

GENESIS = bytes(HASH_SIZE)
FIRST_SEQ = 1
_MAX_SEQ = 2**64 - 1


def _normalise(value: Any) -> Any:
    # Exact types first: they are nearly every value, and they map to themselves.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict and all(type(k) is str for k in value):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return _normalise(value.value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity have no canonical JSON form")
        return value
    if isinstance(value, date):
        return _datetime_or_date(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("canonical JSON object keys must be strings")
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def _without_floats(value: Any) -> bool:
    """Whether nothing in `value` is a float: the one JSON value orjson writes otherwise than
    Python's `json` does (1e-05 as 0.00001, NaN as null)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None or kind is UUID:
            continue
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif isinstance(item, float):
            return False
        elif isinstance(item, Enum):
            stack.append(item.value)
    return True


def utc_text(value: datetime) -> str:
    """A timezone-aware datetime's canonical text: UTC, all six fraction digits, then ``Z``."""
    if value.utcoffset() is None:
        raise ValueError("naive datetimes are ambiguous; give a timezone")
    utc = value.astimezone(UTC)
    if utc.year < 1000:
        # strftime's form, kept for the stored hashes: it writes such a year without padding.
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as strftime, in about half the time.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _datetime_or_date(value: Any) -> str:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is left to the general path")


_FAST = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical_bytes(entry_fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON of an entry's fields, as UTF-8 bytes.

    Objects have keys sorted by code point and no whitespace (``{"a":1,"b":[true,null]}``);
    non-ASCII text is written as UTF-8, not ``\\u`` escapes; datetimes (timezone-aware only)
    become UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` with all six fraction digits; dates become
    ``YYYY-MM-DD``; UUIDs lowercase hyphenated; enums their value; tuples lists; finite floats
    Python's shortest round-trip ``repr``. Anything else (bytes, sets, NaN) is refused.
    """
    # orjson writes the same bytes as the general path below for everything but floats, about
    # six times faster; whatever it cannot write (a float, a 65-bit integer, a non-string key,
    # a value without a form) is left to the general path, which writes it or refuses it.
    if _without_floats(entry_fields):
        with contextlib.suppress(orjson.JSONEncodeError):
            return orjson.dumps(entry_fields, default=_datetime_or_date, option=_FAST)
    return general_canonical_bytes(entry_fields)


def general_canonical_bytes(entry_fields: Mapping[str, Any]) -> bytes:
    """`canonical_bytes` by the definition itself, for every value (slower)."""
    return json.dumps(
        _normalise(entry_fields),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def link(previous_hash: bytes, seq: int, content: bytes) -> bytes:
    """Entry hash: SHA-256 of the previous entry hash, seq as 8 bytes big-endian, then content."""
    if len(previous_hash) != HASH_SIZE:
        raise ValueError("the previous hash is 32 bytes")
    if not 0 <= seq <= _MAX_SEQ:
        raise ValueError("seq must fit in an unsigned 64-bit integer")
    return hashlib.sha256(previous_hash + seq.to_bytes(8, "big") + content).digest()


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored audit entry as the chain sees it."""

    seq: int
    content: bytes
    previous_hash: bytes
    entry_hash: bytes
    leaf_hash: bytes


def seal(previous_hash: bytes, seq: int, content: bytes) -> ChainRow:
    """The row to store for ``content`` appended after the entry whose hash is given."""
    return ChainRow(
        seq=seq,
        content=content,
        previous_hash=previous_hash,
        entry_hash=link(previous_hash, seq, content),
        leaf_hash=leaf_hash(content),
    )


def entry_content(event: AuditEvent) -> dict[str, Any]:
    """The fields of an event that the chain seals."""
    p, actor = event.payload, event.payload.actor
    return {
        "event_id": event.event_id,
        "type": event.type,
        "producer": event.producer,
        "correlation_id": event.correlation_id,
        # Written out here, as canonical_bytes would: that spares it a call back per entry.
        "occurred_at": utc_text(event.occurred_at),
        "action": p.action.value,
        # Actor.model_dump(), field by field: a third of the cost (a test holds them equal).
        "actor": {"subject": actor.subject, "agency": actor.agency, "role": actor.role},
        "concern_id": p.concern_id,
        "notification_id": p.notification_id,
        "fields": list(p.fields),
        "details": p.details,
    }


def by_event_id(events: Iterable[AuditEvent]) -> dict[UUID, AuditEvent]:
    """A batch keyed by event id, in order: an event delivered twice in it counts once."""
    return {event.event_id: event for event in events}


def seal_new(
    events: Mapping[UUID, AuditEvent],
    *,
    present: Container[UUID],
    last_seq: int,
    last_hash: bytes,
) -> Iterator[tuple[AuditEvent, ChainRow]]:
    """Each event not already present, sealed in order after the last entry (seq and hash)."""
    seq, previous = last_seq, last_hash
    for event_id, event in events.items():
        if event_id in present:
            continue
        seq += 1
        sealed = seal(previous, seq, canonical_bytes(entry_content(event)))
        previous = sealed.entry_hash
        yield event, sealed


class ChainFault(StrEnum):
    """Why verification stopped."""

    CONTENT_CHANGED = "content_changed"
    CHAIN_BROKEN = "chain_broken"
    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_OUT_OF_ORDER = "sequence_out_of_order"


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The outcome of checking a run of rows: ok, or the first seq that does not match and why."""

    ok: bool
    rows_checked: int
    head_hash: bytes
    seq: int | None = None
    fault: ChainFault | None = None
    detail: str = ""


def verify_chain(
    rows: Iterable[ChainRow], *, start_seq: int = FIRST_SEQ, previous_hash: bytes = GENESIS
) -> ChainVerdict:
    """Check rows in seq order from ``start_seq``; stop at the first that does not match.

    ``head_hash`` is the entry hash of the last row that checked out (``previous_hash`` if none).
    """
    expected, prev, checked = start_seq, previous_hash, 0

    def fault(seq: int, why: ChainFault, detail: str) -> ChainVerdict:
        return ChainVerdict(False, checked, prev, seq, why, detail)

    for row in rows:
        if row.seq > expected:
            return fault(
                expected, ChainFault.SEQUENCE_GAP, f"seq {expected} missing; next {row.seq}"
            )
        if row.seq < expected:
            return fault(
                row.seq, ChainFault.SEQUENCE_OUT_OF_ORDER, f"seq {row.seq} where {expected} due"
            )
        if row.previous_hash != prev:
            detail = f"previous hash does not match the entry hash of seq {row.seq - 1}"
            return fault(row.seq, ChainFault.CHAIN_BROKEN, detail)
        if row.leaf_hash != leaf_hash(row.content):
            return fault(row.seq, ChainFault.CONTENT_CHANGED, "leaf hash does not match content")
        if row.entry_hash != link(prev, row.seq, row.content):
            return fault(row.seq, ChainFault.CONTENT_CHANGED, "entry hash does not match content")
        prev, expected, checked = row.entry_hash, expected + 1, checked + 1
    return ChainVerdict(True, checked, prev)
