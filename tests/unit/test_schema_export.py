"""`safeguard schemas export` writes JSON Schema for each model and one AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.cli import main


def test_export_writes_json_schema_and_asyncapi(tmp_path: Path, capsys: object) -> None:
    assert main(["schemas", "export", str(tmp_path)]) == 0
    submission = json.loads((tmp_path / "v1" / "concern-submission.schema.json").read_text())
    assert submission["additionalProperties"] is False
    assert "lawful_basis" in submission["required"]
    asyncapi = json.loads((tmp_path / "asyncapi.json").read_text())
    assert asyncapi["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert {"concerns.submitted", "concerns.received", "concerns.routed",
            "notifications.routed", "audit.events"} <= addresses  # fmt: skip
    for name in ("event-concern-received", "event-notification-routed", "event-audit"):
        envelope = json.loads((tmp_path / "v1" / f"{name}.schema.json").read_text())
        assert {"event_id", "type", "schema_version", "occurred_at", "producer",
                "correlation_id", "payload"} <= set(envelope["properties"])  # fmt: skip
