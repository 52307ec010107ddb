"""Mailchimp's Marketing API through the official mailchimp-marketing client: the key from the environment,
429 and 5xx retried with doubling backoff, collections read page by page, other errors as one sentence."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping

import mailchimp_marketing
from mailchimp_marketing.api_client import ApiClientError

from dunning.channels import PermanentFailure, TemporaryFailure
from dunning.errors import InputError

KEY_VARIABLE = "DUNNING_MAILCHIMP_API_KEY"
PAGE = 1000  # the most Mailchimp returns per page


class MailchimpApi:
    """One account's API (one connection at a time: Mailchimp allows at most 10 per key)."""

    def __init__(self, key: str, server: str, api_url: str = "", retries: int = 4, backoff_seconds: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = mailchimp_marketing.Client()
        self.client.set_config({"api_key": key, "server": server})
        if api_url:
            self.client.api_client.host = api_url.rstrip("/")
        self.retries, self.backoff_seconds, self.sleep = retries, backoff_seconds, sleep

    @classmethod
    def from_environment(cls, server: str, api_url: str, retries: int, backoff_seconds: float, environ: Mapping[str, str],
                         sleep: Callable[[float], None] = time.sleep) -> MailchimpApi:
        """The API with the key from DUNNING_MAILCHIMP_API_KEY; the data centre from `server` or the key's suffix."""
        key = environ.get(KEY_VARIABLE, "")
        if not key:
            raise InputError(f"no Mailchimp API key: set {KEY_VARIABLE} in the environment")
        server = server or key.rpartition("-")[2]
        if not server or server == key:
            raise InputError("the Mailchimp data centre is unknown: set [mailchimp] server (e.g. us21) or use a key ending in -us21")
        return cls(key, server, api_url, retries, backoff_seconds, sleep)

    def pages(self, method, key: str, *args, **kwargs) -> Iterator[dict]:
        """Every item of a collection, read page by page."""
        offset = 0
        while True:
            answer = self.call(method, *args, count=PAGE, offset=offset, **kwargs)
            items = answer.get(key, [])
            yield from items
            offset += len(items)
            if not items or offset >= answer.get("total_items", 0):
                return

    def call(self, method, *args, **kwargs):
        """One API call; 429 and 5xx are retried with backoff, other errors become one clear sentence."""
        delay = self.backoff_seconds
        for attempt in range(self.retries + 1):
            try:
                return method(*args, **kwargs)
            except ApiClientError as exc:
                status, message = _problem(exc)
                if status == 429 or status >= 500 or status == 0:
                    if attempt == self.retries:
                        raise TemporaryFailure(f"Mailchimp kept answering {status}: {message}") from None
                    self.sleep(delay)
                    delay *= 2
                    continue
                if status in (401, 403):
                    raise InputError(f"Mailchimp refused the API key: {message}") from None
                raise PermanentFailure(f"Mailchimp answered {status}: {message}") from None
        raise TemporaryFailure("Mailchimp did not answer")


def _problem(exc: ApiClientError) -> tuple[int, str]:
    """Status and 'title: detail (field: message; ...)' from Mailchimp's application/problem+json error body."""
    status = int(exc.status_code or 0)
    try:
        body = json.loads(exc.text) if isinstance(exc.text, str) else exc.text
        fields = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in body.get("errors") or []
                           if isinstance(e, dict) and e.get("field"))
        message = f"{body.get('title', '')}: {body.get('detail', '')}".strip(": ")
        return status, f"{message} ({fields})" if fields else message
    except (ValueError, AttributeError, TypeError):
        return status, str(exc.text)
