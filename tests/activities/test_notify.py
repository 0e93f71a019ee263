"""Notification channels: in-app, SMTP (against a local aiosmtpd), signed webhooks (against
a local HTTP server), the fanout, the activity, and the wiring from settings."""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.errors import IntegrationConfigError, IntegrationUnavailable
from activities.hris.embedded import EmbeddedHris
from activities.hris.scim import ScimHris
from activities.notify.activity import NotifyActivities
from activities.notify.base import OutgoingNotification
from activities.notify.fanout import FanoutNotifier
from activities.notify.inapp import InAppNotifier
from activities.notify.ledger import key_digest
from activities.notify.smtp import SmtpNotifier
from activities.notify.webhook import (
    SIGNATURE_HEADER,
    WebhookNotifier,
    sign,
    verify_signature,
)
from activities.types import NotifyInput
from activities.wiring import WiringError, build_hris, build_notifier
from perfloop.settings import Settings
from store.db import session_factory
from store.models.notifications import Notification, NotificationDelivery
from store.models.org import Employee
from tests.activities.servers import LoopbackServer, closed_port

SECRET = "whsec_test"


def note(key: str = "task-7/opened", **overrides: Any) -> OutgoingNotification:
    values: dict[str, Any] = {
        "business_key": key,
        "recipient_id": "E007",
        "kind": "task_opened",
        "subject": "Your self-review is open",
        "body": "Dear Rui, please write your self-review by 26 November.",
        "task_id": "task-7",
        "cycle_id": "cycle-1",
    }
    values.update(overrides)
    return OutgoingNotification(**values)


def add_employee(session: Session, employee_id: str = "E007", email: str | None = None) -> None:
    session.add(
        Employee(
            employee_id=employee_id,
            name="Rui Carvalho",
            email=email or "rui.carvalho@example.com",
            department="Finance",
        )
    )
    session.commit()


def deliveries(session: Session) -> list[NotificationDelivery]:
    session.expire_all()
    return list(
        session.scalars(
            select(NotificationDelivery).order_by(
                NotificationDelivery.channel, NotificationDelivery.business_key
            )
        )
    )


def forget_delivery(session: Session, key: str, channel: str) -> None:
    """What a crash after sending but before recording it leaves: the row still pending."""
    session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.business_key == key, NotificationDelivery.channel == channel)
        .values(status="pending")
    )
    session.commit()


# --- in-app ----------------------------------------------------------------------------------


async def test_in_app_stores_once_and_logs_no_personal_data(
    db: str, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = InAppNotifier(session_factory(db))
    caplog.set_level(logging.INFO, logger="activities.notify.inapp")

    first = await notifier.send(note())
    again = await notifier.send(note(subject="changed on a retry"))

    assert (first, again) == (True, False)
    rows = session.scalars(select(Notification)).all()
    assert len(rows) == 1
    assert (rows[0].recipient_id, rows[0].kind, rows[0].task_id) == (
        "E007",
        "task_opened",
        "task-7",
    )
    assert rows[0].subject == "Your self-review is open"
    assert rows[0].read_at is None
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"notification channel=in_app kind=task_opened recipient=E007 "
        f"key={key_digest('task-7/opened')} new={new}"
        for new in (True, False)
    ]
    assert caplog.records[0].__dict__["key_digest"] == key_digest("task-7/opened")
    assert "self-review" not in caplog.text
    assert "Rui" not in caplog.text
    assert "task-7/opened" not in caplog.text


async def test_in_app_takes_a_given_logger(db: str) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test.inapp.custom")
    handler = Collect()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        await InAppNotifier(session_factory(db), logger).send(note())
    finally:
        logger.removeHandler(handler)

    assert [r.__dict__["kind"] for r in records] == ["task_opened"]


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives; `refuse` answers RCPT with a code."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: str | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class LoopbackSmtp(Controller):
    """aiosmtpd on 127.0.0.1 and an ephemeral port (the port is read back once bound)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = LoopbackSmtp(box, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def smtp(db: str, port: int) -> SmtpNotifier:
    return SmtpNotifier(
        "127.0.0.1", port, "perfloop@hr.example.com", session_factory=session_factory(db)
    )


async def test_smtp_delivers_once_per_business_key(
    db: str, session: Session, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    notifier = smtp(db, port)

    first = await notifier.send(note(recipient_email="rui@example.com"))
    again = await notifier.send(note(recipient_email="rui@example.com"))

    assert (first, again) == (True, False)
    assert box.recipients == [["rui@example.com"]]
    message = box.messages[0]
    assert message["Subject"] == "Your self-review is open"
    assert message["From"] == "perfloop <perfloop@hr.example.com>"
    assert message["Message-ID"] == f"<{key_digest('task-7/opened', 32)}@hr.example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "please write your self-review" in message.get_payload()
    [row] = deliveries(session)
    assert (row.channel, row.status, row.attempts, row.last_error) == ("email", "sent", 1, None)


async def test_smtp_looks_the_address_up_and_resends_after_a_crash(
    db: str, session: Session, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    add_employee(session, email="rui.carvalho@example.com")
    notifier = smtp(db, port)

    assert await notifier.send(note())
    forget_delivery(session, "task-7/opened", "email")
    assert await notifier.send(note())  # at least once: the lost acknowledgement re-sends

    assert box.recipients == [["rui.carvalho@example.com"]] * 2
    assert box.messages[0]["Message-ID"] == box.messages[1]["Message-ID"]
    assert deliveries(session)[0].attempts == 2


async def test_smtp_without_an_address_is_a_permanent_failure(
    db: str, session: Session, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox

    with pytest.raises(IntegrationConfigError, match="no e-mail address for employee E007"):
        await smtp(db, port).send(note())

    assert box.messages == []
    [row] = deliveries(session)
    assert row.status == "pending"
    assert row.last_error == "smtp: no e-mail address for employee E007"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 Mailbox unavailable", IntegrationConfigError),
        ("451 4.3.0 Try again later", IntegrationUnavailable),
    ],
)
async def test_smtp_refusals_are_classified(
    db: str,
    session: Session,
    mailbox: tuple[Mailbox, int],
    reply: str,
    error: type[Exception],
) -> None:
    box, port = mailbox
    box.refuse = reply

    with pytest.raises(error, match=r"the recipient was refused \(\[\d+\]\)") as caught:
        await smtp(db, port).send(note(recipient_email="rui@example.com"))

    assert "rui@example.com" not in str(caught.value)
    assert deliveries(session)[0].status == "pending"


async def test_smtp_unreachable_relay_is_retryable(db: str) -> None:
    with pytest.raises(IntegrationUnavailable, match="unreachable"):
        await smtp(db, closed_port()).send(note(recipient_email="rui@example.com"))


# --- webhook ---------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver that checks signatures and drops repeated Idempotency-Keys."""

    secret: str = SECRET
    accepted: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    status: int | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/perfloop")
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.requests.append((dict(request.headers), body))
            if self.status is not None:
                return Response(status_code=self.status)
            if not verify_signature(self.secret, request.headers.get(SIGNATURE_HEADER), body):
                return JSONResponse({"error": "bad signature"}, status_code=400)
            key = request.headers["idempotency-key"]
            if key in self.seen:
                return JSONResponse({"duplicate": key}, status_code=409)
            self.seen.add(key)
            self.accepted.append(await request.json())
            return Response(status_code=204)

        return app


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with LoopbackServer(hook.app()) as server:
        yield hook, f"{server.url}/hooks/perfloop"


async def test_webhook_posts_signed_json_once(
    db: str, session: Session, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    add_employee(session)
    notifier = WebhookNotifier(url, SECRET, session_factory(db))

    first = await notifier.send(note())
    again = await notifier.send(note())

    assert (first, again) == (True, False)
    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    assert headers["idempotency-key"] == "task-7/opened"
    assert headers["content-type"] == "application/json"
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER.lower()], body)
    [event] = hook.accepted
    assert event["id"] == "task-7/opened"
    assert event["type"] == "task_opened"
    assert event["data"]["recipient_email"] == "rui.carvalho@example.com"
    assert event["data"]["subject"] == "Your self-review is open"
    assert deliveries(session)[0].status == "sent"


async def test_webhook_resend_after_a_crash_is_dropped_by_the_receiver(
    db: str, session: Session, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    notifier = WebhookNotifier(url, SECRET, session_factory(db))

    assert await notifier.send(note(recipient_email="rui@example.com"))
    forget_delivery(session, "task-7/opened", "webhook")
    resent = await notifier.send(note(recipient_email="rui@example.com"))

    assert resent is False  # the receiver answered 409: it had the event already
    assert len(hook.requests) == 2
    assert len(hook.accepted) == 1
    assert deliveries(session)[0].status == "sent"


async def test_webhook_signed_with_the_wrong_secret_is_rejected(
    db: str, session: Session, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver

    with pytest.raises(IntegrationConfigError, match="answered 400"):
        await WebhookNotifier(url, "not-the-secret", session_factory(db)).send(
            note(recipient_email="rui@example.com")
        )

    assert hook.accepted == []
    assert deliveries(session)[0].last_error == f"webhook: POST {url} answered 400"


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, IntegrationUnavailable), (429, IntegrationUnavailable), (404, IntegrationConfigError)],
)
async def test_webhook_failures_are_classified(
    db: str, receiver: tuple[Receiver, str], status: int, error: type[Exception]
) -> None:
    hook, url = receiver
    hook.status = status

    with pytest.raises(error, match=f"answered {status}"):
        await WebhookNotifier(url, SECRET, session_factory(db)).send(
            note(recipient_email="rui@example.com")
        )


async def test_webhook_unreachable_is_retryable(db: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hooks"

    with pytest.raises(IntegrationUnavailable, match="ConnectError"):
        await WebhookNotifier(url, SECRET, session_factory(db)).send(
            note(recipient_email="rui@example.com")
        )


# --- signatures ------------------------------------------------------------------------------

BODY = b'{"id":"k","type":"info"}'
NOW = 1_800_000_000


def test_a_valid_signature_verifies() -> None:
    assert verify_signature(SECRET, sign(SECRET, BODY, NOW), BODY, now=NOW + 299)
    assert verify_signature(SECRET.encode(), sign(SECRET, BODY, NOW), BODY.decode(), now=NOW)


@pytest.mark.parametrize(
    ("secret", "header", "body", "now"),
    [
        pytest.param(SECRET, sign(SECRET, BODY, NOW), BODY + b" ", NOW, id="tampered body"),
        pytest.param(
            SECRET,
            sign(SECRET, BODY, NOW),
            BODY.replace(b"info", b"infO"),
            NOW,
            id="tampered field",
        ),
        pytest.param("other", sign(SECRET, BODY, NOW), BODY, NOW, id="wrong secret"),
        pytest.param(SECRET, sign(SECRET, BODY, NOW), BODY, NOW + 301, id="stale"),
        pytest.param(SECRET, sign(SECRET, BODY, NOW), BODY, NOW - 301, id="from the future"),
        pytest.param(
            SECRET,
            sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"),
            BODY,
            NOW,
            id="timestamp changed",
        ),
        pytest.param(SECRET, None, BODY, NOW, id="no header"),
        pytest.param(SECRET, "", BODY, NOW, id="empty header"),
        pytest.param(SECRET, f"t={NOW}", BODY, NOW, id="no v1"),
        pytest.param(SECRET, "v1=abc", BODY, NOW, id="no t"),
        pytest.param(SECRET, "t=soon,v1=abc", BODY, NOW, id="t not a number"),
    ],
)
def test_signature_verification_rejects(
    secret: str, header: str | None, body: bytes, now: int
) -> None:
    assert not verify_signature(secret, header, body, now=now)


def test_signature_accepts_any_of_several_v1_values_during_rotation() -> None:
    header = f"{sign('old', BODY, NOW)},v1={sign(SECRET, BODY, NOW).split('v1=')[1]}"

    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature("old", header, BODY, now=NOW)
    assert not verify_signature("third", header, BODY, now=NOW)


def test_signature_tolerance_is_configurable() -> None:
    header = sign(SECRET, BODY, NOW)

    assert not verify_signature(SECRET, header, BODY, tolerance=10, now=NOW + 11)
    assert verify_signature(SECRET, header, BODY, tolerance=3600, now=NOW + 3000)


# --- fanout and the activity -----------------------------------------------------------------


async def test_fanout_keeps_in_app_when_a_channel_fails_for_good(
    db: str, session: Session, mailbox: tuple[Mailbox, int], receiver: tuple[Receiver, str]
) -> None:
    box, port = mailbox
    hook, url = receiver
    factory = session_factory(db)
    fanout = FanoutNotifier(
        [InAppNotifier(factory), smtp(db, port), WebhookNotifier(url, SECRET, factory)]
    )

    sent = await fanout.send(note())  # nobody has an address for E007: e-mail fails for good

    assert sent is True
    assert box.messages == []
    assert len(hook.accepted) == 1
    assert len(session.scalars(select(Notification)).all()) == 1
    assert await fanout.send(note()) is False


async def test_fanout_raises_a_transient_failure_and_a_retry_completes(
    db: str, session: Session, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    factory = session_factory(db)
    hook.status = 503
    fanout = FanoutNotifier([InAppNotifier(factory), WebhookNotifier(url, SECRET, factory)])

    with pytest.raises(IntegrationUnavailable):
        await fanout.send(note())
    hook.status = None
    retried = await fanout.send(note())

    assert retried is True  # the webhook went out now; in-app was already stored
    assert len(session.scalars(select(Notification)).all()) == 1
    assert len(hook.accepted) == 1


def test_fanout_needs_a_notifier() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FanoutNotifier([])


async def test_notify_activity_sends_through_the_notifier(db: str, session: Session) -> None:
    activities = NotifyActivities(InAppNotifier(session_factory(db)))
    payload = NotifyInput(
        business_key="cycle-1/E007/reminder/1",
        recipient_id="E007",
        kind="reminder",
        subject="Reminder",
        cycle_id="cycle-1",
    )

    env = ActivityEnvironment()
    first = await env.run(activities.notify, payload)
    again = await env.run(activities.notify, payload)

    assert (first, again) == (True, False)
    [row] = session.scalars(select(Notification)).all()
    assert (row.kind, row.business_key) == ("reminder", "cycle-1/E007/reminder/1")


# --- wiring ----------------------------------------------------------------------------------


def test_default_wiring_is_embedded_and_in_app(db: str) -> None:
    factory = session_factory(db)

    assert isinstance(build_hris(Settings(), factory), EmbeddedHris)
    assert isinstance(build_notifier(Settings(), factory), InAppNotifier)


def test_wiring_adds_the_configured_channels(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLOOP_HRIS", "scim")
    monkeypatch.setenv("PERFLOOP_SCIM_URL", "https://hr.example.com/scim/v2")
    monkeypatch.setenv("PERFLOOP_SCIM_TOKEN", "t0ken")
    monkeypatch.setenv("PERFLOOP_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("PERFLOOP_SMTP_PORT", "587")
    monkeypatch.setenv("PERFLOOP_SMTP_STARTTLS", "true")
    monkeypatch.setenv("PERFLOOP_WEBHOOK_URL", "https://hooks.example.com/perfloop")
    monkeypatch.setenv("PERFLOOP_WEBHOOK_SECRET", SECRET)
    settings = Settings()
    factory = session_factory(db)

    hris = build_hris(settings, factory)
    notifier = build_notifier(settings, factory)

    assert isinstance(hris, ScimHris)
    assert hris.results_url == "https://hr.example.com/scim/v2/perfloop/results"
    assert "t0ken" not in repr(settings)
    assert isinstance(notifier, FanoutNotifier)
    kinds = [type(n) for n in notifier.notifiers]
    assert kinds == [InAppNotifier, SmtpNotifier, WebhookNotifier]
    email_channel = notifier.notifiers[1]
    assert isinstance(email_channel, SmtpNotifier)
    assert (email_channel.port, email_channel.starttls) == (587, True)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (Settings(hris="scim"), "PERFLOOP_HRIS=scim needs PERFLOOP_SCIM_URL"),
        (
            Settings(hris="scim", scim_url="https://x", scim_token=None),
            "PERFLOOP_SCIM_TOKEN",
        ),
        (Settings(webhook_url="https://hooks.example.com"), "PERFLOOP_WEBHOOK_SECRET"),
        (
            Settings(webhook_url="https://hooks.example.com", webhook_secret=SecretStr("")),
            "PERFLOOP_WEBHOOK_SECRET",
        ),
    ],
)
def test_wiring_refuses_incomplete_settings(db: str, settings: Settings, problem: str) -> None:
    factory = session_factory(db)

    with pytest.raises(WiringError, match=problem):
        build_notifier(settings, factory) if settings.hris == "embedded" else build_hris(
            settings, factory
        )


def test_empty_integration_settings_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLOOP_SMTP_HOST", "")
    monkeypatch.setenv("PERFLOOP_WEBHOOK_SECRET", "")

    settings = Settings()

    assert settings.smtp_host is None
    assert settings.webhook_secret is None
