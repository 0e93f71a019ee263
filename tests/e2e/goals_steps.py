"""Browser steps for the goals page (`api/web/js/views/goals.js`)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.e2e.stack import EMPLOYEE

if TYPE_CHECKING:
    from tests.e2e.test_web import Browsing


async def goals_page(b: Browsing) -> None:
    """The manager opens the report's goals: what each aligns to, and the tree."""
    page = b.page
    await page.goto(f"{b.stack.base_url}/app/#/goals/{EMPLOYEE}")
    rows = page.locator("#goals tbody tr")
    await expect(rows).to_have_count(3)
    first = page.locator("#goals tbody tr").first
    await expect(first).to_contain_text("Cut onboarding time for new customers")
    await expect(first).to_contain_text("Company objective")
    # Approved, or in progress once a (simulated) check-in reported progress. The
    # approval was answered once the workflow accepted it; its store write follows a
    # moment later (behind the sped-up cycle's other writes), so look again until then.
    settled = re.compile("Approved|In progress")
    deadline = time.monotonic() + 30
    while not settled.search(await first.inner_text()):
        assert time.monotonic() < deadline, "the goal approval never reached the goals page"
        await asyncio.sleep(0.5)
        await page.reload()
        await expect(rows).to_have_count(3)
    await expect(first).to_contain_text(settled)
    tree = page.locator("#tree")
    await expect(tree.locator('[data-node="org-growth"]')).to_be_visible()
    await expect(
        tree.locator('[data-node="org-growth"]').get_by_text(
            "Cut onboarding time for new customers"
        )
    ).to_be_visible()
    await b.shot("manager-goals-of-report")

    # The report's whole performance file: a printable page in a new tab, or a download.
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Performance file (print)").click()
    printable = await opened.value
    await expect(printable.locator("h1")).to_contain_text("Performance file of ")
    await expect(printable.locator("h1")).to_contain_text(f"({EMPLOYEE})")
    await expect(printable.locator("section.cycle").first).to_contain_text(
        "Cut onboarding time for new customers"
    )
    await printable.close()
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download (JSON)").click()
    download = await downloading.value
    assert download.suggested_filename == f"performance-file-{EMPLOYEE}.json"


async def coverage_card(b: Browsing) -> None:
    """HR's cycle page shows how many goals are aligned, and who has none."""
    section = b.page.locator("#coverage")
    await expect(section).to_contain_text("goals aligned to an objective")
    await expect(section.get_by_role("progressbar")).to_be_visible()
