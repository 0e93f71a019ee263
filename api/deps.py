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


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.perfloop
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """One store session per request; services commit what they write.

    Opening a session touches no connection; closing one does only when a transaction is
    still open (its rollback), and then it runs in a worker thread.
    """
    session = state.store.sessions()()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_store(state: StateDep) -> Store:
    return state.store


StoreDep = Annotated[Store, Depends(get_store)]
"""For a hot route that runs its own short sessions (`Store.run_autocommit`)."""


async def get_temporal(state: StateDep) -> Client:
    return await state.temporal.get()


TemporalDep = Annotated[Client, Depends(get_temporal)]

bearer = HTTPBearer(
    auto_error=False,
    description="`perfloop token --as <employee-id>` prints a development token.",
)


async def authenticated(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("a bearer token is required", error=None)
    authenticator = state.authenticator
    try:
        if getattr(authenticator, "blocking", True):
            # OIDC may fetch its JWKS: off the event loop.
            return await run_in_threadpool(authenticator.authenticate, credentials.credentials)
        return authenticator.authenticate(credentials.credentials)
    except AuthError as exc:
        raise Unauthenticated(str(exc)) from None


CurrentUser = Annotated[Principal, Depends(authenticated)]


async def authenticate_request(request: Request) -> Principal:
    """`authenticated` outside dependency injection: for errors raised before FastAPI runs
    a route's dependencies (an unparsable body), which must still answer 401 first."""
    return await authenticated(await get_state(request), await bearer(request))
