"""Visits of the manage pages, written in batches: a page view is not worth a commit of its own."""
from __future__ import annotations

import atexit
import logging
import threading
import time

from dunning.journal.sql import now
from dunning.journal.store import Store

log = logging.getLogger(__name__)


class VisitLog:
    """Keeps each visit in memory and writes those waiting in one statement every `seconds` (a timer thread in
    the serving process) and when the process stops (`flush`, gunicorn's worker_exit, and at exit). With
    `seconds = 0` each visit is written at once. A worker killed outright loses the visits it had not written."""

    def __init__(self, store: Store, seconds: float):
        self.store, self.seconds = store, seconds
        self.waiting: list[dict] = []
        self.lock = threading.Lock()
        self.timer: threading.Thread | None = None

    def add(self, order_id: str) -> None:
        with self.lock:
            self.waiting.append({"order_id": order_id, "visited_at": now()})
            if self.seconds and self.timer is None:  # started by the first visit: in the worker, after any fork
                self.timer = threading.Thread(target=self._every, name="dunning-visits", daemon=True)
                self.timer.start()
                atexit.register(self.flush)
        if not self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write the visits waiting (a failure is logged: a visit is a hint for the merchant, not a record of money)."""
        with self.lock:
            rows, self.waiting = self.waiting, []
        if not rows:
            return
        try:
            self.store.record_visits(rows)
        except Exception:  # noqa: BLE001  (the timer thread must live on; the error goes to the server's log)
            log.exception("%d manage-page visits could not be written", len(rows))

    def _every(self) -> None:
        while True:
            time.sleep(self.seconds)
            self.flush()
