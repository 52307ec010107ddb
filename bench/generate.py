"""Generate a realistic plans export and payments file (generic profile) for benchmarks."""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

FIRST = np.array(["Anna", "Jürgen", "Sophie", "Pieter", "Emma", "Lukas", "Noor", "Claire", "James", "Yuki"])
LAST = np.array(["Müller", "Schäfer", "Dubois", "de Vries", "Wilson", "Bauer", "Jansen", "Martin", "Brown", "Tanaka"])
LANGS = np.array(["de", "de", "de", "nl", "fr", "en"])
PRODUCTS = np.array(["Online-Kurs Fotografie", "Yoga-Jahresabo", "Coaching Programme", "Cursus Marketing", "Formation Photo"])
METHODS = np.array(["bank_transfer", "paypal", "card", "sepa_debit", "sofort", "invoice"])
CURRENCIES = np.array(["EUR"] * 8 + ["USD", "GBP"])


def generate(orders: int, installments: int, as_of: date, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    """Write plans.csv and payments.csv into `folder`; returns their paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.char.add("O", np.char.zfill(np.arange(orders).astype(str), 8))
    start = np.datetime64(as_of, "D") - rng.integers(5, 400, orders).astype("timedelta64[D]")
    months = np.where(rng.random(orders) < 0.85, 1, 3)
    amount_cents = rng.integers(1900, 29900, orders)
    pick = lambda options: options[rng.integers(0, len(options), orders)]
    plans = pd.DataFrame({
        "order_id": ids,
        "email": np.char.add(np.char.add("customer", np.arange(orders).astype(str)), "@example.com"),
        "first_name": pick(FIRST), "last_name": pick(LAST), "language": pick(LANGS),
        "product_name": pick(PRODUCTS), "kind": "installment", "payment_method": pick(METHODS),
        "currency": pick(CURRENCIES),
        "status": np.where(rng.random(orders) < 0.02, "cancelled", "active"),
        "start_date": start.astype(str), "interval": np.char.add(months.astype(str), np.where(months == 1, " month", " months")),
        "installments": installments,
        "installment_amount": [f"{c // 100}.{c % 100:02d}" for c in amount_cents],
    })
    plans_path = folder / "plans.csv"
    plans.to_csv(plans_path, index=False)

    # Each installment that has fallen due is paid with probability 0.9 while the customer keeps paying;
    # a customer who stops may leave a partial payment.
    k = np.arange(installments)
    month_start = start.astype("datetime64[M]")
    day = (start - month_start.astype("datetime64[D]")).astype(int)
    target = month_start[:, None] + (k[None, :] * months[:, None]).astype("timedelta64[M]")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(int)
    due = target.astype("datetime64[D]") + np.minimum(day[:, None], length - 1).astype("timedelta64[D]")
    fallen_due = due <= np.datetime64(as_of, "D")
    keeps_paying = np.cumprod(rng.random((orders, installments)) < 0.9, axis=1).astype(bool)
    paid = fallen_due & keeps_paying
    partial = fallen_due & ~keeps_paying & np.roll(keeps_paying, 1, axis=1) & (rng.random((orders, installments)) < 0.3)
    partial[:, 0] = fallen_due[:, 0] & ~keeps_paying[:, 0] & (rng.random(orders) < 0.3)
    rows, cols = np.nonzero(paid | partial)
    cents = np.where(partial[rows, cols], amount_cents[rows] // 2, amount_cents[rows])
    paid_at = due[rows, cols] + rng.integers(0, 6, len(rows)).astype("timedelta64[D]")
    paid_at = np.minimum(paid_at, np.datetime64(as_of, "D"))
    payments = pd.DataFrame({
        "payment_id": np.char.add("PAY", np.arange(len(rows)).astype(str)),
        "order_id": ids[rows], "paid_at": paid_at.astype(str),
        "amount": [f"{c // 100}.{c % 100:02d}" for c in cents], "currency": plans["currency"].to_numpy()[rows],
    })
    payments_path = folder / "payments.csv"
    payments.to_csv(payments_path, index=False)
    return plans_path, payments_path


def add_size_options(parser: argparse.ArgumentParser) -> None:
    """--orders, --installments, --as-of and --data, shared by the generator and the benchmark."""
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--installments", type=int, default=6)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_size_options(parser)
    args = parser.parse_args()
    for path in generate(args.orders, args.installments, args.as_of, args.data):
        print(path)
