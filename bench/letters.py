"""Benchmark the letters channel: printing reminders as PDF letters (one per customer, EPC QR codes and Swiss QR-bills)
and merging the run's letters into one file to print.

The reference is WeasyPrint alone drawing the very same HTML documents, built beforehand: what is left over is dunning's
own work (each letter's HTML, its QR codes and addresses, writing the files, the merged file). The script checks that
both made the same number of pages, then prints the times and their ratio.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pypdf
from weasyprint import HTML

from dunning import bank, printed
from dunning.channels import Outgoing
from dunning.channels.letters import LettersChannel
from results import save

LETTERHEAD = printed.Letterhead("Yoga Shop", ("Yoga Shop GmbH", "Musterstraße 1", "10115 Berlin"), "billing@shop.example",
                                "Yoga Shop GmbH, Musterstraße 1, 10115 Berlin, HRB 12345", "DE")
ACCOUNTS = {"EUR": bank.Account("Yoga Shop GmbH", "DE89370400440532013000", "COBADEFFXXX"),
            "CHF": bank.Account("Yoga Shop AG", "CH9300762011623852957", "", (("street", "Bahnhofstrasse"), ("house_number", "1"),
                                                                               ("postal_code", "8001"), ("city", "Zürich")))}
TEXT = ("Hello {name},\n\nThank you for your order {order} (Yoga Course). We have not yet received your payment of "
        "{amount}, due on Nov 1, 2026; perhaps it simply slipped through.\n\nHere you can see your order and pay what is "
        "open:\n\nhttps://shop.example/m/{order}.abcdefghijklmnopqrstuvwxyz0123456789\n\nThe link is personal and valid "
        "until Jan 19, 2027.\n\nIf you have already paid, please disregard this message.\n\nKind regards,\nYoga Shop")


def messages(count: int) -> list[Outgoing]:
    """Letters to customers in Germany, Austria and Switzerland; every fifth paid into the Swiss account."""
    countries = [("DE", "10115", "Berlin"), ("AT", "1010", "Wien"), ("CH", "8001", "Zürich")]
    made = []
    for n in range(count):
        country, code, city = countries[n % 3]
        currency = "CHF" if n % 5 == 0 else "EUR"
        address = json.dumps({"address_line1": f"Hauptstraße {n + 1}", "postal_code": code, "city": city, "country": country})
        made.append(Outgoing(reminder_id=n + 1, order_id=f"A-{n:05d}", to=f"c{n}@example.com", to_name=f"Customer {n}",
                             subject="Friendly reminder: your payment for Yoga Course", text=TEXT.format(
                                 name=f"Customer {n}", order=f"A-{n:05d}", amount=f"{currency} {25 + n % 50}.00"),
                             html="", sender="", amount=2500 + 100 * (n % 50), currency=currency, order_key=n + 1,
                             postal_address=address, dated=date(2026, 11, 12)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=200)
    args = parser.parse_args()
    batch = messages(args.letters)
    documents = [printed.html(m, LETTERHEAD, ACCOUNTS) for m in batch]  # the reference's input, built untimed

    started = time.perf_counter()
    reference_pages = sum(len(pypdf.PdfReader(io.BytesIO(HTML(string=d).write_pdf())).pages) for d in documents)
    reference = time.perf_counter() - started

    bank.epc_qr_svg.cache_clear()
    bank.swiss_qr_bill_svg.cache_clear()
    with tempfile.TemporaryDirectory() as folder:
        channel = LettersChannel(Path(folder), LETTERHEAD, ACCOUNTS, duplex=False)
        started = time.perf_counter()
        for message in batch:
            channel.send(message)
        channel.close()
        dunning = time.perf_counter() - started
        pages = len(pypdf.PdfReader(channel.printed).pages)
    if pages != reference_pages:
        sys.exit(f"the merged file has {pages} pages, WeasyPrint alone drew {reference_pages}")
    save("letters", {"letters": args.letters, "pages": pages, "dunning_seconds": round(dunning, 3),
                     "weasyprint_seconds": round(reference, 3), "letters_per_second": round(args.letters / dunning, 1),
                     "ratio_vs_weasyprint": round(dunning / reference, 3)})


if __name__ == "__main__":
    main()
