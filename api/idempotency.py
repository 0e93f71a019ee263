"""`Idempotency-Key` on state-changing POSTs: retrying a request never applies it twice.

A route opts in by declaring the `Idempotent` dependency (`key: Idempotent`), which
gives it the key (or None when the client sent none); `tests/api/test_idempotency.py`
checks that every POST under `/v1` does. The contract, per caller (the token's subject):

- the first request with a key claims it: a row `in_flight` is inserted before the route
  runs, and the unique constraint on (caller, key) lets exactly one concurrent request
  win, on SQLite and PostgreSQL alike;
- when the route has answered, `IdempotencyMiddleware` stores the answer (status, body,
  `Location` and `Content-Type`) and only then sends it;
- the same key with the same request (method, path and body) answers the stored response
  again, with `Idempotent-Replayed: true`; with another request it is 422
  `IdempotencyKeyReused`; while the first is still running it is 409
  `IdempotencyKeyInFlight` (with `Retry-After`);
- answers that a retry could change are not stored, and the key is released: 5xx (the
  engine or store was unavailable, or a bug), 401 and 403 (credentials and roles change),
  408, 425 and 429 (try later). Every other 2xx and 4xx is final and replays;
- a stored answer replays for `idempotency_ttl_seconds` (24 h), then the key is free
  again; expired rows are deleted on the next claim of that key and by a sweep that runs
  at most every `PURGE_EVERY`. An in-flight claim older than `idempotency_lease_seconds`
  is taken to be abandoned (its process died) and can be claimed again.

Keys of different callers never meet: the same key sent by two people is two keys.

A route on the hot path may declare `InlineIdempotent` instead: it gets an `InlineKey`
and claims it inside its own first transaction (`claim_in`, with its read) and stores its
200 answer with its last writes (`answer_write`), so that the request costs two
store transactions instead of four. The contract above is the same; the middleware then
only stores what the route did not (an error raised after the claim, say).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import CurrentUser, app_state
from api.services.idempotency import (
    Claim,
    IdempotencyKeys,
    StoredResponse,
    body_sha256,
    request_route,
)
from store.models.idempotency import KEY_LENGTH
from store.together import Prepared

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
SCOPE_KEY = "perfloop.idempotency"
KEPT_HEADERS = frozenset({"location", "content-type"})
"""Response headers stored with the body: those that belong to the answer itself."""


class IdempotentReplay(Exception):
    """Raised by the dependency to answer a stored response instead of running the route."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__(f"replay of a {stored.status} answer")
        self.stored = stored


@dataclass
class _Slot:
    """Put in the request's scope by the middleware; the dependency fills in the claim."""

    claim: Claim | None = None
    keys: IdempotencyKeys | None = None
    stored_status: int | None = None
    """Set by `InlineKey.stored`: the route stored its answer with its own writes."""


KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="A unique key per request (a UUID, say). Retrying with the same key "
        "and body answers the first response again instead of repeating the request.",
    ),
]


@dataclass
class InlineKey:
    """An Idempotency-Key that the route claims and answers inside its own transactions.

    `claim_in` goes in the route's first transaction, before anything else it does (it
    raises the replay of a stored answer, 409 or 422 like the `Idempotent` claim); the
    claim holds once that transaction commits, and the route must commit it even when it
    then answers an error, so that the middleware can store or release it.
    `answer_write` is the write that stores the 200 answer (`json_response`'s body),
    to go to the store with the route's last writes, and `stored()` tells the middleware,
    once they are committed, that there is nothing left to store.
    """

    key: str
    user_id: str
    route: str
    digest: str
    keys: IdempotencyKeys
    slot: _Slot
    _answered: int | None = field(default=None, init=False)

    def claim_in(self, session: Session) -> None:
        outcome = self.keys.claim_in(session, self.user_id, self.key, self.route, self.digest)
        if isinstance(outcome, StoredResponse):
            raise IdempotentReplay(outcome)
        self.slot.claim, self.slot.keys = outcome, self.keys

    def claim_parameters(self) -> dict[str, Any]:
        """For a route that claims with its own statement (`CLAIM_IF_ABSENT` in a CTE);
        it reports the row it inserted with `claimed`, or calls `claim_in` when none was."""
        return self.keys.claim_parameters(self.user_id, self.key, self.route, self.digest)

    def claimed(self, row_id: int) -> None:
        """The route's own statement inserted this key's row (`claim_parameters`)."""
        self.slot.claim, self.slot.keys = Claim(row_id, self.user_id, self.key), self.keys

    def answer_write(self, response: Response) -> Prepared:
        """The write that stores `response` (a 200 from `json_response`), to go to the
        store with the route's own writes (`store.together.execute_together`)."""
        if self.slot.claim is None:
            raise RuntimeError("answer_write before claim_in")
        self._answered = response.status_code
        return self.keys.answer_write(
            self.slot.claim,
            response.status_code,
            bytes(response.body),
            _kept_headers(response.raw_headers),
        )

    def stored(self) -> None:
        """The writes with `answer_write`'s answer are committed."""
        self.slot.stored_status = self._answered


def _kept_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The response headers stored with its body (`KEPT_HEADERS`), from ASGI's raw pairs."""
    headers = {}
    for name, value in raw:
        lowered = name.decode("latin-1").lower()
        if lowered in KEPT_HEADERS:
            headers[lowered] = value.decode("latin-1")
    return headers


def json_response(model: BaseModel, status_code: int = 200) -> JSONResponse:
    """The JSON answer FastAPI would render for `model`: a route that stores its answer
    itself (`InlineKey.answer_write`) returns this very response."""
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code)


async def _request_key(request: Request, keys: IdempotencyKeys) -> tuple[_Slot, str, str]:
    """The middleware's slot, the route and the body's digest (and the sweep, when due)."""
    slot = request.scope.get(SCOPE_KEY)
    if not isinstance(slot, _Slot):
        raise RuntimeError("IdempotencyMiddleware is not installed on this application")
    digest = body_sha256(await request.body())
    route = request_route(request.method, request.url.path)
    if keys.purge_due():
        try:
            purged = await run_in_threadpool(keys.purge_expired)
        except Exception:  # housekeeping: never fail the request for it
            log.exception("cannot purge expired idempotency keys")
        else:
            log.debug("purged %d expired idempotency keys", purged)
    return slot, route, digest


async def idempotency_key(request: Request, user: CurrentUser, key: KeyHeader = None) -> str | None:
    if key is None:
        return None
    keys = app_state(request).idempotency
    slot, route, digest = await _request_key(request, keys)
    outcome = await run_in_threadpool(keys.claim, user.subject, key, route, digest)
    if isinstance(outcome, StoredResponse):
        raise IdempotentReplay(outcome)
    slot.claim, slot.keys = outcome, keys
    return key


Idempotent = Annotated[str | None, Depends(idempotency_key)]
"""The request's Idempotency-Key (None when it has none), claimed for this request."""


async def inline_idempotency_key(
    request: Request, user: CurrentUser, key: KeyHeader = None
) -> InlineKey | None:
    if key is None:
        return None
    keys = app_state(request).idempotency
    slot, route, digest = await _request_key(request, keys)
    return InlineKey(key, user.subject, route, digest, keys, slot)


InlineIdempotent = Annotated[InlineKey | None, Depends(inline_idempotency_key)]
"""The request's Idempotency-Key (None when it has none), for the route to claim and
answer in its own transactions (see `InlineKey`)."""


class IdempotencyMiddleware:
    """Stores the answer of a request that claimed a key before sending it on.

    Holding the answer back until it is stored means a client that retries the moment it
    gets a response finds it stored, never still in flight.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        slot = _Slot()
        scope[SCOPE_KEY] = slot
        held: list[Message] = []
        done = False

        async def hold_until_stored(message: Message) -> None:
            nonlocal done
            if slot.claim is None:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await _finish(slot, held)
                done = True
                for item in held:
                    await send(item)

        try:
            await self.app(scope, receive, hold_until_stored)
        except BaseException:
            if slot.claim is not None and slot.keys is not None and not done:
                # A crash (500) is not an answer: free the key so that a retry runs.
                try:
                    await run_in_threadpool(slot.keys.release, slot.claim)
                except Exception:
                    log.exception("cannot release idempotency key %s", slot.claim.key)
            raise


async def _finish(slot: _Slot, held: list[Message]) -> None:
    assert slot.claim is not None
    assert slot.keys is not None
    start = held[0]
    status = int(start["status"])
    if slot.stored_status == status:
        return  # stored by the route itself, with its writes
    headers = _kept_headers(start.get("headers", []))
    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
    try:
        await run_in_threadpool(slot.keys.finish, slot.claim, status, body, headers)
    except Exception:
        # The answer still goes out; the key stays in flight until its lease runs out.
        log.exception("cannot store the answer for idempotency key %s", slot.claim.key)


async def _replay(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    stored = exc.stored
    return Response(
        content=stored.body.encode("utf-8"),
        status_code=stored.status,
        headers={**stored.headers, REPLAYED_HEADER: "true"},
    )


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _replay)
    app.add_middleware(IdempotencyMiddleware)
