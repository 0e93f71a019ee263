"""`/v1/definitions`: published cycle definitions; HR admins publish and deprecate them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep
from api.errors import error_responses
from api.idempotency import Idempotent
from api.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from api.permissions import Access, permit
from api.schemas.definitions import (
    DefinitionDeprecate,
    DefinitionDetail,
    DefinitionPage,
    DefinitionPublic,
    DefinitionPublished,
)
from api.services import definitions as service

router = APIRouter(prefix="/definitions", tags=["definitions"], responses=error_responses(403))

YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "The definition as YAML (the language of `definitions/README.md`).",
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "",
    summary="Published definition versions, by name then version",
    dependencies=[permit("definitions:read")],
)
def list_definitions(
    session: SessionDep,
    name: Annotated[str | None, Query(max_length=200, description="Only this name.")] = None,
    include_deprecated: Annotated[bool, Query(description="List deprecated versions too.")] = True,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> DefinitionPage:
    return service.list_definitions(
        session, name=name, include_deprecated=include_deprecated, limit=limit, cursor=cursor
    )


@router.get(
    "/{name}/{version}",
    summary="One version (or `latest`) with its content and form schemas",
    responses=error_responses(404, 422),
    dependencies=[permit("definitions:read")],
)
def get_definition(name: str, version: str, session: SessionDep) -> DefinitionDetail:
    return service.show_definition(session, name, version)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Publish a definition (YAML); the same content again is a no-op (200)",
    responses={
        200: {"model": DefinitionPublished, "description": "Already published, unchanged"},
        **error_responses(409, 413, 422),
    },
    openapi_extra=YAML_BODY,
)
async def publish_definition(
    request: Request,
    access: Annotated[Access, permit("definitions:publish")],
    key: Idempotent,
    session: SessionDep,
    response: Response,
) -> DefinitionPublished:
    source = await request.body()
    published = await run_in_threadpool(service.publish_definition, session, access.user, source)
    if published.status == "unchanged":
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/definitions/{published.name}/{published.version}"
    return published


@router.post(
    "/{name}/{version}/deprecate",
    summary="Deprecate a version: `latest` skips it, running cycles keep it",
    responses=error_responses(404, 409, 413, 422),
    dependencies=[permit("definitions:publish")],
)
def deprecate_definition(
    name: str,
    version: str,
    body: DefinitionDeprecate,
    key: Idempotent,
    session: SessionDep,
) -> DefinitionPublic:
    return service.deprecate_definition(session, name, version, body.reason)
