"""The destinations a new partnership version adds, removes and changes, as the sender sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.delivery.deliveries import (
    DestinationChanges,
    DestinationKey,
    deliveries_of,
    destination_changes,
    destinations_of,
)
from tests.delivery_builders import a_partnership_with, a_routed_notification

OAKFIELD = "nm-school-oakfield"


def hook(name: str, **changes: str) -> dict[str, Any]:
    return {"id": name, "kind": "webhook", "url": f"https://{name}.example/in",
            "secret_env": "HOOK_SECRET"} | changes  # fmt: skip


def test_a_partnership_serves_every_agencys_destinations_by_agency_and_id(
    tmp_path: Path,
) -> None:
    partnership = a_partnership_with(
        {OAKFIELD: [hook("log"), {"id": "feed", "kind": "kafka"}], "nm-csc": [hook("case")]},
        tmp_path,
    )
    served = destinations_of(partnership)
    assert set(served) == {
        DestinationKey(OAKFIELD, "log"),
        DestinationKey(OAKFIELD, "feed"),
        DestinationKey("nm-csc", "case"),
    }
    # The sender serves exactly the destinations deliveries are recorded for.
    event = a_routed_notification(OAKFIELD, partnership=partnership)
    assert {d.key for d in deliveries_of([event], partnership)} == {
        k for k in served if k.agency == OAKFIELD
    }


def test_the_same_destinations_are_no_change(tmp_path: Path) -> None:
    before = destinations_of(a_partnership_with({OAKFIELD: [hook("log")]}, tmp_path))
    after = destinations_of(a_partnership_with({OAKFIELD: [hook("log")]}, tmp_path))
    assert destination_changes(before, after) == DestinationChanges()
    assert not destination_changes(before, after)


def test_added_removed_and_changed_destinations_are_told_apart(tmp_path: Path) -> None:
    before = destinations_of(
        a_partnership_with(
            {OAKFIELD: [hook("log"), hook("kept")], "nm-csc": [hook("case")]}, tmp_path
        )
    )
    after = destinations_of(
        a_partnership_with(
            {
                OAKFIELD: [hook("log", url="https://elsewhere.example/in"), hook("kept")],
                "nm-yjs": [hook("yjs")],
            },
            tmp_path,
        )
    )
    changes = destination_changes(before, after)
    assert changes == DestinationChanges(
        added=frozenset({DestinationKey("nm-yjs", "yjs")}),
        removed=frozenset({DestinationKey("nm-csc", "case")}),
        changed=frozenset({DestinationKey(OAKFIELD, "log")}),
    )
    assert changes


def test_a_new_secret_variable_or_kind_is_a_change(tmp_path: Path) -> None:
    before = destinations_of(a_partnership_with({OAKFIELD: [hook("a"), hook("b")]}, tmp_path))
    after = destinations_of(
        a_partnership_with(
            {OAKFIELD: [hook("a", secret_env="ROTATED_SECRET"), {"id": "b", "kind": "kafka"}]},
            tmp_path,
        )
    )
    assert destination_changes(before, after).changed == {
        DestinationKey(OAKFIELD, "a"),
        DestinationKey(OAKFIELD, "b"),
    }
