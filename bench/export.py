"""Benchmark `dunning.exports.write` on 100,000 overdue orders with signed links, per tool.

The reference is pandas writing the same rows with DataFrame.to_csv in the same process: the
ratio says what the dialect work (formatting for each locale, guarding cells, templates,
manifest, owner-only files) costs on top of dumping the frame.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dunning import exports
from dunning.config import load
from dunning.tokens import TokenSigner, add_links
from results import save

# KlickTipp addresses the fields a merchant creates by numeric id: a made-up account's
KLICKTIPP_IDS = {key: str(200001 + n) for n, key in enumerate(
    ("order_id", "product_name", "open_amount_text", "paid_amount_text", "fee_text", "due_date_text", "days_overdue",
     "manage_url", "link_expires_text", "order_date_text"))}

AS_OF = date(2026, 11, 20)


def overdue_frame(rows: int, seed: int = 11) -> pd.DataFrame:
    """A realistic overdue frame: mixed languages, currencies and stages."""
    rng = np.random.default_rng(seed)
    pick = lambda options: np.array(options)[rng.integers(0, len(options), rows)]
    days = rng.integers(3, 200, rows)
    return pd.DataFrame({
        "order_id": np.char.add("O", np.char.zfill(np.arange(rows).astype(str), 8)),
        "email": np.char.add(np.char.add("customer", np.arange(rows).astype(str)), "@example.com"),
        "first_name": pick(["Anna", "Jürgen", "Sophie", "Pieter", "Emma", "Zoë"]),
        "last_name": pick(["Müller", "Schäfer", "Dubois", "de Vries", "Wilson", "Lefèvre"]),
        "language": pick(["de", "de", "nl", "fr", "en", ""]),
        "product_name": pick(["Online-Kurs Fotografie", "Yoga-Jahresabo", "Coaching Programme", "Cours de cuisine"]),
        "kind": "installment", "payment_method": "bank_transfer",
        "currency": pick(["EUR"] * 8 + ["USD", "GBP"]), "status": "pending",
        "open_amount": pd.array(rng.integers(1000, 100000, rows), dtype="Int64"),
        "paid_amount": pd.array(rng.integers(0, 100000, rows), dtype="Int64"),
        "fee": pd.array(np.where(days >= 21, 500, 0), dtype="Int64"),
        "oldest_due_date": [d.date() for d in pd.Timestamp(AS_OF) - pd.to_timedelta(days, unit="D")],
        "days_overdue": days, "open_installments": 1,
        "stage": np.where(days >= 21, "final", np.where(days >= 10, "second", "friendly")),
        "reason": "manual_payment",
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    frame = overdue_frame(args.rows)
    policy = load().policy
    signer = TokenSigner(["bench-key-not-secret-0123456789-0123"])
    report: dict = {"rows": args.rows, "tools": {}}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        linked = add_links(frame, signer, "https://shop.example/m/{token}", issued_at=datetime.now(timezone.utc))
        report["sign_links_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        linked.to_csv(Path(folder) / "reference.csv", index=False)
        reference = time.perf_counter() - started
        report["reference_pandas_to_csv_seconds"] = round(reference, 2)
        for tool in exports.DIALECTS:
            started = time.perf_counter()
            result = exports.write(linked, tool, Path(folder) / f"{tool}.csv", as_of=AS_OF, policy=policy,
                                   field_ids=KLICKTIPP_IDS if tool == "klicktipp" else None)
            seconds = time.perf_counter() - started
            report["tools"][tool] = {"seconds": round(seconds, 2), "with_links_seconds": round(seconds + report["sign_links_seconds"], 2),
                                     "ratio_vs_to_csv": round(seconds / reference, 1), "rows": result.rows}
    save("export", report)


if __name__ == "__main__":
    main()
