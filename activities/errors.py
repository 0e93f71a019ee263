"""Errors of the integrations (HRIS, notification channels), classified for retries.

An adapter raises one of two kinds, and the activity layer needs no translation:

- `IntegrationUnavailable`: the other side is down, slow, rate-limiting or answered 5xx.
  Temporal retries the activity with its retry policy (or after the server's
  `Retry-After`, carried as `next_retry_delay`).
- `IntegrationConfigError`: the call can never succeed as configured: credentials refused
  (401/403), an endpoint that does not exist, a payload the other side rejects, a person
  with no e-mail address. Retrying would only repeat the failure, so it is non-retryable
  and surfaces at once; an operator fixes the configuration or the data.

Both are Temporal `ApplicationError`s (so the retry decision travels with the exception
from inside any activity) and `PerfloopError`s (so the CLI and the API print them as one
clean message). Messages never carry personal data: ids and status codes only.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from definitions.errors import PerfloopError


class IntegrationError(ApplicationError, PerfloopError):
    """Root of the integration errors; `system` names the other side ("scim", "smtp", ...)."""

    retryable: bool = True

    def __init__(
        self, system: str, message: str, *, next_retry_delay: timedelta | None = None
    ) -> None:
        self.system = system
        super().__init__(
            f"{system}: {message}",
            type=type(self).__name__,
            non_retryable=not self.retryable,
            next_retry_delay=next_retry_delay,
        )

    def __str__(self) -> str:
        # ApplicationError prefixes its type ("IntegrationConfigError: ..."); users read
        # these messages in the CLI and the API, where the class name is noise.
        return self.message


class IntegrationUnavailable(IntegrationError):
    """Transient: a network error, a timeout, 408/429/5xx. Temporal retries the activity."""

    retryable = True


class IntegrationConfigError(IntegrationError):
    """Permanent: refused credentials, a missing endpoint, rejected data. Not retried."""

    retryable = False


def is_retryable(exc: BaseException) -> bool:
    """Whether Temporal would retry an activity that raised `exc` (default policy)."""
    return not (isinstance(exc, ApplicationError) and exc.non_retryable)


def retry_after(value: str | None) -> timedelta | None:
    """A `Retry-After` header given in seconds, as a delay; None if absent or a date."""
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None
    return timedelta(seconds=max(0, min(seconds, 3600)))
