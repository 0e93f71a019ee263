"""The dependencies routes declare, as `Annotated` aliases.

```
def my_route(user: CurrentUser, session: SessionDep, temporal: TemporalDep) -> ...
```

Authorisation is `api.permissions.permit("...")`, which every `/v1` route must declare
(the app refuses to build otherwise); it depends on `CurrentUser` and answers with an
`Access`. Every router under `/v1` also gets
`authenticated` as a router dependency, so nothing there answers without a token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import AuthError, Principal
from api.errors import Unauthenticated
from api.state import AppState, Store
from perfloop.settings import Settings

# Dependencies that only compute are `async def`: FastAPI runs a plain `def` dependency
# in a worker thread, and a submission went through half a dozen such hops, each a thread
# switch and a turn at the GIL under load.
#
# The dependencies below take `request` and call `app_state` rather than depending on
# `StateDep`: FastAPI solves a dependency's own dependencies again at every use, cached or
# not, and `CurrentUser` alone is used four times by a submission (the /v1 router, the
# rate limit, the permission and the Idempotency-Key). Each node costs tens of
# microseconds of the request (bench/README.md, the API's own path).


def app_state(request: Request) -> AppState:
    """The application's `AppState` (set by `api.app.create_app`)."""
    state: AppState = request.app.state.perfloop
    return state


async def get_state(request: Request) -> AppState:
    return app_state(request)


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(request: Request) -> Settings:
    return app_state(request).settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One store session per request; services commit what they write.

    Opening a session touches no connection; closing one does only when a transaction is
    still open (its rollback), and then it runs in a worker thread.
    """
    session = app_state(request).store.sessions()()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_store(request: Request) -> Store:
    return app_state(request).store


StoreDep = Annotated[Store, Depends(get_store)]
"""For a hot route that runs its own short sessions (`Store.run_autocommit`)."""


async def get_temporal(request: Request) -> Client:
    return await app_state(request).temporal.get()


TemporalDep = Annotated[Client, Depends(get_temporal)]

bearer = HTTPBearer(
    auto_error=False,
    description="`perfloop token --as <employee-id>` prints a development token.",
)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("a bearer token is required", error=None)
    state = app_state(request)
    token = credentials.credentials
    principal = state.verified_tokens.get(token)
    if principal is not None:
        return principal
    authenticator = state.authenticator
    try:
        if getattr(authenticator, "blocking", True):
            # OIDC may fetch its JWKS: off the event loop.
            principal = await run_in_threadpool(authenticator.authenticate, token)
        else:
            principal = authenticator.authenticate(token)
    except AuthError as exc:
        raise Unauthenticated(str(exc)) from None
    state.verified_tokens.remember(token, principal)
    return principal


CurrentUser = Annotated[Principal, Depends(authenticated)]


async def authenticate_request(request: Request) -> Principal:
    """`authenticated` outside dependency injection: for errors raised before FastAPI runs
    a route's dependencies (an unparsable body), which must still answer 401 first."""
    return await authenticated(request, await bearer(request))
