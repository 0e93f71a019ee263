"""The web task list in headless Chromium, against the whole product: an employee drafts
goals, their manager approves them, a reviewer submits their review at year end, records
the interview minutes beside the prefilled agenda (360 themes within the anonymity rules),
the employee reads them with the acknowledgment, HR reads the rating distribution and the
9-box. Screenshots of every page land in
`tests/e2e/artifacts/`.

The reviewer is the manager: of the 360 sources, the engine opens self and manager reviews
today (peer and upward review tasks come with peer nominations); the review form is the
same kind of task either way."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from temporalio.testing import WorkflowEnvironment

from tests.e2e.conftest import CHROMIUM
from tests.e2e.goals_steps import coverage_card, goals_page
from tests.e2e.stack import EMPLOYEE, HR_ADMIN, MANAGER, PEOPLE, Stack, running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.temporal,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)",
    ),
]

RESERVED = (
    (EMPLOYEE, EMPLOYEE, "goal_draft"),
    (MANAGER, EMPLOYEE, "goal_review"),
    (MANAGER, EMPLOYEE, "manager_review"),
    (MANAGER, EMPLOYEE, "interview_minutes"),
)
"""The tasks the browser does; simulated colleagues do every other task of the cycle."""


class Browsing:
    def __init__(self, page: Page, stack: Stack, artifacts: Path) -> None:
        self.page = page
        self.stack = stack
        self.artifacts = artifacts
        self.shots = 0
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # The browser logs every failed request; the one 422 is the refusal the test provokes.
        if message.type == "error" and "status of 422" not in message.text:
            where = message.location.get("url") or "?"
            self.errors.append(f"{message.text} ({where}, on {self.page.url})")

    async def shot(self, name: str) -> None:
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        # Sticky bars would be drawn where the page is scrolled to: start at the top.
        await self.page.evaluate("window.scrollTo(0, 0)")
        await self.page.screenshot(path=str(path), full_page=True)

    async def sign_in(self, employee_id: str) -> None:
        await self.page.goto(f"{self.stack.base_url}/")
        if await self.page.locator("#who").is_visible():
            await self.page.get_by_role("button", name="Sign out").click()
        await self.page.locator(f"button.person[data-employee={employee_id}]").click()
        await expect(self.page.locator("#who .name")).to_be_visible()

    def task_id(self, subject: str, phase: str, kind: str, seq: int = 1) -> str:
        suffix = f"-{seq}" if seq > 1 else ""
        return f"{self.stack.cycle_id}/{subject}/{phase}/{kind}{suffix}"

    async def open_task(self, task_id: str, within: float = 60.0, shot: str | None = None) -> None:
        """Wait (reloading the inbox) until the task is there, then open it."""
        row = self.page.locator(f'a.task-row[data-task="{task_id}"]')
        deadline = time.monotonic() + within
        while not await row.count():
            assert time.monotonic() < deadline, f"{task_id} never reached the inbox"
            await asyncio.sleep(0.5)
            await self.page.goto(f"{self.stack.base_url}/app/#/inbox")
            await self.page.reload()  # the same URL again: only a reload asks the API anew
            await self.page.wait_for_selector(".task-list, .empty")
        if shot:
            await self.shot(shot)
        await row.click()
        await expect(self.page.locator("form button[type=submit]")).to_be_visible()

    def field(self, path: str, control: str = "input") -> object:
        return self.page.locator(f'[data-path="{path}"] {control}').first

    async def fill(self, path: str, value: str, control: str = "input") -> None:
        await self.page.locator(f'[data-path="{path}"] {control}').first.fill(value)

    async def choose(self, path: str, label: str) -> None:
        await self.page.locator(f'[data-path="{path}"]').get_by_text(label, exact=True).click()

    async def submitted(self) -> None:
        await self.page.locator("form button[type=submit]").click()
        await expect(self.page.locator(".toast.ok", has_text="Submitted")).to_be_visible()
        await expect(self.page).to_have_url(f"{self.stack.base_url}/app/#/inbox")


async def draft_goals(b: Browsing) -> None:
    page = b.page
    await b.open_task(b.task_id(EMPLOYEE, "goals", "goal_draft"))
    await expect(page.get_by_text("Objectives to align with")).to_be_visible()
    await expect(page.get_by_text("Between 3 and 7 goals.")).to_be_visible()
    await b.shot("employee-goal-form")

    # Client-side validation: nothing filled in, nothing sent.
    await page.locator("form button[type=submit]").click()
    await expect(page.locator('[data-path="/goals/0/title"] .error')).to_have_text(
        "This field is required."
    )
    await expect(page.locator(".form > .alert.bad")).to_contain_text("need your attention")
    await b.shot("employee-goal-form-client-errors")

    await b.fill("/goals/0/title", "Cut onboarding time for new customers")
    await b.choose("/goals/0/type", "Objective with key results (OKR)")
    await b.fill("/goals/0/weight", "50")
    await page.locator('[data-path="/goals/0/parent_id"] select').select_option("org-growth")
    await b.fill("/goals/0/key_results/0/title", "Onboarding in 3 days")
    await page.locator('[data-path="/goals/0/key_results/0/committed"] input').check()
    await b.fill("/goals/0/key_results/0/target", "3")
    await b.fill("/goals/0/key_results/0/unit", "days")
    # KPI fields stay hidden for an OKR.
    await expect(page.locator('[data-path="/goals/0/metric"]')).to_be_hidden()

    await page.get_by_role("button", name="+ Add goal").click()
    await b.fill("/goals/1/title", "Keep first response time low")
    await b.choose("/goals/1/type", "Key performance indicator (KPI)")
    await b.fill("/goals/1/weight", "30")
    await page.locator('[data-path="/goals/1/parent_id"] select').select_option("org-customers")
    await b.fill("/goals/1/metric", "First response time")
    await b.fill("/goals/1/unit", "hours")
    await b.choose("/goals/1/direction", "Lower")
    await b.fill("/goals/1/target", "4")

    await page.get_by_role("button", name="+ Add goal").click()
    await b.fill("/goals/2/title", "Grow as a mentor")
    await b.choose("/goals/2/type", "Development goal")
    await b.fill("/goals/2/weight", "10")  # the weights add up to 90: the cycle refuses it

    # Server-side validation: the cycle's rules, shown on the form.
    await page.locator("form button[type=submit]").click()
    await expect(page.locator(".form > .alert.bad")).to_contain_text(
        "Goal weights must sum to 100, got 90"
    )
    await b.shot("employee-goal-form-server-errors")

    await b.fill("/goals/2/weight", "20")
    await b.submitted()
    await expect(page.locator(".empty")).to_contain_text("all caught up")
    await b.shot("employee-inbox-empty")


async def approve_goals(b: Browsing) -> None:
    page = b.page
    await b.open_task(b.task_id(EMPLOYEE, "goals", "goal_review"), shot="manager-inbox")
    await expect(page.get_by_text("Goals to review")).to_be_visible()
    await expect(page.get_by_text("Cut onboarding time for new customers")).to_be_visible()
    await b.shot("manager-goal-review")
    await b.choose("/decision", "Approve")
    await b.fill("/comments", "Ambitious and well aligned. Approved.", "textarea")
    await b.submitted()


async def team_page(b: Browsing) -> None:
    page = b.page
    await page.goto(f"{b.stack.base_url}/app/#/team")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator(f'tr[data-employee="{EMPLOYEE}"]')).to_contain_text("Lukas Meyer")
    await expect(page.locator('[role="progressbar"]')).to_have_count(2)
    await b.shot("manager-team")


async def review(b: Browsing) -> None:
    page = b.page
    # Monitoring (bi-weekly check-ins, anomaly rules, pulls) runs first on the sped-up
    # clock; on PostgreSQL it once took over a minute of real time on an idle machine.
    await b.open_task(b.task_id(EMPLOYEE, "evaluation", "manager_review"), within=180)
    await b.shot("reviewer-form")
    competencies = page.locator('[data-path^="/competencies/"].field')
    await expect(competencies).to_have_count(5)  # the cycle's competencies, named
    await expect(competencies.first).to_contain_text("Delivers results")
    for index in range(5):
        await competencies.nth(index).get_by_text(str(3 + index % 2), exact=True).click()
    await page.locator('[data-path="/rating"]').get_by_text("4", exact=True).click()
    await b.fill("/strengths", "Led the onboarding rework end to end.", "textarea")
    await b.fill("/improvements", "Delegate more of the day-to-day support.", "textarea")
    await b.submitted()


async def interview(b: Browsing) -> None:
    """The manager records the minutes beside the prefilled agenda (360 themes included)."""
    page = b.page
    await b.open_task(b.task_id(EMPLOYEE, "interview", "interview_minutes"), within=180)
    sections = page.locator(".agenda-section")
    await expect(sections).to_have_count(4)  # the template's sections, in its order
    await expect(sections.first.locator("h3")).to_have_text("Looking back on the year")
    themes = page.locator('.agenda-item[data-item="feedback_themes"]')
    await expect(themes).to_be_visible()
    await expect(themes.locator(".theme-group, .notice, p.muted").first).to_be_visible()
    # No reviewer is ever named in the agenda.
    for person in ("Clara Neumann", "Jakob Fischer", "Daniel Okafor"):
        assert person not in await themes.inner_text()
    await b.shot("interview-agenda")
    await b.fill("/strengths", "Calm and thorough in incidents.", "textarea")
    await b.fill("/development_areas", "Present the team's work more often.", "textarea")
    await b.submitted()


async def acknowledgment(b: Browsing) -> None:
    """The employee reads the minutes beside the acknowledgment (answered for them by the
    simulated clock if they were too slow: the minutes are shown either way)."""
    page = b.page
    task_id = b.task_id(EMPLOYEE, "interview", "acknowledgment")
    deadline = time.monotonic() + 60
    # The minutes' answer comes before the workflow opens the acknowledgment: wait for its
    # row, rather than ask the API for a task it does not have yet (a 404 in the console).
    while not b.stack.has_task(task_id):
        assert time.monotonic() < deadline, f"{task_id} never opened"
        await asyncio.sleep(0.5)
    while True:
        await page.goto(f"{b.stack.base_url}/app/#/tasks/{task_id}")
        await page.reload()
        if await page.locator(".minutes").count():
            break
        assert time.monotonic() < deadline, f"{task_id} never opened"
        await asyncio.sleep(0.5)
    minutes = page.locator(".minutes")
    await expect(minutes).to_contain_text("Calm and thorough in incidents.")
    await expect(minutes).to_contain_text("Present the team's work more often.")
    await b.shot("acknowledgment")


async def hr_distribution(b: Browsing) -> None:
    page = b.page
    deadline = time.monotonic() + 60
    while b.stack.proposals() < len(PEOPLE):
        assert time.monotonic() < deadline, "the results phase never proposed everyone's results"
        await asyncio.sleep(0.5)
    await page.get_by_role("link", name="Review cycles").click()
    await page.locator(f'tr[data-cycle="{b.stack.cycle_id}"] a').click()
    await expect(page.locator("#progress-title")).to_be_visible()
    await expect(page.locator(".phase-card")).to_have_count(5)
    chart = page.get_by_role("img", name="Rating distribution against the guideline")
    await expect(chart).to_be_visible()
    await expect(page.locator(".nine-box .cell")).to_have_count(9)
    placed = await page.locator(".nine-box .cell .n").all_inner_texts()
    assert sum(int(n) for n in placed) == len(PEOPLE)
    await b.shot("hr-cycle")
    await page.locator("#results-title").scroll_into_view_if_needed()
    await page.get_by_label("Department").select_option("Engineering")
    # Daniel, Anna, Lukas and Jakob
    await expect(page.get_by_text("4 people placed", exact=False)).to_be_visible()
    placed = await page.locator(".nine-box .cell .n").all_inner_texts()
    assert sum(int(n) for n in placed) == 4
    await b.shot("hr-cycle-engineering")
    # The results part: pay spend against the budget, calibration shifts, succession.
    await page.locator("#pay-title").scroll_into_view_if_needed()
    await expect(page.locator('tr[data-pay="Engineering"]')).to_be_visible()
    await expect(page.locator('tr[data-pay="*"]')).to_contain_text("Total")
    await expect(page.locator('tr[data-group="Engineering"]')).to_be_visible()
    await expect(page.get_by_role("heading", name="High performers")).to_be_visible()
    await expect(page.locator('li[data-position="Head of Engineering"]')).to_be_visible()
    await b.shot("hr-cycle-results")


async def calibration_page(b: Browsing) -> None:
    """Engineering's calibration, as HR reads it (read only: the task is the HRBP's)."""
    page = b.page
    await page.goto(f"{b.stack.base_url}/app/#/calibration/{b.stack.cycle_id}/Engineering")
    await expect(page.get_by_role("heading", name="Calibration: Engineering")).to_be_visible()
    chart = page.get_by_role("img", name="Rating distribution against the guideline")
    await expect(chart).to_be_visible()
    await expect(page.locator("#members tbody tr")).to_have_count(4)
    await expect(page.get_by_role("heading", name="Changes made")).to_be_visible()
    await expect(page.get_by_text("Read only", exact=False)).to_be_visible()
    await b.shot("calibration-engineering")


async def test_goals_review_and_hr_distribution_in_the_browser(
    e2e_temporal: WorkflowEnvironment, db: str, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    async with running_stack(e2e_temporal.client, db, reserved=RESERVED, home=tmp_path) as stack:
        context = await browser.new_context(
            viewport={"width": 1360, "height": 900}, locale="en-GB", timezone_id="Europe/Berlin"
        )
        page = await context.new_page()
        page.set_default_timeout(15_000)
        b = Browsing(page, stack, artifacts)

        await page.goto(f"{stack.base_url}/")
        await expect(page.locator("button.person")).to_have_count(len(PEOPLE))
        await b.shot("sign-in")

        await b.sign_in(EMPLOYEE)
        await draft_goals(b)

        await b.sign_in(MANAGER)
        await approve_goals(b)
        await team_page(b)
        await goals_page(b)
        await review(b)
        await interview(b)

        await b.sign_in(EMPLOYEE)
        await acknowledgment(b)

        await b.sign_in(HR_ADMIN)
        await hr_distribution(b)
        await coverage_card(b)
        await calibration_page(b)

        await context.close()
        assert b.errors == []
