"""Benchmark `dunning overdue` against DuckDB running the same overdue query on the same files.

Both read plans.csv and payments.csv, expand each plan into installments from its start date,
allocate payments oldest due first, keep what is open past due as of the date, skip cancelled
orders and amounts under the minimum, and write one row per order to CSV. The script checks that
both agree (orders and open amount per currency), then prints the times, the ratio and peak memory.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from results import save  # noqa: E402
from generate import add_size_options, generate  # noqa: E402

DUCKDB_QUERY = """
COPY (
WITH plans AS (
    SELECT order_id, email, first_name, last_name, currency, status,
           CAST(start_date AS DATE) AS start_date,
           CAST(split_part(interval, ' ', 1) AS INTEGER) AS months,
           CAST(installments AS INTEGER) AS installments,
           CAST(round(CAST(installment_amount AS DECIMAL(18, 2)) * 100) AS BIGINT) AS amount
    FROM read_csv('{plans}', all_varchar = true, header = true)
),
receivables AS (
    SELECT p.order_id, k, CAST(p.start_date + to_months(k * p.months) AS DATE) AS due_date, p.amount
    FROM plans p, generate_series(0, p.installments - 1) AS g(k)
),
paid AS (
    SELECT order_id, SUM(CAST(round(CAST(amount AS DECIMAL(18, 2)) * 100) AS BIGINT)) AS paid
    FROM read_csv('{payments}', all_varchar = true, header = true)
    WHERE CAST(paid_at AS DATE) <= DATE '{as_of}'
    GROUP BY order_id
),
allocated AS (
    SELECT r.order_id, r.due_date, r.amount, coalesce(paid.paid, 0) AS paid,
           SUM(r.amount) OVER (PARTITION BY r.order_id ORDER BY r.due_date, r.k) - r.amount AS before
    FROM receivables r LEFT JOIN paid USING (order_id)
),
open_items AS (
    SELECT order_id, due_date, amount - least(greatest(paid - before, 0), amount) AS open_amount
    FROM allocated
),
per_order AS (
    SELECT order_id, SUM(open_amount) AS open_amount, MIN(due_date) AS oldest_due_date, COUNT(*) AS open_installments
    FROM open_items WHERE open_amount > 0 AND due_date < DATE '{as_of}'
    GROUP BY order_id
)
SELECT p.order_id, p.email, p.first_name, p.last_name, p.currency, o.open_amount, o.oldest_due_date,
       DATE '{as_of}' - o.oldest_due_date AS days_overdue, o.open_installments,
       CASE WHEN DATE '{as_of}' - o.oldest_due_date >= 21 THEN 'final'
            WHEN DATE '{as_of}' - o.oldest_due_date >= 10 THEN 'second'
            WHEN DATE '{as_of}' - o.oldest_due_date >= 3 THEN 'friendly' ELSE '' END AS stage
FROM per_order o JOIN plans p USING (order_id)
WHERE p.status <> 'cancelled' AND o.open_amount >= 100
ORDER BY days_overdue DESC, p.order_id
) TO '{out}' (HEADER, DELIMITER ',')
"""


def run_dunning(plans: Path, payments: Path, as_of: date, out: Path, with_links: bool) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of one `dunning overdue` run in a child process, as a user runs it
    (the payments and the orders handed a link recorded), each run in a ledger of its own."""
    env = dict(os.environ)
    env.pop("DUNNING_SECRET_KEYS", None)
    if with_links:
        env["DUNNING_SECRET_KEYS"] = "bench-key-not-secret-0123456789-0123"
    ledger = out.with_suffix(".ledger.sqlite3")
    for stale in out.parent.glob(ledger.name + "*"):
        stale.unlink()
    env["DUNNING_DATABASE_URL"] = f"sqlite:///{ledger}"
    command = [sys.executable, "-m", "dunning", "overdue", str(plans), "--payments", str(payments),
               "--as-of", as_of.isoformat(), "--csv", str(out), "--force"]
    script = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    seconds, rss_kib = _child([sys.executable, "-c", script, *command], env)
    return float(seconds), int(rss_kib) / 1024


def run_duckdb(plans: Path, payments: Path, as_of: date, out: Path) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of the same query in DuckDB, in a child process."""
    query = DUCKDB_QUERY.format(plans=plans, payments=payments, as_of=as_of.isoformat(), out=out)
    script = (
        "import duckdb, resource, sys, time; duckdb.sql('SET enable_progress_bar = false'); "
        "t = time.perf_counter(); duckdb.sql(sys.argv[1]); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    seconds, rss_kib = _child([sys.executable, "-c", script, query], dict(os.environ))
    return float(seconds), int(rss_kib) / 1024


def _child(command: list[str], env: dict) -> list[str]:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{result.stderr[-2000:]}")
    return result.stdout.split()


def agree(ours: Path, theirs: Path) -> dict:
    """Orders and open amount per currency in both outputs; raises if they differ."""
    a = pd.read_csv(ours, dtype={"open_amount": str})
    b = pd.read_csv(theirs)
    a_minor = a["open_amount"].str.replace(".", "", regex=False).astype("int64")
    mine = a.assign(m=a_minor).groupby("currency").agg(orders=("order_id", "size"), open=("m", "sum"))
    ref = b.groupby("currency").agg(orders=("order_id", "size"), open=("open_amount", "sum"))
    if not mine.equals(ref.astype(mine.dtypes.to_dict())):
        raise SystemExit(f"results differ:\n{mine}\n{ref}")
    return {c: {"orders": int(r.orders), "open_minor": int(r.open)} for c, r in mine.iterrows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_size_options(parser)
    args = parser.parse_args()
    folder = args.data / f"{args.orders}x{args.installments}"
    plans, payments = folder / "plans.csv", folder / "payments.csv"
    if not plans.exists():
        print(f"generating {args.orders:,} orders x {args.installments} installments in {folder} ...", flush=True)
        generate(args.orders, args.installments, args.as_of, folder)
    results = folder / "results"
    results.mkdir(exist_ok=True)
    duck_s, duck_mb = run_duckdb(plans, payments, args.as_of, results / "duckdb.csv")
    ours_s, ours_mb = run_dunning(plans, payments, args.as_of, results / "dunning.csv", with_links=False)
    linked_s, linked_mb = run_dunning(plans, payments, args.as_of, results / "dunning-links.csv", with_links=True)
    totals = agree(results / "dunning.csv", results / "duckdb.csv")
    report = {
        "orders": args.orders, "installments": args.installments,
        "plan_rows": sum(1 for _ in plans.open()) - 1, "payment_rows": sum(1 for _ in payments.open()) - 1,
        "duckdb_seconds": round(duck_s, 2), "duckdb_peak_mib": round(duck_mb),
        "dunning_seconds": round(ours_s, 2), "dunning_peak_mib": round(ours_mb),
        "ratio_vs_duckdb": round(ours_s / duck_s, 2),
        "dunning_with_links_seconds": round(linked_s, 2), "dunning_with_links_peak_mib": round(linked_mb),
        "ratio_with_links_vs_duckdb": round(linked_s / duck_s, 2),
        "agree_per_currency": totals,
    }
    save("overdue", report)


if __name__ == "__main__":
    main()
