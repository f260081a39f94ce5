"""The loop in a real browser: assign, decide, live changes, and what the referrer sees of it.

Two browser contexts are signed in to the same children's social care team; the hospital that
raised the concerns watches what became of them on its "Concerns we raised" page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browsing import axe_source, serious_violations
from tests.browser.worklist import CASEY, CSC_NAME, JO, STRATEGY, UK_MOMENT, Raised, ids_in_order
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


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
