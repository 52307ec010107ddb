"""The signature of a message between the shop and dunning, both ways (the payment webhook in, the cancellation call
out): hex HMAC-SHA256 over b"<timestamp>." + the raw body, in X-Dunning-Signature beside X-Dunning-Timestamp."""
from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Dunning-Timestamp", "X-Dunning-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature a sender puts in X-Dunning-Signature."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
