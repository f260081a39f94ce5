"""How auditors read entries: the readable trail, a person's accesses, CSV and JSON rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from services.audit.unit_of_work import Entry
from services.audit.views import (
    CSV_COLUMNS,
    concern_trail,
    csv_text,
    json_items,
    person_access,
    trail_step,
)

RECORDED = datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
CONCERN, NOTIFICATION = str(uuid4()), str(uuid4())


def an_entry(seq: int, action: str, actor: dict[str, Any], **content: Any) -> Entry:
    return Entry(
        seq=seq,
        content={
            "event_id": str(uuid4()),
            "occurred_at": "2026-01-02T03:04:05.000000Z",
            "action": action,
            "actor": actor,
            "concern_id": CONCERN,
            "notification_id": NOTIFICATION,
            "fields": [],
            "details": {},
            **content,
        },
        recorded_at=RECORDED,
        entry_hash="ab" * 32,
    )


ROUTING = {"subject": "routing", "agency": None, "role": "service"}
WORKER = {"subject": "sw-1", "agency": "nm-csc", "role": "caseworker"}
DELIVERED = an_entry(
    1, "notification.delivered", ROUTING,
    fields=["subject", "summary"], details={"recipient_agency": "nm-csc", "kind": "initial"},
)  # fmt: skip
VIEWED = an_entry(2, "notification.viewed", WORKER, fields=["subject", "summary"])


def test_a_trail_step_names_who_saw_which_fields_and_where_it_went() -> None:
    delivered, viewed = trail_step(DELIVERED), trail_step(VIEWED)
    assert delivered.recipient_agency == "nm-csc"
    assert delivered.who.role == "service"
    assert viewed.who.subject == "sw-1"
    assert viewed.who.agency == "nm-csc"
    assert viewed.recipient_agency is None
    assert viewed.fields == ["subject", "summary"]
    assert viewed.when == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert str(viewed.notification_id) == NOTIFICATION


def test_a_trail_keeps_the_raw_items_beside_the_summary() -> None:
    trail = concern_trail([DELIVERED, VIEWED])
    assert [item.seq for item in trail.items] == [1, 2]
    assert [step.action for step in trail.summary] == [
        "notification.delivered",
        "notification.viewed",
    ]


def test_a_person_access_carries_concern_notification_fields_and_time() -> None:
    access = person_access(VIEWED)
    assert (access.agency, access.role) == ("nm-csc", "caseworker")
    assert (str(access.concern_id), str(access.notification_id)) == (CONCERN, NOTIFICATION)
    assert access.fields == ["subject", "summary"]


def test_csv_rows_follow_the_columns_and_join_fields() -> None:
    rows = list(csv.reader(io.StringIO(csv_text([DELIVERED, VIEWED], header=True))))
    assert tuple(rows[0]) == CSV_COLUMNS
    delivered = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert delivered["seq"] == "1"
    assert delivered["actor_agency"] == ""
    assert delivered["fields"] == "subject;summary"
    assert json.loads(delivered["details"]) == {"kind": "initial", "recipient_agency": "nm-csc"}
    assert delivered["recorded_at"] == RECORDED.isoformat()
    assert delivered["entry_hash"] == "ab" * 32


def test_a_cell_that_a_spreadsheet_would_run_is_quoted() -> None:
    sneaky = an_entry(3, "access.denied", {**WORKER, "subject": "=HYPERLINK(1)"})
    row = next(csv.reader(io.StringIO(csv_text([sneaky]))))
    assert row[CSV_COLUMNS.index("actor_subject")] == "'=HYPERLINK(1)"


def test_json_chunks_join_into_one_array() -> None:
    text = "[" + json_items([DELIVERED], first=True) + json_items([], first=False)
    text += json_items([VIEWED], first=False) + "]"
    assert [item["seq"] for item in json.loads(text)] == [1, 2]
    assert json.loads("[" + json_items([], first=True) + "]") == []
