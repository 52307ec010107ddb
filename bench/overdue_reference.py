"""The reference `dunning overdue` is measured against, recording included: DuckDB runs overdue_reference.sql (the
checks, the rejects file, the CSV, and the ledger's rows), then the rows go into the same SQLite ledger dunning
writes (the schema a `Store` makes), in one transaction, through sqlite3's executemany as a competent user would.

Usage: overdue_reference.py SCRIPT LEDGER, where SCRIPT is overdue_reference.sql with its placeholders filled.
"""
from __future__ import annotations

import sqlite3
import sys

import duckdb

TABLES = {  # ledger table: its columns in the order the script builds them
    "orders": ["order_key", "order_id", "email", "first_name", "last_name", "language", "product_name", "currency", "status",
               "seen_on", "open_only", "details_digest", "view_digest", "updated_at"],
    "charges": ["order_key", "kind", "seq", "due_on", "amount", "shop_open"],
    "movements": ["id", "order_key", "kind", "amount", "currency", "occurred_on", "source", "origin", "covers_from", "reverses",
                  "made_by", "note", "recorded_at"],
    "observations": ["id", "source", "source_key", "origin", "order_id", "order_key", "kind", "amount", "currency", "occurred_on",
                     "reference", "status", "movement_id", "note", "recorded_at"],
}
CHUNK = 100_000


def main(script: str, ledger: str) -> None:
    source = duckdb.connect()
    source.execute(open(script, encoding="utf-8").read())
    target = sqlite3.connect(ledger)
    target.execute("PRAGMA synchronous=NORMAL")
    with target:  # one transaction
        for table, columns in TABLES.items():
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            result = source.execute(f"SELECT {', '.join(columns)} FROM ledger_{table}")
            while rows := result.fetchmany(CHUNK):
                target.executemany(insert, rows)
        target.execute("UPDATE ledger_version SET version = version + 1 WHERE id = 1")
    target.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
