"""The worklist and the loop in a real browser: sort, filters, assign, decide, live changes, errors.

Two browser contexts are signed in to the same children's social care team; the hospital that
raised the concerns watches what became of them on its "Concerns we raised" page.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import Role, mint_token
from services.web.session import COOKIE
from tests.browser.conftest import LOW_ACK_WITHIN, Stack
from tests.browser.test_web_pages import axe_source, serious_violations, sign_in
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.conftest import AUDIENCE, ISSUER
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

CASEY = "Casey Worker"
JO = "Jo Colleague"
UK_MOMENT = re.compile(r"\b\d{1,2} (January|February|March|April|May|June|July|August|"
                       r"September|October|November|December) \d{4}, \d{2}:\d{2}\b")  # fmt: skip
STRATEGY = "Strategy discussion (section 47)"
CSC_NAME = "Northmoor Children's Social Care Front Door"
HOSPITAL = "nm-hospital-ed"
assert LOW_ACK_WITHIN == "PT3S"  # the overdue row below appears within seconds because of it


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


async def test_a_caseworker_takes_one_and_gives_another_to_a_colleague(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey, jo = team["casey"], team["jo"]
    await casey.goto(f"/inbox/{raised['immediate'].notification_id}")
    await casey.get_by_role("button", name="Take it myself").click()
    await casey.wait_for_selector("#flash")
    assert CASEY in await casey.locator("#assignee").inner_text()
    await casey.goto("/inbox?mine=1")
    assert raised["immediate"].concern_id in await ids_in_order(
        casey, {raised["immediate"].concern_id}
    )

    await casey.goto(f"/inbox/{raised['low'].notification_id}")
    await casey.get_by_label("Give it to a colleague (their name)").fill(JO)
    await casey.get_by_role("button", name="Assign", exact=True).click()
    await casey.wait_for_selector("#flash")
    assert JO in await casey.locator("#assignee").inner_text()
    await casey.screenshot(path=screenshots / "notification-assigned.png", full_page=True)
    await jo.goto("/inbox?mine=1")
    wanted = {raised["low"].concern_id, raised["immediate"].concern_id}
    assert await ids_in_order(jo, wanted) == [raised["low"].concern_id]


async def test_a_change_by_one_caseworker_shows_live_in_the_others_inbox(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    casey, jo = team["casey"], team["jo"]
    high = raised["high"]
    row = f"tr[data-concern-id='{high.concern_id}']"
    await casey.goto("/inbox")
    await casey.wait_for_selector("body[data-live='connected']", timeout=15_000)
    await casey.evaluate("window.__notReloaded = true")

    await jo.goto(f"/inbox/{high.notification_id}")
    await jo.get_by_role("button", name="Acknowledge").click()
    await jo.wait_for_selector("text=You acknowledged this notification.")
    await casey.wait_for_selector(f"{row}[data-status='acknowledged']", timeout=15_000)

    await jo.get_by_label("Decision", exact=True).select_option(label=STRATEGY)
    await jo.get_by_label("Rationale (optional)").fill("Bruising seen twice; police to join.")
    await jo.get_by_role("button", name="Record decision").click()
    await jo.wait_for_selector("#decision-history")
    assert STRATEGY in await jo.locator("#decision-history").inner_text()
    await jo.screenshot(path=screenshots / "notification-decided.png", full_page=True)
    await casey.wait_for_selector(f"{row}[data-status='decided']", timeout=15_000)
    assert STRATEGY in await casey.locator(f"{row} [data-label='Status']").inner_text()

    await jo.get_by_role("button", name="Take it myself").click()
    await jo.wait_for_selector("#flash")
    await casey.wait_for_selector(f"{row}[data-assignee='{JO}']", timeout=15_000)
    assert await casey.evaluate("window.__notReloaded === true")
    assert "Live" in await casey.locator("#live-status").inner_text()
    await casey.screenshot(path=screenshots / "inbox-live-change.png", full_page=True)


async def test_a_change_between_the_page_and_its_stream_is_not_missed(
    team: dict[str, Any], raised: dict[str, Raised]
) -> None:
    casey, jo = team["casey"], team["jo"]
    immediate = raised["immediate"]
    row = f"tr[data-concern-id='{immediate.concern_id}']"
    rendered = asyncio.Event()
    changed = asyncio.Event()

    async def hold_the_stream(route: Any) -> None:
        rendered.set()
        await changed.wait()
        await route.continue_()

    await casey.route("**/inbox/stream*", hold_the_stream)
    try:
        await casey.goto("/inbox")
        await asyncio.wait_for(rendered.wait(), timeout=15)
        assert await casey.locator(f"{row}[data-status='new']").count() == 1
        await jo.goto(f"/inbox/{immediate.notification_id}")
        await jo.get_by_role("button", name="Acknowledge").click()
        await jo.wait_for_selector("text=You acknowledged this notification.")
        changed.set()
        await casey.wait_for_selector(f"{row}[data-status='acknowledged']", timeout=15_000)
    finally:
        changed.set()
        await casey.unroute("**/inbox/stream*")


async def test_the_referrer_sees_the_decision_and_its_feedback(
    team: dict[str, Any], raised: dict[str, Raised], screenshots: Path
) -> None:
    hospital, high = team["hospital"], raised["high"]
    section = hospital.locator(f"#concern-{high.concern_id}")
    csc = section.locator("tr[data-agency='nm-csc']")

    async def decided_and_fed_back() -> bool:
        await hospital.goto("/concerns")
        if await section.count() != 1 or await csc.count() != 1:
            return False
        return await csc.get_attribute("data-decision") == "strategy_discussion" and (
            await section.locator(".feedback-list a").count() >= 1
        )

    await eventually(decided_and_fed_back, within=30, what="the decision on the referrer's page")
    assert f"Your reference {high.reference}" in await section.inner_text()
    assert STRATEGY in await csc.inner_text()
    assert CSC_NAME in await csc.inner_text()
    assert "Not yet" not in await csc.locator("[data-label='Acknowledged']").inner_text()
    await hospital.screenshot(path=screenshots / "concerns-we-raised.png", full_page=True)

    await section.locator(".feedback-list a").first.click()
    await hospital.wait_for_selector("#feedback")
    feedback = await hospital.locator("#feedback").inner_text()
    assert STRATEGY in feedback
    assert CSC_NAME in feedback
    assert UK_MOMENT.search(feedback)
    assert "Bruising seen twice" in feedback  # the hospital's profile includes the narrative
    await hospital.screenshot(path=screenshots / "notification-feedback.png", full_page=True)


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


async def test_the_new_pages_have_no_serious_accessibility_violations(
    team: dict[str, Any], raised: dict[str, Raised]
) -> None:
    casey, hospital = team["casey"], team["hospital"]
    high, immediate = raised["high"], raised["immediate"]
    pages = [
        (casey, "/inbox?status=escalated&mine=1"),
        (casey, "/inbox?kind=escalation"),
        (casey, f"/inbox/{high.notification_id}"),
        (casey, f"/inbox/{immediate.notification_id}"),
        (casey, "/inbox/not-a-notification"),
        (hospital, "/concerns"),
        (hospital, f"/concerns/{high.concern_id}"),
        (hospital, "/inbox?kind=feedback"),
    ]
    axe = axe_source()
    found = {}
    for page, path in pages:
        await page.goto(path)
        violations = await serious_violations(page, axe)
        if violations:
            found[path] = violations
    await hospital.goto("/inbox?kind=feedback")
    await hospital.locator("#inbox-rows a").first.click()
    await hospital.wait_for_selector("#feedback")
    if violations := await serious_violations(hospital, axe):
        found["feedback"] = violations
    assert not found, found


async def test_the_decision_form_is_reached_by_keyboard_with_a_visible_focus(
    team: dict[str, Any], raised: dict[str, Raised]
) -> None:
    casey = team["casey"]
    await casey.goto(f"/inbox/{raised['low'].notification_id}")  # Jo has it: Casey may claim it
    reached = []
    for _ in range(40):
        await casey.keyboard.press("Tab")
        reached.append(await casey.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                       return {id: e.id, tag: e.tagName, outline: s.outlineStyle,
                               width: parseFloat(s.outlineWidth)}; }"""
        ))  # fmt: skip
    ids = [r["id"] for r in reached]
    for control in ("claim", "assignee-name", "decision", "rationale", "record-decision"):
        assert control in ids, (control, ids)
    for r in reached:
        if r["tag"] in ("A", "BUTTON", "SELECT", "TEXTAREA", "INPUT"):
            assert r["outline"] != "none", r
            assert r["width"] >= 2, r
