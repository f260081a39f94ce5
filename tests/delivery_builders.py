"""Builders for delivery's tests: routed notifications, and partnerships with destinations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import yaml

from schemas.v1 import NotificationKind, NotificationRouted
from services.partnership import Partnership, default_partnership_path, load_partnership
from services.routing.notifications import ConcernEnvelope, build_notification, disclosure_for
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership


def a_routed_notification(
    agency: str = "nm-school-oakfield",
    *,
    kind: NotificationKind = NotificationKind.CONCERN,
    partnership: Partnership | None = None,
    **changes: Any,
) -> NotificationRouted:
    """A notification for `agency`, cut to its profile as routing cuts it, with fresh ids."""
    partnership = partnership or the_reference_partnership()
    received = a_received_concern(**changes)
    payload = build_notification(
        kind,
        ConcernEnvelope.of_received(received.payload),
        notification_id=uuid4(),
        recipient=agency,
        disclosure=disclosure_for(received.payload.concern, agency, partnership),
        reasons=["school-of-child"],
        acknowledge_by=RECEIVED + timedelta(hours=4),
        policy_version=partnership.policy_version,
        child_id=uuid4(),
    )
    return NotificationRouted(correlation_id=received.correlation_id, payload=payload)


def partnership_file(folder: Path, deliveries: dict[str, list[dict[str, Any]]], **top: Any) -> Path:
    """The reference partnership with these agencies' `deliveries:`, written under `folder`."""
    document = yaml.safe_load(default_partnership_path().read_text())
    document.pop("delivery", None)
    for agency in document["agencies"]:
        agency.pop("deliveries", None)
        if agency["id"] in deliveries:
            agency["deliveries"] = deliveries[agency["id"]]
    document.update(top)
    path = folder / f"partnership-{uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def a_partnership_with(deliveries: dict[str, list[dict[str, Any]]], tmp_path: Path) -> Partnership:
    """The reference partnership with these destinations, loaded as a service loads it."""
    return load_partnership(partnership_file(tmp_path, deliveries))
