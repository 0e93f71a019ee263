"""`/v1/progress-events`: progress pushed by project tools (signed webhook).

The one `/v1` route authenticated by an HMAC signature instead of a bearer token: its
router is included beside the bearer-token router, not inside it, and it declares its
permission with `permit_signed` (see `api.permissions`, `api.signatures`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.deps import SessionDep
from api.errors import error_responses
from api.permissions import permit_signed
from api.schemas.progress_events import ProgressEventIn, ProgressEventReceipt
from api.services import progress_events as service
from api.signatures import SIGNATURE_HEADER, SignedRequest

router = APIRouter(prefix="/progress-events", tags=["progress"])


@router.post(
    "",
    summary="Report progress from a project tool (HMAC-signed)",
    status_code=202,
    responses={
        200: {"model": ProgressEventReceipt, "description": "A replay: nothing changed."},
        **error_responses(401, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ProgressEventIn.model_json_schema()}},
        },
        "security": [],
    },
)
def report_progress(
    signed: Annotated[SignedRequest, permit_signed("progress-events:ingest")],
    session: SessionDep,
    response: Response,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with the "
            "shared secret>.",
        ),
    ] = None,
) -> ProgressEventReceipt:
    receipt, stored = service.ingest(session, signed)
    if not stored:
        response.status_code = 200
    return receipt
