"""The worklist in a real browser: its order, filters, escalations, wording and errors.

A social care caseworker reads the inbox the hospital's three concerns arrive in.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import Role, mint_token
from services.web.session import COOKIE
from tests.browser.conftest import LOW_ACK_WITHIN, Stack
from tests.browser.worklist import CASEY, STRATEGY, UK_MOMENT, Raised, ids_in_order
from tests.conftest import AUDIENCE, ISSUER
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

assert LOW_ACK_WITHIN == "PT3S"  # the overdue row below appears within seconds because of it


async def test_the_worklist_puts_overdue_first_then_due_time_then_severity(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey = team["casey"]
    low = casey.locator(f"tr[data-concern-id='{raised['low'].concern_id}']")

    async def low_is_overdue() -> bool:
        await casey.goto("/inbox?kind=concern")
        return await low.get_attribute("data-overdue") == "true"

    await eventually(low_is_overdue, within=30, what="the low concern running late")
    wanted = {r.concern_id for r in raised.values()}
    expected = [raised[s].concern_id for s in ("low", "immediate", "high")]
    assert await ids_in_order(casey, wanted) == expected
    badge = low.locator(".badge-overdue")
    assert (await badge.inner_text()).strip() == "Overdue"
    assert await badge.locator("svg").count() == 1
    assert "is-overdue" in (await low.get_attribute("class") or "")
    high = casey.locator(f"tr[data-concern-id='{raised['high'].concern_id}']")
    assert f"{raised['high'].family_name}, aged 8" in await high.inner_text()
    assert "Emotional abuse" in await high.inner_text()
    assert "High" in await high.locator("[data-label='Severity']").inner_text()
    assert "Concern" in await high.locator("[data-label='Kind']").inner_text()
    assert UK_MOMENT.search(await high.locator("[data-label='Due']").inner_text())
    assert "Nobody yet" in await high.locator("[data-label='Assigned to']").inner_text()
    await casey.screenshot(path=screenshots / "inbox-worklist.png", full_page=True)


async def test_filters_narrow_the_worklist_and_counts_are_shown(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey = team["casey"]
    await casey.goto("/inbox")
    await casey.get_by_label("Severity").select_option("immediate")
    await casey.get_by_role("button", name="Show").click()
    await casey.wait_for_url("**/inbox?*severity=immediate*")
    wanted = {r.concern_id for r in raised.values()}
    assert await ids_in_order(casey, wanted) == [raised["immediate"].concern_id]
    severities = await casey.locator("#inbox-rows [data-label='Severity']").all_inner_texts()
    assert {s.strip() for s in severities} == {"Immediate"}

    await casey.goto("/inbox?kind=escalation")
    escalations = casey.locator(f"tr[data-concern-id='{raised['low'].concern_id}']")
    await escalations.first.wait_for()
    assert "missed by" in await escalations.first.locator("[data-label='Kind']").inner_text()

    await casey.goto("/inbox?status=escalated")
    assert raised["low"].concern_id in await ids_in_order(casey, wanted)
    counts = casey.locator("#status-counts")
    escalated = int(await counts.locator("[data-count-status='escalated']").inner_text())
    assert escalated >= 1
    assert await casey.locator("#status-counts [aria-current='page']").count() == 1
    await casey.screenshot(path=screenshots / "inbox-filtered.png", full_page=True)


async def test_an_escalation_says_which_agency_missed_which_deadline(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey = team["casey"]
    await casey.goto("/inbox?kind=escalation")
    row = casey.locator(f"tr[data-concern-id='{raised['low'].concern_id}']").first
    await row.locator("a").click()
    await casey.wait_for_selector("#escalation")
    said = await casey.locator("#escalation").inner_text()
    assert re.search(r"because .+ did not acknowledge it by its deadline", said), said
    assert "nm-" not in said
    await casey.screenshot(path=screenshots / "notification-escalation.png", full_page=True)


async def test_the_notification_page_speaks_in_peoples_words(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey = team["casey"]
    await casey.goto(f"/inbox/{raised['high'].notification_id}")
    main = await casey.locator("main").inner_text()
    assert "Northmoor General Hospital, Emergency Department" in main
    assert "Any concern goes to the children's social care of the child's home area" in main
    assert "Lawful basis for sharing" in main
    assert "Child's school" in main
    for internal in ("nm-hospital-ed", "nm-csc", "subject.", "lawful_basis", "home-area"):
        assert internal not in main, internal
    assert "8" in await casey.locator("#age").inner_text()
    assert UK_MOMENT.search(await casey.locator("#envelope").inner_text())
    assert await casey.locator("#decision option").count() == 7  # a prompt and six codes
    assert STRATEGY in await casey.locator("#decision").inner_text()


async def test_an_unknown_decision_code_shows_the_field_error_on_the_form(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey = team["casey"]
    await casey.goto(f"/inbox/{raised['immediate'].notification_id}")
    await casey.locator("#decision option").nth(1).evaluate("o => { o.value = 'made_up'; }")
    await casey.locator("#decision").select_option(index=1)
    await casey.get_by_role("button", name="Record decision").click()
    await casey.wait_for_selector("#decision-error")
    assert "Choose one of the decisions" in await casey.locator("#decision-error").inner_text()
    assert await casey.locator("#decision").get_attribute("aria-invalid") == "true"
    await casey.screenshot(path=screenshots / "notification-decision-error.png", full_page=True)


async def test_a_bad_or_foreign_id_is_a_not_found_page_with_the_navigation(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey, hospital = team["casey"], team["hospital"]
    for path in ("/inbox/not-a-notification", f"/inbox/{uuid4()}",
                 f"/concerns/{raised['high'].concern_id}"):  # fmt: skip
        answer = await casey.goto(path)
        assert answer.status == 404, path
        assert await casey.locator("#error-title").inner_text() == "Not found"
        assert await casey.get_by_role("navigation", name="Main").count() == 1
        assert "{" not in await casey.locator("main").inner_text()
    await casey.screenshot(path=screenshots / "error-not-found.png", full_page=True)
    # The hospital raised it but may not open social care's notification of it.
    answer = await hospital.goto(f"/inbox/{raised['high'].notification_id}")
    assert answer.status == 404


async def test_an_expired_session_says_so_and_returns_to_the_page(
    browser: Any, stack: Stack, signing_key: Ed25519PrivateKey, raised: dict[str, Raised],
    screenshots: Path,
) -> None:  # fmt: skip
    context = await browser.new_context(base_url=stack.web)
    expired = mint_token(signing_key, agency="nm-csc", role=Role.CASEWORKER, subject=CASEY,
                         issuer=ISSUER, audience=AUDIENCE,
                         lifetime=timedelta(seconds=-60))  # fmt: skip
    await context.add_cookies([{"name": COOKIE, "value": expired, "url": stack.web}])
    page = await context.new_page()
    wanted = f"/inbox/{raised['high'].notification_id}"
    await page.goto(wanted)
    assert "/login" in page.url
    assert "Your session has expired" in await page.locator("#expired").inner_text()
    await page.screenshot(path=screenshots / "session-expired.png", full_page=True)
    await page.get_by_label("Your name").fill(CASEY)
    await page.get_by_label("Agency").select_option("nm-csc")
    await page.get_by_label("Role").select_option("caseworker")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{wanted}")
    await page.wait_for_selector("#envelope")
