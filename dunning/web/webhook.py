"""Payment webhooks: an HMAC-SHA256 signature over the timestamp and the raw body, fresh and used once."""
from __future__ import annotations

import hashlib
import hmac
import time

SECRET_VARIABLE = "DUNNING_WEBHOOK_SECRET"
TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Dunning-Timestamp", "X-Dunning-Signature"
MAX_AGE_SECONDS = 300


class Rejected(Exception):
    """The request is not a genuine, fresh webhook; `status` says how to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature a sender puts in X-Dunning-Signature: hex HMAC-SHA256 of b"<timestamp>." + body."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


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
