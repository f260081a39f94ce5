"""Browser-test fixtures: intake, routing, audit and web on real ports, and Debian's Chromium."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
import uvicorn
import yaml

from services.common.keys import public_key_path
from services.partnership import default_partnership_path
from tests.browser.browsing import CHROMIUM, HOW_TO_GET_CHROMIUM, sign_in
from tests.browser.worklist import CASEY, HOSPITAL, JO, Raised
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.infrastructure import free_port
from tests.polling import eventually

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# A low concern goes unacknowledged past its deadline within seconds, so the worklist's
# overdue rows and the escalations that follow can be seen without waiting three days.
LOW_ACK_WITHIN = "PT3S"


@dataclass
class Running:
    """A uvicorn server on a thread of its own."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str


def serve(app: Any, name: str) -> Running:
    """Start app on a free port in a thread, returning once it accepts connections."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=3)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start on port {port}")
        time.sleep(0.05)
    return Running(server=server, thread=thread, url=f"http://127.0.0.1:{port}")


def stop(running: Running) -> None:
    """Ask a server to stop and wait for its thread."""
    running.server.should_exit = True
    running.thread.join(timeout=15)


@dataclass
class Stack:
    """The four processes' base URLs."""

    intake: str
    routing: str
    audit: str
    web: str


@pytest.fixture(scope="session")
def browser_partnership(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference partnership, but a low concern is overdue after a few seconds."""
    policy = yaml.safe_load(default_partnership_path().read_text())
    policy["ack_within"]["low"] = LOW_ACK_WITHIN
    # Other rules are another version: audit refuses a second text under a version on record.
    policy["policy_version"] = f"{policy['policy_version']}-browser"
    path = tmp_path_factory.mktemp("partnership") / "browser-partnership.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


# Package-scoped: once the browser tests are done their services stop, so they never share
# consumer groups with the integration tests' own services later in the same run.
@pytest.fixture(scope="package")
def stack(
    service_environment: dict[str, str],
    signing_key_path: Path,
    audit_key_path: Path,
    browser_partnership: Path,
) -> Iterator[Stack]:
    """Intake, routing, audit and the web pages, each on a real port (a browser needs one)."""
    from services.audit.app import build_app as build_audit
    from services.audit.settings import AuditSettings
    from services.intake.app import build_app as build_intake
    from services.intake.settings import IntakeSettings
    from services.routing.app import build_app as build_routing
    from services.routing.settings import RoutingSettings
    from services.web.app import build_app as build_web
    from services.web.settings import WebSettings

    started: list[Running] = []
    environment = {**service_environment, "partnership_path": str(browser_partnership)}
    try:
        for name, app in (
            ("intake", build_intake(IntakeSettings(**environment))),
            ("routing", build_routing(RoutingSettings(**environment,
                                                      escalation_interval_seconds=1))),
            ("audit", build_audit(AuditSettings(**environment,
                                                audit_signing_key_path=audit_key_path))),
        ):  # fmt: skip
            started.append(serve(app, name))
        intake, routing, audit = (s.url for s in started)
        web_settings = WebSettings(
            intake_url=intake,
            routing_url=routing,
            audit_url=audit,
            partnership_path=browser_partnership,
            jwt_public_key_path=public_key_path(signing_key_path),
            jwt_signing_key_path=signing_key_path,
        )
        started.append(serve(build_web(web_settings), "web"))
        yield Stack(intake=intake, routing=routing, audit=audit, web=started[-1].url)
    finally:
        for running in reversed(started):
            stop(running)


def chromium_installed() -> bool:
    """Whether the Chromium the tests drive is there."""
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright; a missing browser fails with instructions."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(HOW_TO_GET_CHROMIUM, pytrace=False)
    if not chromium_installed():
        pytest.fail(HOW_TO_GET_CHROMIUM, pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)  # fmt: skip
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where page screenshots go (test-output/screenshots, gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def intake_client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the running intake, as an agency system would post."""
    async with httpx.AsyncClient(base_url=stack.intake, timeout=30) as client:
        yield client


# Module-scoped: each worklist module raises concerns of its own, so one module's actions
# (assigning, deciding) never change what another expects to find.
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def team(browser: Any, stack: Stack) -> dict[str, Any]:
    """Two social care caseworkers in separate browser contexts, and the hospital's."""
    return {
        "casey": await sign_in(browser, stack, "nm-csc", "caseworker", CASEY),
        "jo": await sign_in(browser, stack, "nm-csc", "caseworker", JO),
        "hospital": await sign_in(browser, stack, HOSPITAL, "caseworker", "Hana Nurse"),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def raised(
    team: dict[str, Any], intake_client: httpx.AsyncClient, token: Any
) -> dict[str, Raised]:
    """A low, an immediate and a high concern from the hospital, as social care's inbox has them."""
    system = {"Authorization": f"Bearer {token(HOSPITAL, 'agency_system', 'ed')}"}
    posted: dict[str, tuple[str, str, str]] = {}
    for severity, category in (("low", "neglect"), ("immediate", "physical_abuse"),
                               ("high", "emotional_abuse")):  # fmt: skip
        family, reference = a_family_name(), f"ED-{uuid4().hex[:8]}"
        child = {"family_name": family, "nhs_number": an_nhs_number()}
        body = a_concern_body(category=category, severity=severity, source_reference=reference,
                              subject=child)  # fmt: skip
        answer = await intake_client.post("/v1/concerns", json=body, headers=system)
        assert answer.status_code == 202, answer.text
        posted[severity] = (answer.json()["concern_id"], family, reference)
    casey = team["casey"]

    async def notifications() -> dict[str, Raised] | None:
        await casey.goto("/inbox?kind=concern")
        found = {}
        for severity, (concern_id, family, reference) in posted.items():
            row = casey.locator(f"tr[data-concern-id='{concern_id}']")
            if await row.count() != 1:
                return None
            notification_id = await row.get_attribute("data-notification-id")
            found[severity] = Raised(concern_id, notification_id, family, reference)
        return found

    return await eventually(notifications, within=30, what="the three concerns in the inbox")
