"""Adapters built from settings: which HRIS and which notification channels a worker uses.

`build_hris` gives the embedded HRIS (the store's employee table) unless `PERFLOOP_HRIS`
is `scim`. `build_notifier` always includes in-app notifications, and adds e-mail when
`PERFLOOP_SMTP_HOST` is set and a signed webhook when `PERFLOOP_WEBHOOK_URL` is set.
Missing companions (a SCIM URL without a token, a webhook without a secret) are refused
here, at start-up, rather than at the first send.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from activities.hris.base import Hris
from activities.notify.base import Notifier
from definitions.errors import PerfloopError
from perfloop.settings import Settings

SessionFactory = Callable[[], Session]


class WiringError(PerfloopError):
    """The integration settings are incomplete or contradictory."""


def build_hris(settings: Settings, session_factory: SessionFactory) -> Hris:
    """The HRIS the settings name."""
    if settings.hris == "scim":
        from activities.hris.scim import ScimHris

        if not settings.scim_url or settings.scim_token is None:
            raise WiringError("PERFLOOP_HRIS=scim needs PERFLOOP_SCIM_URL and PERFLOOP_SCIM_TOKEN")
        return ScimHris(
            settings.scim_url,
            settings.scim_token.get_secret_value(),
            results_url=settings.scim_results_url,
        )
    from activities.hris.embedded import EmbeddedHris

    return EmbeddedHris(session_factory)


def build_notifier(settings: Settings, session_factory: SessionFactory) -> Notifier:
    """In-app notifications, plus e-mail and webhook when configured."""
    from activities.notify.inapp import InAppNotifier

    in_app = InAppNotifier(session_factory)
    channels: list[Notifier] = []
    if settings.smtp_host:
        from activities.notify.smtp import SmtpNotifier

        channels.append(
            SmtpNotifier(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_sender,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
                session_factory=session_factory,
            )
        )
    if settings.webhook_url:
        from activities.notify.webhook import WebhookNotifier

        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
            raise WiringError("PERFLOOP_WEBHOOK_URL needs PERFLOOP_WEBHOOK_SECRET to sign with")
        channels.append(
            WebhookNotifier(
                settings.webhook_url, settings.webhook_secret.get_secret_value(), session_factory
            )
        )
    if not channels:
        return in_app
    from activities.notify.fanout import FanoutNotifier

    return FanoutNotifier([in_app, *channels])
