"""The authorisation model: permissions, relationships, and the one way routes declare them.

Every route under `/v1` declares exactly one permission with a dependency:

```
@router.get("/{employee_id}")
def get_employee(employee_id: str, access: Annotated[Access, permit("employees:read")], ...)
```

or, when the route needs nothing from it, `dependencies=[permit("me:read")]`.
`ensure_declared(app)` runs when the app is built and refuses to build one in which a
`/v1` route declares none (or several): deny by default.

A permission says two things (the table is `PERMISSIONS`):

- `roles`: who may call the route at all. A caller with none of them gets 403
  `MissingRole` before anything is looked up, so nothing about any object leaks.
  Every authenticated caller holds `employee`.
- `allow`: for routes about one person (an employee id, or a task about someone), the
  caller's *relationships* to that person that grant access. The route's service calls
  `access.check(session, subject_id, ...)` once it knows the subject.

Relationships (`Relation`) are computed from the org chart in the store
(`Employee.manager_id`) and the task table: self, direct manager, indirect manager
(skip-level and above), HRBP of the subject's department (departments from the token),
HR admin, and reviewer-of (the caller is the assignee of a task about the subject; of
*that* task when a task is being checked).

Machine callers: a permission whose `authentication` is `hmac` is declared with
`permit_signed(...)` instead, on a route outside the bearer-token router; the caller
proves itself with an HMAC signature of the request (`api.signatures`), and there is no
user, role or relationship. `ensure_declared` checks that every route's authentication
matches its permission's, so neither kind can slip into the other's router.

404 or 403: a caller who may not see an object at all gets exactly the 404 a missing
object gets (same type, same message), so ids cannot be probed. A caller who may see it
but not do this to it (an HR admin submitting someone else's task) gets 403.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from api.auth import Principal, Role
from api.deps import CurrentUser, authenticated
from api.errors import ApiError, Forbidden
from api.signatures import SignedRequest, verify_request
from store.models import Employee, Task

MAX_CHAIN = 64
"""Management chains longer than this are treated as broken (a loop in the HRIS data)."""

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_REASON = 500


class Relation(StrEnum):
    """How the caller stands to the person an object is about."""

    SELF = "self"
    MANAGER = "manager"
    """The subject's direct manager."""
    SKIP_LEVEL = "skip-level"
    """Any manager above the direct one."""
    HRBP = "hrbp"
    """HR business partner of the subject's department (or of the group, for group tasks)."""
    HR_ADMIN = "hr-admin"
    REVIEWER = "reviewer"
    """Assignee of a task about the subject (of the very task, when one is checked)."""


EVERYONE = frozenset({Role.EMPLOYEE})
MANAGERS = frozenset({Relation.MANAGER, Relation.SKIP_LEVEL})


@dataclass(frozen=True)
class Permission:
    name: str
    description: str
    roles: frozenset[Role] = EVERYONE
    allow: frozenset[Relation] = frozenset()
    """Relationships to the subject that grant it; empty: no object check (roles only)."""
    visible: frozenset[Relation] = frozenset()
    """Relationships that may know the object exists (403 rather than 404 when `allow`
    refuses); `allow` is always included."""
    authentication: Literal["bearer", "hmac"] = "bearer"
    """How the caller proves who they are: a bearer token (`permit`, behind the `/v1`
    router's `authenticated`), or an HMAC signature of the request with a shared secret
    (`permit_signed`, for machine callers such as project tools' webhooks)."""

    @property
    def reveals(self) -> frozenset[Relation]:
        return self.allow | self.visible


TASK_READERS = frozenset({Relation.REVIEWER, Relation.HRBP, Relation.HR_ADMIN})
EMPLOYEE_READERS = frozenset(
    {Relation.SELF, Relation.MANAGER, Relation.SKIP_LEVEL, Relation.HRBP, Relation.HR_ADMIN}
)
PAY_READERS = frozenset({Relation.SELF, Relation.HRBP, Relation.HR_ADMIN})
GOAL_DECIDERS = frozenset({Relation.MANAGER, Relation.SKIP_LEVEL, Relation.HR_ADMIN})
GOAL_CHANGERS = GOAL_DECIDERS | {Relation.SELF}

_PERMISSIONS = (
    Permission("me:read", "Who the token speaks for."),
    Permission("me:tasks", "The caller's own inbox."),
    Permission("cycles:create", "Launch a cycle.", roles=frozenset({Role.HR_ADMIN})),
    Permission(
        "cycles:read",
        "A cycle's progress (counts only, no personal data).",
        roles=frozenset({Role.HR_ADMIN, Role.HRBP, Role.OPS}),
    ),
    Permission(
        "cycles:control",
        "HR controls on a running cycle: deadlines, closing phases, reopening and "
        "reassigning tasks, withdrawing participants, cancelling, migrating.",
        roles=frozenset({Role.HR_ADMIN}),
    ),
    Permission(
        "definitions:read",
        "Published cycle definitions and their forms (no personal data).",
        roles=frozenset({Role.HR_ADMIN, Role.HRBP, Role.OPS}),
    ),
    Permission(
        "definitions:publish",
        "Publish or deprecate a cycle definition.",
        roles=frozenset({Role.HR_ADMIN}),
    ),
    Permission(
        "cycles:analytics",
        "A cycle's rating distribution and 9-box counts: HR admins; HRBPs per department.",
        roles=frozenset({Role.HR_ADMIN, Role.HRBP}),
    ),
    Permission("teams:read", "The caller's direct reports and their progress."),
    Permission("tasks:read", "A task with its form and submission.", allow=TASK_READERS),
    Permission(
        "tasks:submit",
        "Submit a task's form: its assignee only.",
        allow=frozenset({Relation.REVIEWER}),
        visible=TASK_READERS,
    ),
    Permission(
        "employees:list",
        "List employees: HR admins all, HRBPs their departments.",
        roles=frozenset({Role.HR_ADMIN, Role.HRBP}),
    ),
    Permission("employees:read", "One employee's record.", allow=EMPLOYEE_READERS),
    Permission(
        "employees:read-pay",
        "Pay fields of an employee's record (field-level; not a route's permission).",
        allow=PAY_READERS,
        visible=EMPLOYEE_READERS,
    ),
    Permission(
        "performance-files:read",
        "A person's performance file: their records across cycles.",
        allow=EMPLOYEE_READERS,
    ),
    Permission(
        "performance-files:read-reviewers",
        "Who wrote a peer or upward review in a performance file (field-level): HR admins, "
        "and never the subject or their managers, even when they are HR admins.",
        allow=frozenset({Relation.HR_ADMIN}),
    ),
    Permission(
        "employees:export",
        "Export everything held about a person (data-subject access request).",
        roles=frozenset({Role.HR_ADMIN}),
    ),
    Permission(
        "employees:erase",
        "Erase a person's data, except what retention rules keep.",
        roles=frozenset({Role.HR_ADMIN}),
    ),
    Permission("audit:read", "The audit trail.", roles=frozenset({Role.HR_ADMIN})),
    Permission(
        "objectives:read",
        "A cycle's objectives tree: every objective, and the goals of people the caller "
        "may read (progress rolled up over all goals).",
    ),
    Permission(
        "objectives:manage",
        "Create, change or drop org and department objectives (a strategy change).",
        roles=frozenset({Role.HR_ADMIN}),
    ),
    Permission("goals:read", "A person's goals and their change log.", allow=EMPLOYEE_READERS),
    Permission(
        "goals:change",
        "Change a goal with a reason: its owner (after approval as the definition says), "
        "their managers and HR admins.",
        allow=GOAL_CHANGERS,
        visible=EMPLOYEE_READERS,
    ),
    Permission(
        "goals:approve",
        "Approve or reject a pending change of a goal: the owner's managers and HR admins.",
        allow=GOAL_DECIDERS,
        visible=EMPLOYEE_READERS,
    ),
    Permission(
        "goals:assign",
        "Give a goal template to a filtered group: HR admins anyone, HRBPs their "
        "departments, managers the people below them.",
    ),
    Permission(
        "goals:coverage",
        "Alignment coverage of a cycle: HR admins; HRBPs per department.",
        roles=frozenset({Role.HR_ADMIN, Role.HRBP}),
    ),
    Permission(
        "payloads:decode",
        "Decrypt Temporal payloads for Temporal UI (the codec server); audited.",
        roles=frozenset({Role.OPS}),
    ),
    Permission(
        "payloads:encode",
        "Encrypt Temporal payloads (the codec server, for signals sent from Temporal UI).",
        roles=frozenset({Role.OPS}),
    ),
    Permission(
        "progress-events:ingest",
        "A project tool reports progress (signed webhook; no user, no roles).",
        roles=frozenset(),
        authentication="hmac",
    ),
    Permission(
        "dashboards:read",
        "A manager's team dashboard: the manager, their managers, HRBPs and HR admins.",
        allow=EMPLOYEE_READERS,
    ),
    Permission(
        "calibration:read",
        "A calibration group's ratings, distribution, outliers and managers' bias flags: "
        "the holder of its calibration task, its HRBPs, HR admins.",
        allow=frozenset({Relation.REVIEWER, Relation.HRBP, Relation.HR_ADMIN}),
    ),
    Permission(
        "cycles:bias",
        "Bias statistics of every reviewer of a cycle (names peer and upward reviewers).",
        roles=frozenset({Role.HR_ADMIN}),
    ),
)
PERMISSIONS: dict[str, Permission] = {p.name: p for p in _PERMISSIONS}

FIELD_PERMISSIONS = frozenset({"employees:read-pay", "performance-files:read-reviewers"})
"""Checked inside a route (`Access.grants`), never declared by one."""


# --- relationships ----------------------------------------------------------------------


def management_chain(session: Session, employee: Employee) -> Iterator[str]:
    """The ids of `employee`'s managers, nearest first; stops at a loop or MAX_CHAIN."""
    seen = {employee.employee_id}
    manager = employee.manager_id
    while manager is not None and manager not in seen and len(seen) <= MAX_CHAIN:
        yield manager
        seen.add(manager)
        manager = session.scalar(select(Employee.manager_id).where(Employee.employee_id == manager))


class Assigned(Protocol):
    """What a permission check reads of a task: its assignee (a `Task` row, or a lighter
    view of one)."""

    @property
    def assignee_id(self) -> str: ...


def _direct_relations(
    user: Principal, subject_id: str, task: Assigned | None, wanted: frozenset[Relation]
) -> frozenset[Relation]:
    """The relationships among `wanted` that need no query: HR admin, self, and the
    assignee of `task` when one is given."""
    found: set[Relation] = set()
    if Relation.HR_ADMIN in wanted and user.is_hr_admin:
        found.add(Relation.HR_ADMIN)
    if Relation.SELF in wanted and subject_id == user.subject:
        found.add(Relation.SELF)
    if Relation.REVIEWER in wanted and task is not None and task.assignee_id == user.subject:
        found.add(Relation.REVIEWER)
    return frozenset(found)


def relations(
    session: Session,
    user: Principal,
    subject_id: str,
    *,
    task: Assigned | None = None,
    wanted: Iterable[Relation] = tuple(Relation),
) -> frozenset[Relation]:
    """The caller's relationships to `subject_id` (an employee id or `@<group>`), computed
    only for the `wanted` ones (each may cost a query)."""
    wanted = frozenset(wanted)
    found = set(_direct_relations(user, subject_id, task, wanted))
    if (
        Relation.REVIEWER in wanted
        and task is None
        and session.scalar(
            select(exists().where(Task.subject_id == subject_id, Task.assignee_id == user.subject))
        )
    ):
        found.add(Relation.REVIEWER)
    if subject_id.startswith("@"):
        # A group task's subject is its calibration/approval group: the department.
        if Relation.HRBP in wanted and user.partners(subject_id[1:]):
            found.add(Relation.HRBP)
        return frozenset(found)
    needs_row = wanted & {Relation.HRBP, Relation.MANAGER, Relation.SKIP_LEVEL}
    employee = session.get(Employee, subject_id) if needs_row else None
    if employee is None:
        return frozenset(found)
    if Relation.HRBP in wanted and user.partners(employee.department):
        found.add(Relation.HRBP)
    if wanted & MANAGERS and user.subject != subject_id:
        for depth, manager in enumerate(management_chain(session, employee), start=1):
            if manager == user.subject:
                found.add(Relation.MANAGER if depth == 1 else Relation.SKIP_LEVEL)
                break
    return frozenset(found & wanted)


# --- what a route receives --------------------------------------------------------------


@dataclass
class Access:
    """The authenticated caller, the permission the route declared, and why they ask."""

    user: Principal
    permission: Permission
    request_id: str
    reason: str | None = None

    def check(
        self,
        session: Session,
        subject_id: str,
        *,
        not_found: ApiError,
        task: Assigned | None = None,
    ) -> frozenset[Relation]:
        """Raise unless the declared permission's relationships let the caller at the
        object about `subject_id`: `not_found` (the very error a missing object gets) when
        they may not know it exists, 403 when they may see it but not do this."""
        permission = self.permission
        if not permission.allow:
            return frozenset()
        found = relations(session, self.user, subject_id, task=task, wanted=permission.reveals)
        if found & permission.allow:
            return found
        if found & permission.visible:
            raise Forbidden(
                f"{permission.description.rstrip('.')}: not allowed to you",
                type="NotAllowed",
                details={"permission": permission.name},
            )
        raise not_found

    def allowed_by_task(self, subject_id: str, task: Assigned) -> bool:
        """Whether the relationships known without a query (HR admin, self, the task's
        assignee) grant this permission on `task`; when not, `require` looks further."""
        if not self.permission.allow:
            return True
        return bool(_direct_relations(self.user, subject_id, task, self.permission.allow))

    def require(
        self,
        session: Session,
        subject_id: str,
        *,
        not_found: ApiError,
        task: Assigned | None = None,
    ) -> None:
        """`check` for a caller that needs no relationships back: the allowing ones are
        looked for first, and the others (each may cost a query) only to tell 403 from
        404 when none allows."""
        permission = self.permission
        if not permission.allow:
            return
        if relations(session, self.user, subject_id, task=task, wanted=permission.allow):
            return
        self.check(session, subject_id, not_found=not_found, task=task)

    @staticmethod
    def grants(name: str, found: frozenset[Relation]) -> bool:
        """Whether relationships `found` (from `check`) grant a field-level permission
        (`FIELD_PERMISSIONS`), e.g. the pay fields of a record the caller may read.
        `check` computed only the route permission's relationships, so a field permission
        needs a subset of them (a test holds this)."""
        return bool(found & PERMISSIONS[name].allow)


PERMISSION_MARK = "__perfloop_permission__"


def _request_id(value: str | None) -> str:
    if value is not None and REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def permit(name: str) -> Any:
    """The dependency declaring that a route needs permission `name` (`PERMISSIONS`).

    Use as `Annotated[Access, permit("x:y")]` or in `dependencies=[permit("x:y")]`. An
    unknown name fails at import, not at request time.
    """
    if name not in PERMISSIONS or name in FIELD_PERMISSIONS:
        raise KeyError(f"no route permission {name!r}; see api.permissions.PERMISSIONS")
    permission = PERMISSIONS[name]
    if permission.authentication != "bearer":
        raise KeyError(f"{name!r} is authenticated by {permission.authentication}: permit_signed")

    async def authorise(  # async: it only computes (see api.deps)
        request: Request,
        user: CurrentUser,
        reason: Annotated[
            str | None,
            Header(
                alias="X-Perfloop-Reason",
                max_length=MAX_REASON,
                description="Why you need this (recorded in the audit trail).",
            ),
        ] = None,
    ) -> Access:
        if not user.has_any(permission.roles):
            names = sorted(role.value for role in permission.roles)
            raise Forbidden(
                f"this needs one of the roles: {', '.join(names)}",
                type="MissingRole",
                details={"required": names},
            )
        return Access(
            user=user,
            permission=permission,
            request_id=_request_id(request.headers.get("x-request-id")),
            reason=(reason.strip() or None) if reason else None,
        )

    setattr(authorise, PERMISSION_MARK, permission)
    authorise.__name__ = f"permit_{name.replace(':', '_').replace('-', '_')}"
    return Depends(authorise)


def permit_signed(name: str) -> Any:
    """The dependency declaring that a route needs permission `name`, authenticated by an
    HMAC-SHA256 signature with a shared secret instead of a bearer token.

    The route must sit outside the `/v1` router's `authenticated` dependency (`ensure_declared`
    refuses it otherwise, and refuses a bearer permission outside it). The dependency
    verifies the signature of the raw body (`api.signatures.verify_request`) and gives the
    route a `SignedRequest`; a bad signature or a stale timestamp is 401 before anything is
    parsed or stored.
    """
    if PERMISSIONS.get(name) is None or PERMISSIONS[name].authentication != "hmac":
        raise KeyError(f"no signed route permission {name!r}; see api.permissions.PERMISSIONS")
    permission = PERMISSIONS[name]

    async def authorise_signed(request: Request) -> SignedRequest:
        return await verify_request(request, permission.name)

    setattr(authorise_signed, PERMISSION_MARK, permission)
    authorise_signed.__name__ = f"permit_signed_{name.replace(':', '_').replace('-', '_')}"
    return Depends(authorise_signed)


# --- deny by default --------------------------------------------------------------------


class UndeclaredPermissionError(RuntimeError):
    """A `/v1` route that declares no permission (or more than one)."""


@dataclass(frozen=True)
class RouteView:
    """What authorisation needs of a route, however FastAPI stores included routers."""

    path: str
    methods: frozenset[str]
    dependant: Dependant
    params: frozenset[str]
    """Names of the path parameters."""


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def declared_permissions(route: RouteView) -> list[Permission]:
    """The permissions a route declares, through its own or its routers' dependencies."""
    found: dict[str, Permission] = {}
    for call in _calls(route.dependant):
        permission = getattr(call, PERMISSION_MARK, None)
        if isinstance(permission, Permission):
            found[permission.name] = permission
    return list(found.values())


def _all_routes(app: FastAPI) -> Iterator[Any]:
    # FastAPI >= 0.160 keeps included routers lazily (`_IncludedRouter`); its
    # `iter_route_contexts` yields each effective route with its routers' dependencies.
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    if iterate is None:  # pragma: no cover - older FastAPI: routes are flattened already
        yield from app.routes
        return
    yield from iterate(app.routes)


def guarded_routes(app: FastAPI, prefix: str = "/v1") -> Iterator[RouteView]:
    """Every HTTP route under `prefix`, with its effective dependencies."""
    for route in _all_routes(app):
        path = getattr(route, "path", None)
        dependant = getattr(route, "dependant", None)
        if not isinstance(path, str) or not isinstance(dependant, Dependant):
            continue
        if path == prefix or path.startswith(prefix + "/"):
            yield RouteView(
                path=path,
                methods=frozenset(getattr(route, "methods", None) or ()),
                dependant=dependant,
                params=frozenset(getattr(route, "param_convertors", None) or {}),
            )


def ensure_declared(app: FastAPI, prefix: str = "/v1") -> None:
    """Refuse an app in which a route under `prefix` declares no permission, or several."""
    problems = []
    for route in guarded_routes(app, prefix):
        declared = declared_permissions(route)
        methods = ",".join(sorted(route.methods))
        if len(declared) != 1:
            names = ", ".join(p.name for p in declared) or "none"
            problems.append(f"{methods} {route.path}: {names}")
            continue
        bearer = authenticated in set(_calls(route.dependant))
        if (declared[0].authentication == "bearer") != bearer:
            problems.append(
                f"{methods} {route.path}: {declared[0].name} is authenticated by "
                f"{declared[0].authentication}, but the route "
                + ("requires" if bearer else "lacks")
                + " a bearer token"
            )
    if problems:
        raise UndeclaredPermissionError(
            "every /v1 route declares exactly one permission with permit(...); "
            + "; ".join(problems)
        )
