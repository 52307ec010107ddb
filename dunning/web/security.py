"""Response headers, a limit on invalid-token attempts per client, and logs that never show a token."""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_TOKEN_IN_PATH = re.compile(r"/m/[^/\s?\"'#]+")
_TOKEN_ANYWHERE = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{4,8}\.[A-Za-z0-9_-]{40,}")


def secure_headers(response, secure: bool):
    """No inline script, no framing, no Referer (the token must not leak), nothing cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    if secure:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


class AttemptLimiter:
    """At most `limit` invalid-token attempts per client within `window` seconds (kept in memory only)."""

    def __init__(self, limit: int = 20, window: float = 600.0, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self.attempts: dict[str, deque] = {}
        self.lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self.lock:
            recent = self._recent(client)
            return len(recent) >= self.limit

    def failed(self, client: str) -> None:
        with self.lock:
            self._recent(client).append(self.clock())

    def _recent(self, client: str) -> deque:
        recent = self.attempts.setdefault(client, deque())
        while recent and self.clock() - recent[0] > self.window:
            recent.popleft()
        return recent


class MaskTokens(logging.Filter):
    """Rewrites /m/<token>, and anything shaped like a token, in log records (messages, arguments and
    the text of an exception) to [token]."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _mask(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = _mask(logging.Formatter().formatException(record.exc_info))
        if isinstance(record.args, Mapping):  # gunicorn's access log passes one mapping of atoms
            record.args = {key: _mask(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_mask(value) for value in record.args)
        return True


def _mask(value):
    if not isinstance(value, str):
        return value
    return _TOKEN_ANYWHERE.sub("[token]", _TOKEN_IN_PATH.sub("/m/[token]", value))


def mask_tokens_in(*logger_names: str) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskTokens) for f in logger.filters):
            logger.addFilter(MaskTokens())
