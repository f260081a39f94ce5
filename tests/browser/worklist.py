"""The worklist's people and concerns, shared by the browser tests of reading and acting on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CASEY = "Casey Worker"
JO = "Jo Colleague"
UK_MOMENT = re.compile(r"\b\d{1,2} (January|February|March|April|May|June|July|August|"
                       r"September|October|November|December) \d{4}, \d{2}:\d{2}\b")  # fmt: skip
STRATEGY = "Strategy discussion (section 47)"
CSC_NAME = "Northmoor Children's Social Care Front Door"
HOSPITAL = "nm-hospital-ed"


@dataclass(frozen=True)
class Raised:
    """One concern the hospital raised, and its notification in the social care inbox."""

    concern_id: str
    notification_id: str
    family_name: str
    reference: str


async def ids_in_order(page: Any, concern_ids: set[str]) -> list[str]:
    """The concern ids of the inbox's rows, top to bottom, among those asked about."""
    found: list[str] = await page.locator("#inbox-rows tr").evaluate_all(
        "rows => rows.map(r => r.dataset.concernId)"
    )
    return [c for c in found if c in concern_ids]
