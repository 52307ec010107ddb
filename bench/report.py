"""Benchmark `dunning report` over 1,000,000 reminders and 500,000 payments in an SQLite store.

The reference is SQLite computing the core of the same figures on the same file in one SQL
query (per reminder: the payments since it, capped at what it asked for; summed per currency).
The script checks both agree, then prints the times and their ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from dunning.journal.tables import SENT
from dunning.journal.tables import reminders as reminders_table
from dunning.journal.sql import now
from dunning.journal.store import Store
from results import save

AS_OF = date(2026, 12, 31)
REFERENCE_QUERY = """
WITH r AS (SELECT id, order_id, reminded_on AS as_of, currency, open_amount FROM reminders WHERE status = 'sent'),
p AS (SELECT order_id, currency, paid_at, amount FROM payments WHERE kind IN ('payment', 'drop') AND paid_at <= :as_of),
rec AS (SELECT r.id, r.currency, r.open_amount, MIN(r.open_amount, COALESCE(SUM(p.amount), 0)) AS recovered
        FROM r LEFT JOIN p ON p.order_id = r.order_id AND p.currency = r.currency AND p.paid_at >= r.as_of
        GROUP BY r.id)
SELECT currency, COUNT(*), SUM(open_amount), SUM(recovered) FROM rec GROUP BY currency ORDER BY currency
"""


def fill(store: Store, reminders: int, payments: int, seed: int = 5) -> None:
    """Reminders sent to distinct orders over ten weeks, and payments for some of them after their reminder
(recorded after it, so the report credits them as the reference query does)."""
    rng = np.random.default_rng(seed)
    start = date(2026, 9, 1)
    days = rng.integers(0, 70, reminders)
    amounts = rng.integers(1000, 50000, reminders)
    currencies = np.array(["EUR"] * 8 + ["USD", "GBP"])[rng.integers(0, 10, reminders)]
    stages = np.array(["friendly", "second", "final"])[rng.integers(0, 3, reminders)]
    reasons = np.array(["manual_payment", "no_response", "failed_debit", "chargeback"])[rng.integers(0, 4, reminders)]
    weeks = {week: store.create_campaign(f"campaign-{week}", "friendly", "outbox", start + timedelta(days=7 * week), "")
             for week in range(10)}
    stamp = now()
    rows = [{"campaign_id": weeks[int(d) // 7], "order_id": f"O{i:08d}", "stage": s, "email": "a@example.com", "first_name": "A",
             "last_name": "B", "language": "en", "currency": c, "open_amount": int(a), "fee": 0, "reason": r,
             "payment_method": "bank_transfer", "days_overdue": 10, "token_id": "t", "subject": "", "body_text": "",
             "body_html": "", "status": SENT, "prepared_at": stamp, "sent_at": stamp, "reminded_on": start + timedelta(days=int(d))}
            for i, (d, a, c, s, r) in enumerate(zip(days, amounts, currencies, stages, reasons))]
    with store.engine.begin() as db:
        for first in range(0, len(rows), 50_000):
            db.execute(reminders_table.insert(), rows[first:first + 50_000])
    payer = rng.choice(reminders, payments, replace=False)
    store.add_payments([
        {"payment_id": f"P{k}", "order_id": f"O{i:08d}", "paid_at": start + timedelta(days=int(days[i] + rng.integers(0, 40))),
         "amount": int(amounts[i] if rng.random() < 0.7 else amounts[i] // 2), "currency": str(currencies[i]),
         "kind": "payment", "source": "bench", "flag": ""}
        for k, i in enumerate(payer)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reminders", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dunning.sqlite3"
        started = time.perf_counter()
        fill(Store(f"sqlite:///{path}"), args.reminders, args.payments)
        report = {"reminders": args.reminders, "payments": args.payments, "fill_seconds": round(time.perf_counter() - started, 1)}

        started = time.perf_counter()
        with sqlite3.connect(path) as db:
            reference = db.execute(REFERENCE_QUERY, {"as_of": AS_OF.isoformat()}).fetchall()
        report["sqlite_query_seconds"] = round(time.perf_counter() - started, 2)

        env = dict(os.environ, DUNNING_DATABASE_URL=f"sqlite:///{path}")
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "dunning", "report", "--as-of", AS_OF.isoformat(), "--json"],
                                capture_output=True, text=True, env=env, cwd=folder)
        report["dunning_report_seconds"] = round(time.perf_counter() - started, 2)
        if result.returncode != 0:
            raise SystemExit(result.stderr[-2000:])
        ours = {r["currency"]: r for r in json.loads(result.stdout)["by currency"]}
        for currency, count, reminded, recovered in reference:
            mine = ours[currency]
            if (mine["orders_reminded"], mine["amount_reminded"].replace(".", ""), mine["amount_recovered"].replace(".", "")) != (
                    count, str(reminded), str(recovered)):
                raise SystemExit(f"figures differ for {currency}: {mine} vs {(count, reminded, recovered)}")
        report["agree_per_currency"] = {c: {"reminders": n, "reminded_minor": a, "recovered_minor": r} for c, n, a, r in reference}
        report["ratio_vs_sqlite_query"] = round(report["dunning_report_seconds"] / report["sqlite_query_seconds"], 2)
    save("report", report)


if __name__ == "__main__":
    main()
