"""E-mail notifications through an SMTP relay (`smtplib`, run in a worker thread).

Delivery goes through the ledger (`notification_deliveries`, channel `email`): pending ->
send -> sent. A send whose key is already `sent` does nothing and returns False. Delivery
is **at least once**: a crash between the relay accepting the message and the ledger
recording it leaves the row `pending`, and the retried activity sends it again. Every
message carries a Message-ID derived from the business key, so that duplicate is the
*same* message to mail software, and `Auto-Submitted: auto-generated` (RFC 3834) so that
auto-responders stay quiet.

The recipient's address is the notification's `recipient_email`, or else the employee
table's address for `recipient_id`. A person with no address, a refused recipient or
sender, refused credentials and other 5xx answers are permanent
(`IntegrationConfigError`); a relay that cannot be reached, times out, or answers 4xx is
transient (`IntegrationUnavailable`) and the activity is retried.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from sqlalchemy.orm import Session

from activities.errors import IntegrationConfigError, IntegrationError, IntegrationUnavailable
from activities.notify.base import OutgoingNotification
from activities.notify.ledger import DeliveryLedger, employee_email, key_digest

SessionFactory = Callable[[], Session]

CHANNEL = "email"
SYSTEM = "smtp"


class SmtpNotifier:
    """`Notifier` that e-mails the recipient through an SMTP relay."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        session_factory: SessionFactory,
        timeout: float = 30.0,
        sender_name: str = "perfloop",
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self._username = username
        self._password = password
        self._session_factory = session_factory
        self._ledger = DeliveryLedger(session_factory, CHANNEL)
        self._timeout = timeout
        self._sender_name = sender_name

    async def send(self, notification: OutgoingNotification) -> bool:
        key = notification.business_key
        if not await asyncio.to_thread(self._ledger.begin, key):
            return False
        try:
            address = notification.recipient_email or await asyncio.to_thread(
                employee_email, self._session_factory, notification.recipient_id
            )
            if not address:
                raise IntegrationConfigError(
                    SYSTEM, f"no e-mail address for employee {notification.recipient_id}"
                )
            message = self.compose(notification, address)
            await asyncio.to_thread(self._deliver, message)
        except IntegrationError as exc:
            await asyncio.to_thread(self._ledger.failed, key, str(exc))
            raise
        await asyncio.to_thread(self._ledger.sent, key)
        return True

    def compose(self, notification: OutgoingNotification, address: str) -> EmailMessage:
        """The e-mail for `notification`; its Message-ID is stable across re-sends."""
        domain = self.sender.rpartition("@")[2] or "localhost"
        message = EmailMessage()
        message["From"] = formataddr((self._sender_name, self.sender))
        message["To"] = address
        message["Subject"] = notification.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{key_digest(notification.business_key, 32)}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Perfloop-Kind"] = notification.kind
        message.set_content(notification.body or notification.subject)
        return message

    def _deliver(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise IntegrationConfigError(
                SYSTEM, f"{self.host}:{self.port} refused the credentials ({exc.smtp_code})"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            error: type[IntegrationError] = (
                IntegrationUnavailable
                if all(400 <= c < 500 for c in codes)
                else IntegrationConfigError
            )
            raise error(SYSTEM, f"the recipient was refused ({codes})") from exc
        except smtplib.SMTPResponseException as exc:
            error = IntegrationUnavailable if 400 <= exc.smtp_code < 500 else IntegrationConfigError
            raise error(SYSTEM, f"{self.host}:{self.port} answered {exc.smtp_code}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise IntegrationConfigError(
                SYSTEM, f"{self.host}:{self.port} does not support STARTTLS or AUTH"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected, refused connection, timeout, DNS: try again later.
            raise IntegrationUnavailable(
                SYSTEM, f"{self.host}:{self.port} unreachable: {type(exc).__name__}"
            ) from exc
