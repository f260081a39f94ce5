"""The loop closed end to end: a school's concern, social care's decision, the school's feedback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.builders import a_concern_body
from tests.infrastructure import free_port

pytestmark = pytest.mark.e2e

SCHOOL = "nm-school-oakfield"
SOCIAL_CARE = "nm-csc"
# The school's sharing profile in the reference partnership: no narrative, household or reporter.
SCHOOL_FIELDS = {
    "subject.given_name",
    "subject.family_name",
    "subject.date_of_birth",
    "subject.school_urn",
    "summary",
}


def _safeguard(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"safeguard {args[0]} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Stack:
    """Where a started stack listens (its stack.env) and the environment that started it."""

    urls: dict[str, str]
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A whole stack started by `safeguard up` on free ports."""
    home = tmp_path_factory.mktemp("loop") / ".safeguard"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    names = ("INTAKE", "ROUTING", "AUDIT", "WEB", "DELIVERY", "POSTGRES", "KAFKA")
    env |= {f"{name}_PORT": str(free_port()) for name in names}
    env["SAFEGUARD_HOME"] = str(home)
    try:
        _safeguard("up", env=env)
        urls = dict(line.split("=", 1) for line in (home / "stack.env").read_text().split())
        yield Stack(urls=urls, env=env)
    finally:
        _safeguard("down", env=env)


def _bearer(stack: Stack) -> Callable[[str, str, str], dict[str, str]]:
    def make(agency: str, role: str, subject: str) -> dict[str, str]:
        out = _safeguard(
            "token", "--agency", agency, "--role", role, "--subject", subject, env=stack.env
        )
        return {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}

    return make


def _eventually(what: str, probe: Callable[[], Any], *, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {within} s")


def test_a_decision_reaches_the_school_that_raised_it_and_the_trail_shows_it(
    stack: Stack,
) -> None:
    bearer = _bearer(stack)
    school_system = bearer(SCHOOL, "agency_system", "oakfield-mis")
    social_worker = bearer(SOCIAL_CARE, "caseworker", "sw-jones")
    intake, routing = stack.urls["INTAKE_URL"], stack.urls["ROUTING_URL"]
    audit = stack.urls["AUDIT_URL"]

    # A school raises a concern about a Northmoor child (its own pupil).
    body = a_concern_body(category="neglect", severity="medium")
    posted = httpx.post(f"{intake}/v1/concerns", json=body, headers=school_system)
    assert posted.status_code == 202, posted.text
    concern_id = posted.json()["concern_id"]

    # Children's social care finds it in its worklist, opens it and decides a strategy discussion.
    def listed() -> list[dict[str, Any]]:
        page = httpx.get(
            f"{routing}/v1/notifications",
            params={"concern_id": concern_id, "order": "worklist"},
            headers=social_worker,
        ).json()
        return [item for item in page["items"] if item["kind"] == "concern"]

    row = _eventually("routing to children's social care", listed)[0]
    notification_id = row["notification_id"]
    assert row["decide_by"] is not None
    opened = httpx.get(f"{routing}/v1/notifications/{notification_id}", headers=social_worker)
    assert opened.status_code == 200
    assert "strategy_discussion" in {code["code"] for code in opened.json()["decision_codes"]}
    decided = httpx.post(
        f"{routing}/v1/notifications/{notification_id}/decision",
        json={"decision": "strategy_discussion", "rationale": "Section 47 threshold met."},
        headers=social_worker,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided"
    decided_at = time.monotonic()

    # Within seconds the school (a machine) sees the feedback, cut to its own profile.
    def feedback() -> list[dict[str, Any]]:
        page = httpx.get(
            f"{routing}/v1/notifications",
            params={"concern_id": concern_id, "kind": "feedback"},
            headers=school_system,
        ).json()
        return list(page["items"])

    item = _eventually("feedback to the school", feedback)[0]
    assert time.monotonic() - decided_at < 10
    shown = httpx.get(
        f"{routing}/v1/notifications/{item['notification_id']}", headers=school_system
    )
    assert shown.status_code == 200
    view = shown.json()
    assert view["kind"] == "feedback"
    assert view["feedback"]["decision"] == "strategy_discussion"
    assert view["feedback"]["decision_label"] == "Strategy discussion (section 47)"
    assert view["feedback"]["deciding_agency"] == SOCIAL_CARE
    # The school's profile has no narrative: the rationale is withheld, as are the restricted parts.
    assert view["feedback"].get("rationale") is None
    assert set(view["disclosed_fields"]) <= SCHOOL_FIELDS
    for withheld in ("narrative", "household", "reporter", "lawful_basis"):
        assert withheld not in view["concern"], withheld

    # The referrer's status answer shows the decision against social care.
    def progressed() -> dict[str, Any] | None:
        status = httpx.get(f"{intake}/v1/concerns/{concern_id}", headers=school_system).json()
        by_agency = {r["agency"]: r for r in status["recipients"]}
        csc = by_agency.get(SOCIAL_CARE)
        return csc if csc and csc["decision"] == "strategy_discussion" else None

    csc = _eventually("intake learning the decision", progressed)
    assert csc["decided_at"] is not None
    assert csc["acknowledged_at"] is not None  # a decision implies the acknowledgement

    # The trail: the decision, the feedback's delivery, and who opened what.
    auditor = bearer(SOCIAL_CARE, "partnership_auditor", "ig-lead")

    def trail() -> list[dict[str, Any]] | None:
        answer = httpx.get(f"{audit}/v1/audit/concerns/{concern_id}/trail", headers=auditor)
        assert answer.status_code == 200, answer.text
        steps: list[dict[str, Any]] = answer.json()["summary"]
        actions = {step["action"] for step in steps}
        wanted = {"notification.decided", "notification.delivered", "notification.viewed"}
        return steps if wanted <= actions and len(_views(steps)) >= 2 else None

    steps = _eventually("the trail to hold the loop", trail)
    decided_steps = [s for s in steps if s["action"] == "notification.decided"]
    assert decided_steps[0]["who"]["subject"] == "sw-jones"
    assert decided_steps[0]["notification_id"] == notification_id
    deliveries = {s["notification_id"]: s for s in steps if s["action"] == "notification.delivered"}
    assert item["notification_id"] in deliveries
    assert deliveries[item["notification_id"]]["recipient_agency"] == SCHOOL
    viewers = {(s["who"]["subject"], s["notification_id"]) for s in _views(steps)}
    assert ("sw-jones", notification_id) in viewers
    assert ("oakfield-mis", item["notification_id"]) in viewers


def _views(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [step for step in steps if step["action"] == "notification.viewed"]
