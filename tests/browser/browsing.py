"""Driving pages in tests: signing in through the development login, and axe-core's checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.browser.conftest import Stack

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
HOW_TO_GET_CHROMIUM = (
    f"Browser tests need Chromium at {CHROMIUM} and the Python package playwright. "
    "Install them with: apt-get update && apt-get install -y chromium; "
    ".venv/bin/pip install playwright axe-playwright-python "
    "(do not run `playwright install`: the tests drive Debian's Chromium). "
    "CHROMIUM_PATH points at another build."
)


async def sign_in(
    browser: Any, stack: Stack, agency: str, role: str, name: str, **options: Any
) -> Any:
    """A page in a fresh browser context, signed in through the development login."""
    context = await browser.new_context(base_url=stack.web, **options)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Agency").select_option(agency)
    await page.get_by_label("Role").select_option(role)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/inbox" if role != "auditor" else "**/audit")
    return page


def axe_source() -> str:
    """axe-core's script, as shipped inside the PyPI package axe-playwright-python."""
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail(HOW_TO_GET_CHROMIUM, pytrace=False)
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


async def serious_violations(page: Any, axe: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    await page.evaluate(axe)
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    assert result["passes"], "axe-core ran no checks"
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
