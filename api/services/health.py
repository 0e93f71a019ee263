"""Readiness checks: can this process reach the store and Temporal right now?"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.state import AppState

log = logging.getLogger(__name__)

CHECK_TIMEOUT = timedelta(seconds=3)


async def _store(state: AppState) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT.total_seconds()):
            await run_in_threadpool(state.store.ping)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness: store check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return "ok"


async def _temporal(state: AppState) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT.total_seconds()):
            client = await state.temporal.get()
            healthy = await client.service_client.check_health(timeout=CHECK_TIMEOUT)
    except TimeoutError:
        return "timeout"
    except ApiError as exc:
        return f"error: {exc.type}"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness: Temporal check failed: %s", exc)
        return f"error: {type(exc).__name__}"
    return "ok" if healthy else "error: not serving"


async def readiness(state: AppState) -> dict[str, str]:
    store, temporal = await asyncio.gather(_store(state), _temporal(state))
    return {"store": store, "temporal": temporal}
