"""`safeguard policy diff` on routing's real database: concerns routed today, replayed."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from deploy.cli_policy import register
from services.partnership import default_partnership_path
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.integration.test_pipeline import bearer
from tests.integration.test_policy_reload import changed
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="safeguard")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def test_diff_replays_the_concerns_routing_holds_under_both_files(
    services: Services,
    token: Any,
    infrastructure: Infrastructure,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    posted = []
    for _ in range(3):
        body = a_concern_body(category="other", severity="medium")
        body["subject"] |= {"nhs_number": an_nhs_number(), "family_name": a_family_name()}
        response = await services.intake.post(
            "/v1/concerns", json=body, headers=bearer(token("nm-hospital-ed"))
        )
        assert response.status_code == 202, response.text
        posted.append(response.json()["concern_id"])

    async def routed() -> bool:
        for concern_id in posted:
            status = await services.intake.get(
                f"/v1/concerns/{concern_id}", headers=bearer(token("nm-hospital-ed"))
            )
            if status.json().get("status") != "routed":
                return False
        return True

    await eventually(routed, what="routing of the three concerns")
    new = tmp_path / "changed.yaml"
    new.write_text(changed("2026.12.diff"), encoding="utf-8")
    args = parse("policy", "diff", str(default_partnership_path()), str(new), "--since", "PT1H",
                 "--json", "--database-url", infrastructure.database_url)  # fmt: skip
    capsys.readouterr()
    assert await asyncio.to_thread(args.func, args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    # The services under test run in this process and log JSON lines to the same stdout
    # meanwhile; the command's document is the one printed line that is not a log line.
    (document,) = [line for line in printed if "event" not in line]
    assert (document["old_version"], document["new_version"]) == ("2026.11.1", "2026.12.diff")
    assert document["concerns_replayed"] >= 3
    police = next(a for a in document["agencies"] if a["agency"] == "nme-police")
    assert police["gained"] >= 3
    assert set(police["gained_by_rule"]) == {"police-serious-harm"}
    assert police["lost"] == 0
    assert "Amelia" not in json.dumps(document)
