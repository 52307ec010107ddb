"""Signed, expiring per-order tokens (itsdangerous, HMAC-SHA256) and the manage links built from them."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.encoding import base64_encode, int_to_bytes

from dunning.errors import InputError, MissingKeys, TokenError, TokenExpired, TokenForeign, TokenTampered  # noqa: F401

KEYS_VARIABLE = "DUNNING_SECRET_KEYS"
PURPOSES = ("manage", "unsubscribe")
MAX_URL_LENGTH = 254
MIN_KEY_LENGTH = 32


def keys_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Signing keys from DUNNING_SECRET_KEYS, newest first; [] when unset. A key shorter than
    MIN_KEY_LENGTH is refused: a short key can be guessed, and every customer's link with it."""
    value = (environ if environ is not None else os.environ).get(KEYS_VARIABLE, "")
    keys = [k.strip() for k in value.split(",") if k.strip()]
    short = [n for n, key in enumerate(keys, start=1) if len(key) < MIN_KEY_LENGTH]
    if short:
        raise InputError(
            f"{KEYS_VARIABLE}: key {short[0]} has fewer than {MIN_KEY_LENGTH} characters; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return keys


def require_keys(keys: Sequence[str]) -> None:
    """Refuse, in one sentence, to hand out links without a key."""
    if not keys:
        raise MissingKeys(
            f"no signing key: set {KEYS_VARIABLE} to a long random secret (newest first, comma-separated), "
            "for example with: export DUNNING_SECRET_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


@dataclass(frozen=True)
class TokenSigner:
    """Signs and verifies tokens for one purpose with a key list (newest first)."""

    keys: Sequence[str]
    max_age: timedelta = timedelta(days=45)
    purpose: str = "manage"

    def _signer(self, purpose: str, timestamp: int | None = None) -> TimestampSigner:
        require_keys(self.keys)
        signer_class = TimestampSigner if timestamp is None else _fixed_clock(timestamp)
        return signer_class(list(reversed(self.keys)), salt=f"dunning.{purpose}", digest_method=hashlib.sha256)

    def sign(self, order_id: str, issued_at: datetime | None = None) -> str:
        """A token for one order, issued now or at `issued_at`."""
        timestamp = None if issued_at is None else int(issued_at.timestamp())
        return self._signer(self.purpose, timestamp).sign(_encode(order_id)).decode("ascii")

    def sign_many(self, order_ids: Sequence[str], issued_at: datetime | None = None) -> list[str]:
        """Tokens for many orders, all issued at the same second: the same bytes `sign` gives,
        with the key derived once instead of per token."""
        timestamp = int(issued_at.timestamp() if issued_at else time.time())
        signer = self._signer(self.purpose, timestamp)
        key, sep = signer.derive_key(), signer.sep
        stamp = sep + base64_encode(int_to_bytes(timestamp))
        tokens = []
        for order_id in order_ids:
            value = _encode(order_id) + stamp
            tokens.append((value + sep + base64_encode(signer.algorithm.get_signature(key, value))).decode("ascii"))
        return tokens

    def verify(self, token: str, order_id: str | None = None) -> str:
        """The order id a valid token opens; raises TokenTampered, TokenExpired or TokenForeign.

        Only the form this signer writes opens anything: base64 that decodes leniently (padding,
        '+' and '/', other trailing bits, appended characters) is refused."""
        if not _canonical(token):
            raise TokenTampered("token is not valid")
        try:
            value, signed = self._signer(self.purpose).unsign(
                token, max_age=int(self.max_age.total_seconds()), return_timestamp=True
            )
        except SignatureExpired as exc:
            signed_at = exc.date_signed or datetime.fromtimestamp(0, timezone.utc)
            raise TokenExpired(_decode(exc.payload or b""), signed_at) from None
        except BadSignature:
            if any(self._valid_for(token, other) for other in PURPOSES if other != self.purpose):
                raise TokenForeign("token was issued for another purpose") from None
            raise TokenTampered("token is not valid") from None
        found = _decode(value)
        if order_id is not None and found != order_id:
            raise TokenForeign("token belongs to another order")
        return found

    def expires_at(self, issued_at: datetime) -> datetime:
        return issued_at + self.max_age

    def _valid_for(self, token: str, purpose: str) -> bool:
        try:
            self._signer(purpose).unsign(token)
        except BadSignature:
            return False
        return True


def _fixed_clock(timestamp: int) -> type[TimestampSigner]:
    class FixedClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return FixedClockSigner


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _canonical(token: str) -> bool:
    """Three dot-separated parts of unpadded URL-safe base64, each exactly as an encoder writes it."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return False
    for part in token.split("."):
        raw = part.encode("ascii")
        try:
            decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        except ValueError:
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=") != raw:
            return False
    return True


def _encode(order_id: str) -> bytes:
    return base64.urlsafe_b64encode(order_id.encode("utf-8")).rstrip(b"=")


def _decode(value: bytes) -> str:
    try:
        return base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise TokenTampered("token is not valid") from None


def manage_url(template: str, token: str) -> str:
    """The link for a token; refuses URLs newsletter tools would truncate (255 characters and more)."""
    if "{token}" not in template:
        raise InputError(f"links.manage_url {template!r} has no {{token}} placeholder")
    url = template.replace("{token}", token)
    if len(url) > MAX_URL_LENGTH:
        raise InputError(
            f"manage link is {len(url)} characters; newsletter tools accept at most {MAX_URL_LENGTH}: "
            "shorten links.manage_url or the order ids"
        )
    return url


def token_id(token: str) -> str:
    """A short fingerprint of a token, stored instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def add_links(frame: pd.DataFrame, signer: TokenSigner, template: str, issued_at: datetime | None = None) -> pd.DataFrame:
    """The frame with `token`, `manage_url` and `link_expires_at` for each order_id."""
    issued = issued_at or datetime.now(timezone.utc)
    out = frame.copy()
    tokens = signer.sign_many(out["order_id"].tolist(), issued)
    out["token"] = pd.array(tokens, dtype="string")
    prefix, _, suffix = template.partition("{token}")
    manage_url(template, tokens[0] if tokens else "")
    out["manage_url"] = prefix + out["token"] + suffix
    too_long = out["manage_url"].str.len() > MAX_URL_LENGTH
    if too_long.any():
        manage_url(template, out.loc[too_long, "token"].iloc[0])
    out["link_expires_at"] = signer.expires_at(issued).replace(microsecond=0)
    return out
