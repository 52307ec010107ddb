"""Every exception dunning raises, in one place.

`InputError` (and `MissingKeys`): the CLI turns it into one clear sentence and exit code 2.
`Failure`: something outside dunning stopped the work (a full disk, a store that went away): one sentence, exit 1.
`TokenError` and its kinds: a manage link that opens nothing. `TemporaryFailure` and
`PermanentFailure`: a channel could not deliver, for now or for good.
"""
from __future__ import annotations

from datetime import datetime


class InputError(Exception):
    """A file, setting or option the user gave cannot be used; the message says why."""


class Failure(Exception):
    """The work could not be done for a reason outside dunning and the input; the message says which."""


class MissingKeys(InputError):
    """No signing key configured."""


class TokenError(Exception):
    """A token that does not open anything."""


class TokenTampered(TokenError):
    """Not signed by any of our keys, cut short, or altered."""


class TokenExpired(TokenError):
    """Correctly signed, but older than the allowed age."""

    def __init__(self, order_id: str, signed_at: datetime):
        super().__init__("token expired")
        self.order_id = order_id
        self.signed_at = signed_at


class TokenForeign(TokenError):
    """Correctly signed, but for another order or another purpose."""


class TemporaryFailure(Exception):
    """Worth trying again later (4xx, a dropped connection, 429, 5xx from an API)."""


class PermanentFailure(Exception):
    """Will not work however often it is tried (5xx from SMTP, a refused address)."""
