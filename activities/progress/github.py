"""A pull adapter for a GitHub-issues-style JSON API.

Given a repository API URL (`https://api.github.com/repos/<owner>/<repo>`, or anything
that speaks the same dialect), it reads:

- `GET <url>/issues?assignee=<login>&state=all&per_page=100&page=N`: the person's issues
  (pull requests, which GitHub lists as issues with a `pull_request` key, are skipped);
  each closed one is an `issue_closed` event;
- `GET <url>/milestones?state=all&per_page=100&page=N`: the repository's milestones.

A milestone counts for a person when at least one of their issues belongs to it. It is
decided for them once it is closed (achieved, at `closed_at`), or once its `due_on` has
passed while any of their issues in it is still open (missed). Achievement on time
(closed on or before `due_on`) is computed from those events by
`store.monitoring.milestone_rates`.

Pagination follows `page` until a page is shorter than `per_page` (at most `MAX_PAGES`).
The token, if any, goes in `Authorization: Bearer`; errors are classified like the other
integrations (`activities.errors`): 401/403/404 are configuration errors (not retried),
408/429/5xx and network errors are retried by Temporal.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import httpx

from activities.errors import IntegrationConfigError, IntegrationUnavailable, retry_after
from activities.progress.base import PulledEvent

SYSTEM = "github_issues"
PER_PAGE = 100
MAX_PAGES = 50


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class GitHubIssuesAdapter:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        per_page: int = PER_PAGE,
    ) -> None:
        self._url = url.rstrip("/")
        self._per_page = per_page
        self._token = token
        self._timeout = timeout
        self._client = client

    async def pull(self, login: str, *, today: date) -> list[PulledEvent]:
        if self._client is not None:
            return await self._pull(self._client, login, today)
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            return await self._pull(client, login, today)

    async def _pull(self, client: httpx.AsyncClient, login: str, today: date) -> list[PulledEvent]:
        issues = [
            issue
            for issue in await self._pages(client, "/issues", {"assignee": login, "state": "all"})
            if "pull_request" not in issue
        ]
        events: list[PulledEvent] = []
        mine: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for issue in issues:
            number = issue.get("number")
            milestone = issue.get("milestone")
            if isinstance(milestone, dict) and isinstance(milestone.get("number"), int):
                mine[milestone["number"]].append(issue)
            closed_at = _when(issue.get("closed_at"))
            if issue.get("state") == "closed" and closed_at is not None:
                events.append(
                    PulledEvent(
                        event_id=f"issue-{number}/{login}",
                        kind="issue_closed",
                        occurred_at=closed_at,
                        title=str(issue.get("title") or "")[:500] or None,
                        data={"number": number},
                    )
                )
        if not mine:
            return events
        for milestone in await self._pages(client, "/milestones", {"state": "all"}):
            number = milestone.get("number")
            if not isinstance(number, int) or number not in mine:
                continue
            due = _when(milestone.get("due_on"))
            due_on = due.date() if due is not None else None
            closed_at = _when(milestone.get("closed_at"))
            title = str(milestone.get("title") or "")[:500] or None
            facts = {
                "number": number,
                "issues": len(mine[number]),
                "issues_closed": sum(1 for i in mine[number] if i.get("state") == "closed"),
            }
            if milestone.get("state") == "closed" and closed_at is not None:
                achieved, at = True, closed_at
            elif due is not None and due_on is not None and due_on < today:
                if facts["issues_closed"] == facts["issues"]:
                    continue  # their part is done; wait for the milestone to close
                achieved, at = False, due
            else:
                continue
            events.append(
                PulledEvent(
                    event_id=f"milestone-{number}/{login}",
                    kind="milestone",
                    occurred_at=at,
                    title=title,
                    milestone_id=f"milestone-{number}",
                    due_on=due_on,
                    achieved=achieved,
                    data=facts,
                )
            )
        return events

    async def _pages(
        self, client: httpx.AsyncClient, path: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._get(
                client, path, {**params, "per_page": self._per_page, "page": page}
            )
            found.extend(item for item in body if isinstance(item, dict))
            if len(body) < self._per_page:
                break
        return found

    async def _get(self, client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
        url = self._url + path
        headers = {"Accept": "application/vnd.github+json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = await client.get(url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise IntegrationUnavailable(SYSTEM, f"GET {url} timed out") from exc
        except httpx.TransportError as exc:
            raise IntegrationUnavailable(SYSTEM, f"GET {url} failed: {type(exc).__name__}") from exc
        status = response.status_code
        if status in (408, 425, 429) or status >= 500:
            raise IntegrationUnavailable(
                SYSTEM,
                f"GET {url} answered {status}",
                next_retry_delay=retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise IntegrationConfigError(
                SYSTEM, f"GET {url} answered {status}: check the source's url and token"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise IntegrationConfigError(SYSTEM, f"GET {url} did not answer JSON") from exc
        if not isinstance(body, list):
            raise IntegrationConfigError(SYSTEM, f"GET {url} did not answer a JSON list")
        return body
