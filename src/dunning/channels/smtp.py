"""The SMTP channel: STARTTLS or SSL, login from the environment, one connection for the batch."""
from __future__ import annotations

import os
import smtplib
import ssl
import time
from dataclasses import dataclass

from dunning.channels import Outgoing, PermanentFailure, TemporaryFailure
from dunning.channels.email import address_of, as_bytes, build
from dunning.errors import InputError

USER_VARIABLE, PASSWORD_VARIABLE = "DUNNING_SMTP_USER", "DUNNING_SMTP_PASSWORD"
SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    timeout: float = 30.0
    retries: int = 3
    backoff_seconds: float = 2.0
    ca_file: str = ""


class SmtpChannel:
    """Sends over one reused connection; reconnects on a drop; retries 4xx with backoff, never 5xx."""

    def __init__(self, settings: SmtpSettings, environ: dict | None = None):
        if settings.security not in SECURITY:
            raise InputError(f"smtp.security must be one of {', '.join(SECURITY)}, not {settings.security!r}")
        env = os.environ if environ is None else environ
        self.user = env.get(USER_VARIABLE, "")
        self.password = env.get(PASSWORD_VARIABLE, "")
        if self.user and not self.password:
            raise InputError(f"{USER_VARIABLE} is set but {PASSWORD_VARIABLE} is not: set the SMTP password in the environment")
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def send(self, message: Outgoing) -> str:
        sender = address_of(message.sender)
        ascii_only = (sender + message.to).isascii()
        mail = None if ascii_only else build(message)
        data = as_bytes(message) if ascii_only else b""  # written once, resent as is on a retry
        delay = self.settings.backoff_seconds
        for attempt in range(1, self.settings.retries + 2):
            try:
                connection = self._connection()
                if ascii_only:
                    refused = connection.sendmail(sender, [message.to], data)
                else:  # SMTPUTF8 is negotiated by send_message
                    refused = connection.send_message(mail, sender, [message.to])
                if refused:
                    code, reason = next(iter(refused.values()))
                    raise smtplib.SMTPRecipientsRefused({message.to: (code, reason)})
                return message.message_id
            except smtplib.SMTPNotSupportedError:
                raise PermanentFailure(f"the mail server does not offer SMTPUTF8, which the address {message.to} "
                                       "needs (it has characters beyond ASCII)") from None
            except smtplib.SMTPServerDisconnected as exc:
                self.connection = None
                failure: Exception = TemporaryFailure(f"connection dropped: {exc}")
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
                    smtplib.SMTPResponseException) as exc:
                code, reason = _code_and_reason(exc)
                if 500 <= code < 600:
                    raise PermanentFailure(f"{code} {reason}") from None
                failure = TemporaryFailure(f"{code} {reason}")
                self._reset()
            except (OSError, smtplib.SMTPException) as exc:
                self.connection = None
                failure = TemporaryFailure(f"{type(exc).__name__}: {exc}")
            if attempt > self.settings.retries:
                raise failure
            time.sleep(delay)
            delay *= 2
        raise TemporaryFailure("retries exhausted")

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.connection = None

    def _connection(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file or None)
        if s.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                connection.starttls(context=context)
        if self.user:
            try:
                connection.login(self.user, self.password)
            except smtplib.SMTPAuthenticationError as exc:
                raise InputError(f"the SMTP server refused the login for {self.user}: {exc.smtp_code}") from None
            except smtplib.SMTPNotSupportedError:
                raise InputError(f"the SMTP server at {s.host}:{s.port} offers no login (AUTH); check smtp.security") from None
        self.connection = connection
        return connection

    def _reset(self) -> None:
        """After a refused transaction, the connection is reset so the next message starts clean."""
        if self.connection is not None:
            try:
                self.connection.rset()
            except (smtplib.SMTPException, OSError):
                self.connection = None


def _code_and_reason(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reason = next(iter(exc.recipients.values()))
    else:
        code, reason = getattr(exc, "smtp_code", 0), getattr(exc, "smtp_error", b"")
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return int(code), text
