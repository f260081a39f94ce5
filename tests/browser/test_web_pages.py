"""The web pages in a real browser: a live inbox, need-to-know detail, the audit timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.browser.browsing import axe_source, serious_violations, sign_in
from tests.browser.conftest import Stack
from tests.builders import a_concern_body, a_family_name, an_nhs_number
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

NARRATIVE = "Full account of what was seen and said."
CASEWORKER = "Casey Worker"
TEACHER = "Sam Teacher"
AUDITOR = "Alex Auditor"


async def open_live_inbox(page: Any) -> None:
    await page.goto("/inbox")
    await page.wait_for_selector("body[data-live='connected']", timeout=15_000)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(browser: Any, stack: Stack) -> dict[str, Any]:
    """Signed-in pages: a social-care caseworker, two schools' staff and an auditor."""
    return {
        "csc": await sign_in(browser, stack, "nm-csc", "caseworker", CASEWORKER),
        "oakfield": await sign_in(browser, stack, "nm-school-oakfield", "caseworker", TEACHER),
        "riverside": await sign_in(browser, stack, "nm-school-riverside", "caseworker", "Riley"),
        "auditor": await sign_in(browser, stack, "nm-csc", "auditor", AUDITOR),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_concern(people: dict[str, Any], intake_client: httpx.AsyncClient, token: Any) -> str:
    """A neglect concern about an Oakfield pupil, posted by the hospital while inboxes are open."""
    for who in ("csc", "oakfield", "riverside"):
        await open_live_inbox(people[who])
    child = {"family_name": a_family_name(), "nhs_number": an_nhs_number()}
    body = a_concern_body(category="neglect", severity="high", subject=child)
    response = await intake_client.post(
        "/v1/concerns",
        json=body,
        headers={"Authorization": f"Bearer {token('nm-hospital-ed', 'agency_system', 'ed')}"},
    )
    assert response.status_code == 202, response.text
    concern_id: str = response.json()["concern_id"]
    for who in ("csc", "oakfield"):
        await people[who].wait_for_selector(
            f"tr.is-new[data-concern-id='{concern_id}']", timeout=30_000
        )
    return concern_id


async def test_a_posted_concern_appears_live_in_the_right_inboxes_and_no_other(
    people: dict[str, Any], live_concern: str, screenshots: Path
) -> None:
    row = f"tr[data-concern-id='{live_concern}']"
    assert await people["csc"].locator(row).count() == 1
    assert await people["oakfield"].locator(row).count() == 1
    await people["csc"].wait_for_timeout(2_000)  # give a wrong delivery time to show up
    assert await people["riverside"].locator(row).count() == 0
    assert "Live" in await people["csc"].locator("#live-status").inner_text()
    assert "due in" in await people["csc"].locator(f"{row} time").inner_text()
    await people["csc"].screenshot(path=screenshots / "inbox.png", full_page=True)


async def test_opening_shows_only_what_the_sharing_profile_allows(
    people: dict[str, Any], live_concern: str, screenshots: Path
) -> None:
    csc, school = people["csc"], people["oakfield"]
    await csc.locator(f"tr[data-concern-id='{live_concern}'] a").click()
    await csc.wait_for_selector("h1")
    assert NARRATIVE in await csc.locator("#narrative").inner_text()
    assert await csc.locator("#reporter").count() == 1
    await csc.screenshot(
        path=screenshots / "notification-childrens-social-care.png", full_page=True
    )

    await school.locator(f"tr[data-concern-id='{live_concern}'] a").click()
    await school.wait_for_selector("h1")
    text = await school.locator("main").inner_text()
    assert NARRATIVE not in text
    assert await school.locator("#narrative").count() == 0
    assert await school.locator("#reporter").count() == 0
    assert await school.locator("#household").count() == 0
    assert "Narrative" in await school.locator("#withheld").inner_text()
    assert "hungry" in await school.locator("#summary").inner_text()
    await school.screenshot(path=screenshots / "notification-school.png", full_page=True)


async def test_acknowledging_shows_in_the_auditors_timeline_with_the_persons_name(
    people: dict[str, Any], live_concern: str, screenshots: Path
) -> None:
    csc, auditor = people["csc"], people["auditor"]
    if "/inbox/" not in csc.url:
        await csc.locator(f"tr[data-concern-id='{live_concern}'] a").click()
    await csc.get_by_role("button", name="Acknowledge").click()
    await csc.wait_for_selector("text=You acknowledged this notification.")
    assert f"Acknowledged by {CASEWORKER}" in await csc.locator("#status").inner_text()

    async def timeline() -> set[str] | None:
        await auditor.goto(f"/audit/concerns/{live_concern}")
        actions = set(await auditor.locator(
            f"#timeline li[data-subject='{CASEWORKER}']"
        ).evaluate_all("items => items.map(i => i.dataset.action)"))  # fmt: skip
        wanted = {"notification.listed", "notification.viewed", "notification.acknowledged"}
        return actions if wanted <= actions else None

    await eventually(timeline, within=30, what="the caseworker's actions in the timeline")
    assert CASEWORKER in await auditor.locator("#timeline").inner_text()
    await auditor.screenshot(path=screenshots / "audit-trail.png", full_page=True)


async def test_auditor_searches_checks_integrity_and_exports(
    people: dict[str, Any], live_concern: str, screenshots: Path
) -> None:
    auditor = people["auditor"]
    await auditor.goto("/audit")
    await auditor.get_by_label("Concern id").fill(live_concern)
    await auditor.get_by_label("Action").select_option("notification.viewed")
    await auditor.get_by_role("button", name="Search").click()
    await auditor.wait_for_selector("#audit-results")
    assert await auditor.locator("#audit-results tbody tr").count() >= 1
    assert CASEWORKER in await auditor.locator("#audit-results").inner_text()
    await auditor.screenshot(path=screenshots / "audit-search.png", full_page=True)

    export = await auditor.request.get(f"/audit/export?concern_id={live_concern}&format=csv")
    assert export.ok
    assert export.headers["content-type"].startswith("text/csv")
    assert live_concern in await export.text()

    await auditor.goto("/audit/integrity")
    assert "Intact" in await auditor.locator("#verdict").inner_text()
    await auditor.locator("#tree-head").wait_for()
    await auditor.screenshot(path=screenshots / "audit-integrity.png", full_page=True)


async def test_every_page_has_no_serious_accessibility_violations(
    browser: Any, stack: Stack, people: dict[str, Any], live_concern: str, screenshots: Path
) -> None:
    anonymous = await (await browser.new_context(base_url=stack.web)).new_page()
    await anonymous.goto("/login")
    await anonymous.screenshot(path=screenshots / "login.png", full_page=True)
    csc, auditor = people["csc"], people["auditor"]
    pages = [(anonymous, None)]
    pages += [(csc, "/inbox"), (csc, None)]
    pages += [(auditor, f"/audit?concern_id={live_concern}"), (auditor, "/audit/integrity"),
              (auditor, f"/audit/concerns/{live_concern}")]  # fmt: skip
    found = {}
    axe = axe_source()
    for page, path in pages:
        if path:
            await page.goto(path)
        else:
            await page.wait_for_load_state()
        if page is csc and path is None:
            await csc.locator(f"tr[data-concern-id='{live_concern}'] a").click()
            await csc.wait_for_selector("#envelope")
        violations = await serious_violations(page, axe)
        if violations:
            found[page.url] = violations
    assert not found, found


async def test_keyboard_reaches_the_controls_with_a_visible_focus(
    people: dict[str, Any], live_concern: str
) -> None:
    page = people["csc"]
    await page.goto("/inbox")
    reached = []
    for _ in range(20):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                       return {text: e.innerText || e.value || '', tag: e.tagName,
                               outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
        ))  # fmt: skip
    texts = [r["text"] for r in reached]
    assert texts[0] == "Skip to main content"
    assert "Sign out" in texts
    assert any(t.startswith("Neglect") for t in texts), texts
    for r in reached:
        if r["tag"] in ("A", "BUTTON"):
            assert r["outline"] != "none", r
            assert r["width"] >= 2, r


async def test_the_inbox_works_at_phone_width(
    browser: Any, stack: Stack, live_concern: str, screenshots: Path
) -> None:
    phone = await sign_in(browser, stack, "nm-csc", "caseworker", CASEWORKER,
                          viewport={"width": 390, "height": 844}, is_mobile=True)  # fmt: skip
    await phone.goto("/inbox")
    await phone.wait_for_selector(f"tr[data-concern-id='{live_concern}']")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.screenshot(path=screenshots / "inbox-phone.png", full_page=True)
    await phone.locator(f"tr[data-concern-id='{live_concern}'] a").first.click()
    await phone.wait_for_selector("#envelope")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.screenshot(path=screenshots / "notification-phone.png", full_page=True)
