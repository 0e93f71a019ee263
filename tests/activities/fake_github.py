"""A local fake of a GitHub-issues-style JSON API, for the pull adapter's tests.

Speaks the subset `activities.progress.github` reads: `GET /repos/{o}/{r}/issues`
(filter `assignee`, `state`; pages `per_page`, `page`) and `GET /repos/{o}/{r}/milestones`
(`state`, pages), with bearer-token auth, and can be told to fail (`fail_next`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKEN = "ghp-test-token"


@dataclass
class FakeGitHub:
    issues: list[dict[str, Any]] = field(default_factory=list)
    milestones: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def milestone(
        self, number: int, title: str, due_on: str | None, *, closed_at: str | None = None
    ) -> dict[str, Any]:
        row = {
            "number": number,
            "title": title,
            "state": "closed" if closed_at else "open",
            "due_on": due_on,
            "closed_at": closed_at,
            "open_issues": 0,
            "closed_issues": 0,
        }
        self.milestones.append(row)
        return row

    def issue(
        self,
        number: int,
        login: str,
        *,
        milestone: dict[str, Any] | None = None,
        closed_at: str | None = None,
        pull_request: bool = False,
    ) -> None:
        row: dict[str, Any] = {
            "number": number,
            "title": f"Issue {number}",
            "state": "closed" if closed_at else "open",
            "closed_at": closed_at,
            "assignee": {"login": login},
            "assignees": [{"login": login}],
            "milestone": milestone,
        }
        if pull_request:
            row["pull_request"] = {"url": f"https://example/pulls/{number}"}
        self.issues.append(row)

    def app(self) -> FastAPI:
        app = FastAPI()

        def page(rows: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
            per_page = int(request.query_params.get("per_page", "30"))
            number = int(request.query_params.get("page", "1"))
            return rows[(number - 1) * per_page : number * per_page]

        def refused(request: Request) -> JSONResponse | None:
            self.requests.append(str(request.url.path) + "?" + str(request.url.query))
            if self.fail_next:
                return JSONResponse({"message": "failure"}, status_code=self.fail_next.pop(0))
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            return None

        @app.get("/repos/{owner}/{repo}/issues", response_model=None)
        def issues(owner: str, repo: str, request: Request) -> Any:
            if (answer := refused(request)) is not None:
                return answer
            state = request.query_params.get("state", "open")
            assignee = request.query_params.get("assignee")
            rows = [
                i
                for i in self.issues
                if (state == "all" or i["state"] == state)
                and (assignee is None or i["assignee"]["login"] == assignee)
            ]
            return page(rows, request)

        @app.get("/repos/{owner}/{repo}/milestones", response_model=None)
        def milestones(owner: str, repo: str, request: Request) -> Any:
            if (answer := refused(request)) is not None:
                return answer
            state = request.query_params.get("state", "open")
            rows = [m for m in self.milestones if state == "all" or m["state"] == state]
            return page(rows, request)

        return app
