"""Payment webhooks: an HMAC-SHA256 signature over the timestamp and the raw body, fresh and used once."""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from dunning.errors import InputError
from dunning.money import known_currencies, parse_major
from dunning.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET_VARIABLE = "DUNNING_WEBHOOK_SECRET"
MAX_AGE_SECONDS = 300
MAX_MINOR = 10**15  # ten trillion in major units of a two-decimal currency: anything above is an error
LIMITS = {"order_id": 200, "payment_id": 250}


class Rejected(Exception):
    """The request is not a genuine, fresh webhook; `status` says how to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def verify(secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes, now: float | None = None) -> str:
    """The verified signature (for replay detection); raises Rejected for a missing, stale or wrong one."""
    if not timestamp_header or not signature_header:
        raise Rejected(401, "missing signature headers")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise Rejected(400, "timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - timestamp) > MAX_AGE_SECONDS:
        raise Rejected(400, "stale request (timestamp more than 5 minutes away)")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature_header.strip().lower()):
        raise Rejected(401, "signature does not match")
    return expected


KINDS = ("payment", "refund", "chargeback", "return")


@dataclass(frozen=True)
class Reported:
    """A payment (or money going back: a refund, chargeback or return, negative) as the provider reported it, every
    field checked."""

    payment_id: str
    order_id: str
    amount: int
    currency: str
    paid_at: date
    kind: str = "payment"


def reported(data: object, today: date) -> Reported:
    """The body's payment; ValueError names the field and why (the webhook answers 422)."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    text = {name: _text(data, name) for name in ("payment_id", "order_id", "currency")}
    currency = text["currency"].upper()
    if currency not in known_currencies():
        raise ValueError(f"currency {text['currency'][:10]!r} is not an ISO 4217 code")
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
        raise ValueError("amount is required, as a string such as \"149.70\"")
    try:
        minor = parse_major(str(Decimal(str(amount))), currency)
    except (InvalidOperation, InputError, ValueError):
        raise ValueError(f"amount {str(amount)[:30]!r} is not an amount in {currency}") from None
    kind = data.get("kind", "payment")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if kind == "payment" and minor < 0:
        raise ValueError("a negative amount needs its kind (refund, chargeback or return)")
    if not 0 < abs(minor) <= MAX_MINOR:
        raise ValueError("amount must not be 0, and below 10^15 minor units")
    paid = data.get("paid_at") or today.isoformat()
    try:
        paid_at = date.fromisoformat(str(paid))
    except ValueError:
        raise ValueError(f"paid_at {str(paid)[:30]!r} is not a date (YYYY-MM-DD)") from None
    return Reported(text["payment_id"], text["order_id"], abs(minor) if kind == "payment" else -abs(minor), currency, paid_at, kind)


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise ValueError(f"{name} is required, as a string")
    value = str(value).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{name} holds a control character")
    if len(value) > LIMITS.get(name, 3):
        raise ValueError(f"{name} is longer than {LIMITS.get(name, 3)} characters")
    return value
