"""Response headers, limits on invalid-token attempts and form posts shared by every worker, and logs that
never show a token."""
from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Mapping

from werkzeug.middleware.proxy_fix import ProxyFix

from dunning.journal.pages import attempts_since, count_attempt
from dunning.journal.store import Store

BUCKET_SECONDS = 60
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_TOKEN_IN_PATH = re.compile(r"/m/[^/\s?\"'#]+")
_TOKEN_ANYWHERE = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{4,8}\.[A-Za-z0-9_-]{40,}")


def secure_headers(response, secure: bool):
    """No inline script, no framing, no Referer (the token must not leak), nothing cached."""
    response.headers.setdefault("Content-Security-Policy", CSP)  # a page may set a stricter or its own
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    if secure:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
             "HTTP_X_FORWARDED_PREFIX")


class TrustedProxies:
    """`[web] trusted_proxies`: the client's address (X-Forwarded-For, and the scheme and host) is taken from the proxies
    in front, but only when the request comes from one: a loopback or private address. A request straight from the
    internet cannot choose its address with a header; its forwarded headers are dropped, and the log says so once."""

    def __init__(self, app, count: int):
        self.app, self.fixed = app, ProxyFix(app, x_for=count, x_proto=count, x_host=count)
        self.said = False

    def __call__(self, environ, start_response):
        if _from_proxy(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        if any(name in environ for name in FORWARDED):
            for name in FORWARDED:
                environ.pop(name, None)
            if not self.said:
                self.said = True
                logging.getLogger("dunning.web").warning(
                    "[web] trusted_proxies is set, but a request came straight from %s (not from a proxy): its "
                    "X-Forwarded-* headers are ignored; set trusted_proxies = 0 when no proxy is in front",
                    environ.get("REMOTE_ADDR", "?"))
        return self.app(environ, start_response)


PROXY_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12",
                                                          "192.168.0.0/16", "fc00::/7"))


def _from_proxy(address: str) -> bool:
    """A loopback or private (RFC 1918, unique local) address: where a proxy in front of the server sits."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(found in network for network in PROXY_NETWORKS if network.version == found.version)


class Limiter:
    """At most `limit` hits per key within `window` seconds, counted in the store: every worker (and every
    server on a shared PostgreSQL store) sees the same counts. Hits are kept per minute, and every minute that overlaps
    the window counts whole: the limit never resets when a minute turns."""

    def __init__(self, store: Store, limit: int = 20, window: int = 600, clock=time.time):
        self.store, self.limit, self.window, self.clock = store, limit, window, clock

    def blocked(self, key: str) -> bool:
        return attempts_since(self.store, key, int(self.clock()) - self.window - BUCKET_SECONDS) >= self.limit

    def hit(self, key: str) -> None:
        now = int(self.clock())
        count_attempt(self.store, key, now - now % BUCKET_SECONDS, forget_before=now - self.window - 2 * BUCKET_SECONDS)


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
