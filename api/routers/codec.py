"""`/v1/codec`: the codec server Temporal UI calls to show encrypted payloads in clear.

Point Temporal UI at `<api>/v1/codec` (its "Codec Server" setting, or
`TEMPORAL_CODEC_ENDPOINT` for the UI server) with "pass the access token" on; the
browser then calls `/v1/codec/decode` with the operator's bearer token. Both routes are
for the `ops` role only; decoding is audited. Cross-origin calls are allowed from
`PERFLOOP_CODEC_CORS_ORIGINS` (the UI's origin) and only to these two routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from api.deps import SessionDep, StateDep
from api.errors import error_responses
from api.permissions import Access, permit
from api.schemas.codec import Payloads, PayloadsPublic
from api.services import codec as service

router = APIRouter(prefix="/codec", tags=["codec"], responses=error_responses(403, 413, 422))


@router.post("/decode", summary="Decrypt Temporal payloads (ops; audited)")
def decode(
    body: Payloads,
    session: SessionDep,
    state: StateDep,
    access: Annotated[Access, permit("payloads:decode")],
    x_namespace: Annotated[str | None, Header(max_length=200)] = None,
) -> PayloadsPublic:
    return service.decode(session, access, state.settings, body, x_namespace)


@router.post(
    "/encode",
    summary="Encrypt Temporal payloads (ops)",
    dependencies=[permit("payloads:encode")],
)
def encode(body: Payloads, state: StateDep) -> PayloadsPublic:
    return service.encode(state.settings, body)
