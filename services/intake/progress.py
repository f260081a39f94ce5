"""Pure: what the agency that raised a concern sees of it: each recipient's progress, in pages."""

from __future__ import annotations

import base64
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.v1 import ConcernStatusPage, ConcernStatusView, RecipientView
from schemas.v1.events import NotificationChange, NotificationChangedPayload, NotificationKind
from services.intake.model import PageCursor, RecipientProgress, Submission


def progress_of(change: NotificationChangedPayload) -> RecipientProgress:
    """The state of a notification that one change reports."""
    return RecipientProgress(
        notification_id=change.notification_id,
        concern_id=change.concern_id,
        agency=change.recipient_agency,
        changed_at=change.changed_at,
        acknowledge_by=change.acknowledge_by,
        decide_by=change.decide_by,
        acknowledged_at=change.acknowledged_at,
        decision=change.decision,
        decision_label=change.decision_label,
        decided_at=change.decided_at,
        assigned=change.assigned,
        escalated=change.change is NotificationChange.ESCALATED or change.status == "escalated",
    )


def merge_progress(held: RecipientProgress | None, change: RecipientProgress) -> RecipientProgress:
    """The newer of two states of a notification; having been escalated is never forgotten."""
    # Changes can arrive out of order (routing's processes commit in any order, a consumer may
    # be handed a partition mid-stream): one replaces only a state not newer than itself. At
    # the same instant the later delivery wins, as one key's records arrive in publish order.
    if held is None:
        return change
    newer, older = (change, held) if change.changed_at >= held.changed_at else (held, change)
    return dataclasses.replace(newer, escalated=newer.escalated or older.escalated)


def latest_progress(changes: Iterable[NotificationChangedPayload]) -> list[RecipientProgress]:
    """The newest state of each concern notification among these changes, first seen first."""
    latest: dict[UUID, RecipientProgress] = {}
    for change in changes:
        # Feedback, escalation and cumulative-concern notifications are not where the concern
        # was routed: the agency that raised it follows its recipients only.
        if change.kind is NotificationKind.CONCERN:
            held = latest.get(change.notification_id)
            latest[change.notification_id] = merge_progress(held, progress_of(change))
    return list(latest.values())


def is_overdue(
    *,
    acknowledge_by: datetime | None,
    decide_by: datetime | None,
    acknowledged_at: datetime | None,
    decided_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether an acknowledgement or a decision is outstanding past its deadline.

    At the deadline is in time.
    """
    # A decision implies an acknowledgement, as routing records it.
    acknowledged = acknowledged_at is not None or decided_at is not None
    late_acknowledgement = acknowledge_by is not None and not acknowledged and now > acknowledge_by
    late_decision = decide_by is not None and decided_at is None and now > decide_by
    return late_acknowledgement or late_decision


def recipient_view(
    routed: Mapping[str, Any], progress: RecipientProgress | None, *, now: datetime
) -> RecipientView:
    """One recipient as routed, with the newest progress known of its notification."""
    base = RecipientView.model_validate(routed)
    if progress is None:
        overdue = is_overdue(
            acknowledge_by=base.acknowledge_by,
            decide_by=base.decide_by,
            acknowledged_at=None,
            decided_at=None,
            now=now,
        )
        return base.model_copy(update={"overdue": overdue})
    # Routing's latest change knows the deadlines at least as well as the routing did.
    acknowledge_by = progress.acknowledge_by
    decide_by = progress.decide_by or base.decide_by
    return RecipientView(
        agency=base.agency,
        reasons=base.reasons,
        notification_id=progress.notification_id,
        acknowledge_by=acknowledge_by,
        decide_by=decide_by,
        acknowledged_at=progress.acknowledged_at,
        decision=progress.decision,
        decision_label=progress.decision_label,
        decided_at=progress.decided_at,
        assigned=progress.assigned,
        overdue=is_overdue(
            acknowledge_by=acknowledge_by,
            decide_by=decide_by,
            acknowledged_at=progress.acknowledged_at,
            decided_at=progress.decided_at,
            now=now,
        ),
    )


def _progress_for(
    routed: Mapping[str, Any], progress: Sequence[RecipientProgress]
) -> RecipientProgress | None:
    notification_id = routed.get("notification_id")
    if notification_id is not None:
        wanted = UUID(str(notification_id))
        return next((p for p in progress if p.notification_id == wanted), None)
    # Routings recorded before intake kept notification ids: a concern reaches an agency once.
    return next((p for p in progress if p.agency == routed["agency"]), None)


def concern_status_view(
    submission: Submission, progress: Sequence[RecipientProgress], *, now: datetime
) -> ConcernStatusView:
    """A concern's status, and how far each agency it was routed to has got with it."""
    return ConcernStatusView(
        concern_id=submission.concern_id,
        source_reference=submission.source_reference,
        status="routed" if submission.routed_at else "accepted",
        received_at=submission.received_at,
        routed_at=submission.routed_at,
        recipients=[
            recipient_view(routed, _progress_for(routed, progress), now=now)
            for routed in submission.recipients or []
        ],
    )


MAX_CURSOR = 200


def page_cursor(last: Submission) -> str:
    """The cursor of the page that follows this concern."""
    text = f"{last.received_at.isoformat()}|{last.concern_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> PageCursor | None:
    """Where a cursor says a page starts; None if it is not one of ours."""
    if len(cursor) > MAX_CURSOR:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        received, _, concern = text.partition("|")
        received_at = datetime.fromisoformat(received)
        concern_id = UUID(concern)
    except ValueError:  # bad base64, bytes that are not UTF-8, a bad time or id
        return None
    if received_at.tzinfo is None:
        return None
    return PageCursor(received_at=received_at, concern_id=concern_id)


def concern_page(
    found: Sequence[Submission],
    progress: Iterable[RecipientProgress],
    *,
    limit: int,
    now: datetime,
) -> ConcernStatusPage:
    """A page of up to `limit` concerns; `found` holds one more when another page follows."""
    shown = found[:limit]
    by_concern: dict[UUID, list[RecipientProgress]] = defaultdict(list)
    for known in progress:
        by_concern[known.concern_id].append(known)
    return ConcernStatusPage(
        items=[concern_status_view(s, by_concern[s.concern_id], now=now) for s in shown],
        next_cursor=page_cursor(shown[-1]) if len(found) > limit and shown else None,
    )
