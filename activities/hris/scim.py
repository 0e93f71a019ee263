"""An HRIS reached over SCIM 2.0 (RFC 7643 schema, RFC 7644 protocol).

People: `GET {base}/Users?startIndex=1&count={page_size}`, page after page (1-based
`startIndex`, RFC 7644 §3.4.2.4) until `totalResults` users are read or a page comes back
empty, with `Authorization: Bearer <token>` and `Accept: application/scim+json`.

Mapping of a SCIM User to a `Person`:

| Person            | SCIM attribute                                                            |
| ----------------- | ------------------------------------------------------------------------- |
| employee_id       | enterprise `employeeNumber`; else `externalId`; else the resource `id`    |
| name              | `name.formatted`; else `name.givenName` + `name.familyName`; else          |
|                   | `displayName`; else `userName`                                            |
| email             | the `emails` entry with `primary: true`; else type `work`; else the first; |
|                   | else `userName` when it is an address                                     |
| manager_id        | enterprise `manager.value` (the manager's SCIM `id`, RFC 7643 §4.3),       |
|                   | translated to that user's employee_id                                     |
| department        | enterprise `department`; else enterprise `division`                       |
| job_title         | `title`                                                                   |
| active            | `active` (default true)                                                   |
| location          | hr `location`; else the primary (or work) address's `locality`            |
| employment_type   | hr `employmentType`; else `userType` ("Full-time" -> full_time, ...)      |
| hire_date         | hr `hireDate` (a date, or a dateTime whose date is taken)                 |
| terminated_on     | hr `terminationDate`                                                      |
| salary            | hr `salary` (number or decimal string)                                    |
| range_midpoint    | hr `rangeMidpoint`                                                        |
| currency          | hr `currency` (ISO 4217; default EUR)                                     |
| level             | hr `level` (integer)                                                      |

"enterprise" is `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`; "hr" is
perfloop's extension `urn:perfloop:params:scim:schemas:extension:hr:1.0:User`, which an
HRIS (or a SCIM facade in front of it) fills with what SCIM has no attribute for.
When `organization` is given, only users whose enterprise `organization` equals it are
listed (one legal entity of a multi-entity HRIS). A user that cannot be mapped (no
e-mail, no department, an unknown employment type...) is skipped and logged by SCIM id
and field name, never by value: one bad record must not stop a whole cycle's launch.

Results are not part of SCIM. The integration contract for an HRIS that accepts them is:
`POST {results_url}` (default `{base}/perfloop/results`) with the `ResultRecord` as JSON,
the bearer token, and `Idempotency-Key: <business_key>`. The receiver answers 201 (or 202)
for a new key, and 200 or 409 for a key it has already seen; perfloop reports the latter
as `already_sent`. A re-send after a timeout is therefore always safe.

Errors: network failures, timeouts, 408, 429 and 5xx raise `IntegrationUnavailable`
(retried by the activity, after `Retry-After` when given); 401 and 403 raise
`IntegrationConfigError` (the token is wrong: retrying cannot help), as do 404 and other
4xx answers and bodies that are not SCIM.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

import httpx
from pydantic import ValidationError

from activities.errors import IntegrationConfigError, IntegrationUnavailable, retry_after
from activities.hris.base import Person, PushReceipt, ResultRecord

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PERFLOOP_HR_USER = "urn:perfloop:params:scim:schemas:extension:hr:1.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_MEDIA_TYPE = "application/scim+json"

EMPLOYMENT_TYPES: Mapping[str, Literal["full_time", "part_time", "contractor", "intern"]] = {
    "full_time": "full_time",
    "fulltime": "full_time",
    "full": "full_time",
    "permanent": "full_time",
    "part_time": "part_time",
    "parttime": "part_time",
    "part": "part_time",
    "contractor": "contractor",
    "contract": "contractor",
    "intern": "intern",
    "internship": "intern",
    "trainee": "intern",
}

log = logging.getLogger(__name__)

SYSTEM = "scim"


class ScimHris:
    """`Hris` over a SCIM 2.0 service.

    Pass a shared `client` (an `httpx.AsyncClient`) to pool connections across calls; its
    owner closes it. Without one, each call opens and closes its own client.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 100,
        results_url: str | None = None,
        organization: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.results_url = results_url or f"{self.base_url}/perfloop/results"
        self.page_size = page_size
        self.organization = organization
        self._token = token
        self._client = client
        self._timeout = timeout

    # --- Hris ----------------------------------------------------------------------------

    async def list_people(self) -> list[Person]:
        users = [user async for user in self._users()]
        return map_users(users, organization=self.organization)

    async def push_result(self, record: ResultRecord) -> PushReceipt:
        async with self._http() as client:
            response = await self._request(
                client,
                "POST",
                self.results_url,
                json=record.model_dump(mode="json"),
                headers={"Idempotency-Key": record.business_key},
            )
        if response.status_code in (200, 409):
            return PushReceipt(business_key=record.business_key, status="already_sent")
        if response.status_code in (201, 202, 204):
            return PushReceipt(business_key=record.business_key, status="sent")
        raise IntegrationConfigError(
            SYSTEM, f"POST {self.results_url} answered {response.status_code}, expected 201"
        )

    # --- HTTP ----------------------------------------------------------------------------

    async def _users(self) -> AsyncIterator[dict[str, Any]]:
        url = f"{self.base_url}/Users"
        start = 1
        async with self._http() as client:
            while True:
                response = await self._request(
                    client, "GET", url, params={"startIndex": start, "count": self.page_size}
                )
                page = _json_object(response, url)
                resources = page.get("Resources") or []
                total = page.get("totalResults")
                if not isinstance(resources, list) or not isinstance(total, int):
                    raise IntegrationConfigError(
                        SYSTEM, f"GET {url} did not answer a SCIM ListResponse"
                    )
                for resource in resources:
                    if isinstance(resource, dict):
                        yield resource
                start += len(resources)
                if not resources or start > total:
                    return

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            yield client

    async def _request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        params: Mapping[str, int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": f"{SCIM_MEDIA_TYPE}, application/json",
            **(headers or {}),
        }
        try:
            response = await client.request(
                method, url, params=params, json=json, headers=all_headers
            )
        except httpx.TimeoutException as exc:
            raise IntegrationUnavailable(SYSTEM, f"{method} {url} timed out") from exc
        except httpx.TransportError as exc:
            raise IntegrationUnavailable(
                SYSTEM, f"{method} {url} failed: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if status in (401, 403):
            raise IntegrationConfigError(
                SYSTEM, f"{method} {url} answered {status}: check the SCIM URL and token"
            )
        if status in (408, 425, 429) or status >= 500:
            raise IntegrationUnavailable(
                SYSTEM,
                f"{method} {url} answered {status}",
                next_retry_delay=retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400 and status != 409:
            raise IntegrationConfigError(
                SYSTEM, f"{method} {url} answered {status}{_scim_detail(response)}"
            )
        return response


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise IntegrationConfigError(SYSTEM, f"GET {url} did not answer JSON") from exc
    if not isinstance(body, dict):
        raise IntegrationConfigError(SYSTEM, f"GET {url} did not answer a JSON object")
    return cast("dict[str, Any]", body)


def _scim_detail(response: httpx.Response) -> str:
    """The `scimType` of a SCIM error body (RFC 7644 §3.12), which holds no personal data."""
    try:
        body = response.json()
    except ValueError:
        return ""
    scim_type = body.get("scimType") if isinstance(body, dict) else None
    return f" ({scim_type})" if isinstance(scim_type, str) else ""


# --- mapping -----------------------------------------------------------------------------


def map_users(users: list[dict[str, Any]], *, organization: str | None = None) -> list[Person]:
    """SCIM User resources as `Person`s (see the module's table), skipping unmappable ones."""
    employee_ids: dict[str, str] = {}
    for user in users:
        scim_id = user.get("id")
        if isinstance(scim_id, str):
            employee_ids[scim_id] = _employee_id(user)
    numbers = set(employee_ids.values())

    people: list[Person] = []
    skipped: list[str] = []
    for user in users:
        enterprise = _dict(user.get(ENTERPRISE_USER))
        if organization is not None and enterprise.get("organization") != organization:
            continue
        try:
            people.append(_person(user, employee_ids, numbers))
        except (ValidationError, ValueError) as exc:
            skipped.append(f"{user.get('id', '?')}: {_fields_of(exc)}")
    if skipped:
        log.warning(
            "scim users skipped count=%d reasons=%s",
            len(skipped),
            "; ".join(skipped),
            extra={"system": SYSTEM, "skipped": len(skipped)},
        )
    return sorted(people, key=lambda person: person.employee_id)


def _person(user: Mapping[str, Any], ids: Mapping[str, str], numbers: set[str]) -> Person:
    enterprise = _dict(user.get(ENTERPRISE_USER))
    hr = _dict(user.get(PERFLOOP_HR_USER))
    employee_id = _employee_id(user)
    if not employee_id:
        raise ValueError("employee_id")
    values: dict[str, Any] = {
        "employee_id": employee_id,
        "name": _name(user),
        "email": _email(user),
        "manager_id": _manager(enterprise, ids, numbers),
        "department": enterprise.get("department") or enterprise.get("division"),
        "job_title": user.get("title") or None,
        "active": user.get("active", True),
        "location": hr.get("location") or _locality(user),
        "employment_type": _employment_type(hr.get("employmentType") or user.get("userType")),
        "hire_date": _date(hr.get("hireDate")),
        "terminated_on": _date(hr.get("terminationDate")),
        "salary": _decimal(hr.get("salary"), "salary"),
        "range_midpoint": _decimal(hr.get("rangeMidpoint"), "range_midpoint"),
        "currency": hr.get("currency"),
        "level": hr.get("level"),
    }
    return Person.model_validate({k: v for k, v in values.items() if v is not None})


def _employee_id(user: Mapping[str, Any]) -> str:
    enterprise = _dict(user.get(ENTERPRISE_USER))
    for candidate in (enterprise.get("employeeNumber"), user.get("externalId"), user.get("id")):
        if isinstance(candidate, str | int) and str(candidate).strip():
            return str(candidate).strip()
    return ""


def _name(user: Mapping[str, Any]) -> str | None:
    name = _dict(user.get("name"))
    formatted = name.get("formatted")
    if isinstance(formatted, str) and formatted.strip():
        return formatted.strip()
    parts = [name.get("givenName"), name.get("familyName")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if joined:
        return joined
    for key in ("displayName", "userName"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _email(user: Mapping[str, Any]) -> str | None:
    emails = [e for e in user.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    chosen = (
        next((e for e in emails if e.get("primary") is True), None)
        or next((e for e in emails if e.get("type") == "work"), None)
        or (emails[0] if emails else None)
    )
    if chosen is not None:
        return str(chosen["value"])
    user_name = user.get("userName")
    return user_name if isinstance(user_name, str) and "@" in user_name else None


def _manager(
    enterprise: Mapping[str, Any], ids: Mapping[str, str], numbers: set[str]
) -> str | None:
    value = _dict(enterprise.get("manager")).get("value")
    if not isinstance(value, str) or not value:
        return None
    if value in ids:
        return ids[value]
    # Some services put the manager's employee number in `value`; accept that too.
    return value if value in numbers else None


def _locality(user: Mapping[str, Any]) -> str | None:
    addresses = [a for a in user.get("addresses") or [] if isinstance(a, dict)]
    chosen = next((a for a in addresses if a.get("primary") is True), None) or next(
        (a for a in addresses if a.get("type") == "work"), None
    )
    locality = chosen.get("locality") if chosen else None
    return locality if isinstance(locality, str) and locality else None


def _employment_type(value: Any) -> str | None:
    if value is None or value == "":
        return None
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if key in EMPLOYMENT_TYPES:
        return EMPLOYMENT_TYPES[key]
    compact = key.replace("_", "")
    if compact in EMPLOYMENT_TYPES:
        return EMPLOYMENT_TYPES[compact]
    raise ValueError("employment_type")


def _date(value: Any) -> date | str | None:
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return value  # Person's validation reports it
    return cast("date | str | None", value)


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        # Through str: a JSON float 61234.1 becomes Decimal("61234.1"), not its binary noise.
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(field) from exc


def _dict(value: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _fields_of(exc: Exception) -> str:
    """The names of the fields that failed, never their values."""
    if isinstance(exc, ValidationError):
        return ",".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
    return str(exc)
