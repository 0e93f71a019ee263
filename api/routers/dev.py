"""`/dev`: sign in as a demo person. Included in development only; production has no
such routes (404), and its authenticator refuses development tokens anyway."""

from __future__ import annotations

from fastapi import APIRouter, status
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.dev import DevPerson, DevSession, DevSessionCreate
from api.services import dev_session as service

# Not in the OpenAPI document: a development convenience, not part of the API's contract.
router = APIRouter(prefix="/dev", tags=["development"], include_in_schema=False)


@router.get("/people", summary="The people to sign in as (development only)")
def list_people(session: SessionDep) -> list[DevPerson]:
    return service.list_people(session)


@router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    summary="A development token for the chosen person (development only)",
    responses=error_responses(404, 422),
)
async def create_session(
    body: DevSessionCreate, session: SessionDep, settings: SettingsDep
) -> DevSession:
    # Issuing may create the signing key on first use: file I/O, off the event loop.
    return await run_in_threadpool(service.open_session, session, settings, body.employee_id)
