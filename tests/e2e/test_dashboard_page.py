"""The team dashboard page in headless Chromium: a manager signs in, opens the team
dashboard, and sees each report against the plan, their anomalies and overdue tasks;
a progress event pushed meanwhile shows after a reload.

Against the API app on a loopback port with a seeded store (no Temporal: the page only
reads the store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from api.signatures import SIGNATURE_HEADER, sign
from perfloop.settings import Settings
from store.db import session_scope
from tests.activities.servers import LoopbackServer
from tests.api.conftest import FakeTemporal, add_cycle, app_for, publish_stock
from tests.api.test_dashboards import NOW, SECRET, seed_team
from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def server(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr("api.services.dashboards.utc_now", lambda: NOW)
    publish_stock(db)
    with session_scope(db) as session:
        add_cycle(session)
    seed_team(db)
    settings = Settings(home=tmp_path / "home", database_url=db, progress_webhook_secret=SECRET)
    with LoopbackServer(app_for(settings, FakeTemporal())) as running:
        yield running.url


async def test_a_manager_reads_the_team_dashboard(
    browser: Browser, server: str, artifacts: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{server}/app/#/signin")
    await page.locator("button.person[data-employee=M1]").click()
    await expect(page.locator("#who .name")).to_have_text("Maja Holm")

    await page.locator('[data-nav="dashboard"]').click()
    ada = page.locator('tr[data-employee="A1"]')
    await expect(ada).to_be_visible()
    await expect(ada.get_by_text("Behind plan")).to_be_visible()
    await expect(ada.locator('[data-anomaly="behind-plan"] a')).to_have_text("Coach")
    await expect(ada.locator('[data-anomaly="silent"]')).to_be_visible()
    await expect(ada.get_by_text("1 overdue")).to_be_visible()
    await expect(ada.get_by_text("50% (1/2)")).to_be_visible()
    bo = page.locator('tr[data-employee="B1"]')
    await expect(bo.locator('[data-goal="b-1"]')).to_contain_text("50%")
    await page.screenshot(path=str(artifacts / "01-team-dashboard.png"), full_page=True)

    raw = json.dumps(
        {
            "event_id": "e2e-1",
            "source": "project-tracker",
            "employee_id": "B1",
            "kind": "progress",
            "occurred_at": "2027-05-31T10:00:00Z",
            "goal_id": "b-1",
            "progress": 0.9,
        }
    ).encode()
    response = await page.request.post(
        f"{server}/v1/progress-events",
        data=raw,
        headers={
            SIGNATURE_HEADER: sign(SECRET, raw, int(time.time())),
            "Content-Type": "application/json",
        },
    )
    assert response.status == 202
    await page.reload()
    await expect(bo.locator('[data-goal="b-1"]')).to_contain_text("90%")
    await page.screenshot(path=str(artifacts / "02-after-progress-event.png"), full_page=True)
    assert errors == []
