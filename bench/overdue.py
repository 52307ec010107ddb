"""Benchmark `dunning overdue` against DuckDB on the same files, each timed as a whole process.

Every variant reads plans.csv and payments.csv, expands each plan into installments from its start
date, allocates payments oldest due first, keeps what is open past due as of the date, skips cancelled
orders and amounts under the minimum, and writes one row per order to CSV. The main reference
(overdue_reference.py running overdue_reference.sql) also does dunning's checks (rows that do not parse,
unknown statuses, order ids repeated with other data, payments repeated, future or in another currency
go to a rejects file; the output has dunning's columns) and writes the rows dunning's ledger stores
(orders, charges, observations, movements) into the same SQLite ledger; the same script without the
writing, and the simple query, stand beside it. Each variant runs --runs times in turn at every size;
the script checks that the outputs agree (orders and open amount per currency) and that both ledgers
hold the same rows, and reports min/median/max seconds, peak memory and the ratios of the medians.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from results import save  # noqa: E402
from generate import add_size_options, generate  # noqa: E402

from dunning.money import known_currencies  # noqa: E402
from dunning.journal.store import Store  # noqa: E402
from dunning.sources.parsing import EMAIL_PATTERN  # noqa: E402
from dunning.sources.profiles import STATUSES  # noqa: E402

REFERENCE = Path(__file__).parent / "overdue_reference.sql"
RECORDING = Path(__file__).parent / "overdue_reference.py"

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


VARIANTS = {  # name: what runs (each a whole process, start-up and imports included)
    "duckdb": "the simple query",
    "duckdb_validating": "the query with dunning's checks, rejects file and columns (overdue_reference.sql), recording nothing",
    "duckdb_recording": "the same, and the same ledger rows written into the same SQLite ledger (overdue_reference.py)",
    "dunning": "`dunning overdue` as a user runs it (the file's payments recorded in an empty ledger)",
    "dunning_again": "the same command once more, on the ledger the run before filled (nothing new to record)",
    "dunning_dry_run": "`dunning overdue --dry-run` (nothing recorded)",
    "dunning_with_links": "`dunning overdue` with links signed and the linked orders recorded",
    "dunning_export": "`dunning export --to generic` on an empty ledger: the same, links signed, the hand-over recorded",
}


def command_for(variant: str, plans: Path, payments: Path, as_of: date, out: Path) -> tuple[list[str], dict]:
    """The command line and environment of one variant's run, writing `out`."""
    env = dict(os.environ)
    env.pop("DUNNING_SECRET_KEYS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules cached, as on a user's machine
    ledger = out.with_suffix(".ledger.sqlite3")
    if variant == "dunning_again":
        ledger = out.with_name("dunning.ledger.sqlite3")
    else:
        for stale in out.parent.glob(ledger.name + "*"):
            stale.unlink()
        Store(f"sqlite:///{ledger}").engine.dispose()  # a ledger created before, empty: as after `dunning init`
    if variant.startswith("duckdb"):
        text = (REFERENCE.read_text("utf-8") if variant != "duckdb" else "SET enable_progress_bar = false;" + DUCKDB_QUERY)
        script = out.with_suffix(".sql")
        script.write_text(text.format(
            plans=plans, payments=payments, as_of=as_of.isoformat(), out=out, rejects=out.with_suffix(".rejects.csv"),
            currencies=", ".join(f"'{c}'" for c in sorted(known_currencies())), statuses=", ".join(f"'{s}'" for s in sorted(STATUSES)),
            email=EMAIL_PATTERN, origin=f"file:{payments.name}"), "utf-8")
        if variant == "duckdb_recording":
            return [sys.executable, str(RECORDING), str(script), str(ledger)], env
        return [sys.executable, "-c", "import duckdb, sys; duckdb.connect().execute(open(sys.argv[1]).read())", str(script)], env
    if variant in ("dunning_with_links", "dunning_export"):
        env["DUNNING_SECRET_KEYS"] = "bench-key-not-secret-0123456789-0123"
    env["DUNNING_DATABASE_URL"] = f"sqlite:///{ledger}"
    if variant == "dunning_export":
        return [sys.executable, "-m", "dunning", "export", str(plans), "--payments", str(payments), "--as-of", as_of.isoformat(),
                "--to", "generic", "-o", str(out), "--force"], env
    command = [sys.executable, "-m", "dunning", "overdue", str(plans), "--payments", str(payments),
               "--as-of", as_of.isoformat(), "--csv", str(out), "--force"]
    return command + (["--dry-run"] if variant == "dunning_dry_run" else []), env


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of one whole process, timed by a parent from start to exit."""
    script = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run([sys.executable, "-c", script, *command], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{result.stderr[-2000:]}")
    seconds, rss_kib = result.stdout.split()
    return float(seconds), int(rss_kib) / 1024


def agree(ours: Path, theirs: Path) -> dict:
    """Orders and open amount per currency in both outputs; raises if they differ."""
    totals = []
    for path in (ours, theirs):
        frame = pd.read_csv(path, dtype={"open_amount": str, "currency": str, "order_id": str})
        minor = frame["open_amount"].str.replace(".", "", regex=False).astype("int64")  # two decimals, or minor units
        totals.append(frame.assign(m=minor).groupby("currency").agg(orders=("order_id", "size"), open=("m", "sum")))
    if not totals[0].equals(totals[1]):
        raise SystemExit(f"results differ between {ours.name} and {theirs.name}:\n{totals[0]}\n{totals[1]}")
    return {c: {"orders": int(r.orders), "open_minor": int(r.open)} for c, r in totals[0].iterrows()}


def same_ledger(ours: Path, theirs: Path) -> dict:
    """Rows and amounts per ledger table in both ledgers; raises if they differ."""
    query = {"orders": "SELECT count(*), count(DISTINCT order_id), 0 FROM orders",
             "charges": "SELECT count(*), sum(amount), sum(shop_open) FROM charges",
             "movements": "SELECT count(*), sum(amount), count(DISTINCT order_key) FROM movements",
             "observations": "SELECT count(*), sum(amount), sum(status = 'counted') FROM observations"}
    found = []
    for path in (ours, theirs):
        with closing(sqlite3.connect(path)) as db:
            found.append({table: list(db.execute(sql).fetchone()) for table, sql in query.items()})
    if found[0] != found[1]:
        raise SystemExit(f"the ledgers differ between {ours.name} and {theirs.name}:\n{found[0]}\n{found[1]}")
    return {table: values[0] for table, values in found[0].items()}


def spread(values: list[float]) -> dict:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def measure(orders: int, installments: int, as_of: date, data: Path, runs: int) -> dict:
    """Every variant `runs` times in turn on one size; their spreads, the outputs checked to agree."""
    folder = data / f"{orders}x{installments}"
    plans, payments = folder / "plans.csv", folder / "payments.csv"
    if not plans.exists():
        print(f"generating {orders:,} orders x {installments} installments in {folder} ...", flush=True)
        generate(orders, installments, as_of, folder)
    results = folder / "results"
    results.mkdir(exist_ok=True)
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    peaks: dict[str, float] = {}
    for run in range(runs):
        for variant in VARIANTS:
            command, env = command_for(variant, plans, payments, as_of, results / f"{variant}.csv")
            took, peak = timed(command, env)
            seconds[variant].append(took)
            peaks[variant] = max(peaks.get(variant, 0), peak)
            print(f"  {orders:>9,} orders  run {run + 1}/{runs}  {variant:<20} {took:7.2f} s  {peak:6.0f} MiB", flush=True)
    totals = agree(results / "dunning.csv", results / "duckdb.csv")
    agree(results / "dunning_again.csv", results / "duckdb.csv")
    agree(results / "duckdb_validating.csv", results / "duckdb.csv")
    agree(results / "duckdb_recording.csv", results / "duckdb.csv")
    ledger_rows = same_ledger(results / "dunning.ledger.sqlite3", results / "duckdb_recording.ledger.sqlite3")
    median = {v: statistics.median(s) for v, s in seconds.items()}
    return {
        "orders": orders, "plan_rows": orders, "payment_rows": sum(1 for _ in payments.open()) - 1,
        "seconds": {v: spread(s) for v, s in seconds.items()}, "peak_mib": {v: round(p) for v, p in peaks.items()},
        "ratio_vs_duckdb_recording": round(median["dunning"] / median["duckdb_recording"], 2),
        "ratio_vs_duckdb_validating": round(median["dunning"] / median["duckdb_validating"], 2),
        "ratio_dry_run_vs_duckdb_validating": round(median["dunning_dry_run"] / median["duckdb_validating"], 2),
        "ratio_with_links_vs_duckdb_recording": round(median["dunning_with_links"] / median["duckdb_recording"], 2),
        "ratio_second_run_vs_first": round(median["dunning_again"] / median["dunning"], 2),
        "ratio_export_vs_overdue": round(median["dunning_export"] / median["dunning"], 2),
        "ratio_vs_duckdb_simple": round(median["dunning"] / median["duckdb"], 2),
        "agree_per_currency": totals, "ledger_rows": ledger_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_size_options(parser)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="order counts to run, comma-separated (linear growth shows across them); --orders runs one")
    parser.add_argument("--runs", type=int, default=3, help="runs of every variant per size (min/median/max reported)")
    parser.set_defaults(orders=None)
    args = parser.parse_args()
    sizes = [args.orders] if args.orders else [int(n) for n in args.sizes.split(",")]
    by_size = [measure(n, args.installments, args.as_of, args.data, args.runs) for n in sizes]
    largest = by_size[-1]
    save("overdue", {
        "variants": VARIANTS, "runs": args.runs, "sizes": by_size,
        "orders": largest["orders"],
        "ratio_vs_duckdb": largest["ratio_vs_duckdb_recording"],
        "ratio_vs_duckdb_not_recording": largest["ratio_vs_duckdb_validating"],
        "ratio_dry_run_vs_duckdb": largest["ratio_dry_run_vs_duckdb_validating"],
        "ratio_with_links_vs_duckdb": largest["ratio_with_links_vs_duckdb_recording"],
        "ratio_second_run_vs_first": largest["ratio_second_run_vs_first"],
        "ratio_export_vs_overdue": largest["ratio_export_vs_overdue"],
        "ratio_vs_duckdb_simple": largest["ratio_vs_duckdb_simple"],
        "dunning_peak_mib": largest["peak_mib"]["dunning"],
        "seconds_per_million_orders": {str(s["orders"]): round(s["seconds"]["dunning"]["median"] / s["orders"] * 1e6, 1) for s in by_size},
    })


if __name__ == "__main__":
    main()
