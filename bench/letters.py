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

from dunning import bank
from dunning.channels import printed
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


def spread(values: list[float]) -> dict:
    """min, median and max of a few runs, in seconds."""
    ordered = sorted(values)
    return {"min": round(ordered[0], 3), "median": round(ordered[len(ordered) // 2], 3), "max": round(ordered[-1], 3)}


def through_weasyprint(documents: list[str]) -> tuple[float, int]:
    """WeasyPrint alone drawing the documents: seconds, pages."""
    started = time.perf_counter()
    pages = sum(len(pypdf.PdfReader(io.BytesIO(HTML(string=d).write_pdf())).pages) for d in documents)
    return time.perf_counter() - started, pages


def through_the_channel(batch: list[Outgoing]) -> tuple[float, int]:
    """The letters channel printing the batch and merging it to print (its QR codes drawn afresh): seconds, pages."""
    bank.epc_qr_svg.cache_clear()
    bank.swiss_qr_bill_svg.cache_clear()
    with tempfile.TemporaryDirectory() as folder:
        channel = LettersChannel(Path(folder), LETTERHEAD, ACCOUNTS, duplex=False)
        started = time.perf_counter()
        for message in batch:
            channel.send(message)
        channel.close()
        seconds = time.perf_counter() - started
        return seconds, len(pypdf.PdfReader(channel.printed).pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    batch = messages(args.letters)
    documents = [printed.html(m, LETTERHEAD, ACCOUNTS) for m in batch]  # the reference's input, built untimed
    mine, reference, ratios = [], [], []
    for _ in range(args.runs):  # in turns, so that the machine's moods fall on both alike
        (theirs, reference_pages), (ours, pages) = through_weasyprint(documents), through_the_channel(batch)
        if pages != reference_pages:
            sys.exit(f"the merged file has {pages} pages, WeasyPrint alone drew {reference_pages}")
        mine.append(ours)
        reference.append(theirs)
        ratios.append(ours / theirs)
    save("letters", {"letters": args.letters, "pages": pages, "runs": args.runs, "dunning_seconds": spread(mine),
                     "weasyprint_seconds": spread(reference), "letters_per_second": round(args.letters / spread(mine)["median"], 1),
                     "ratio_vs_weasyprint": round(sorted(ratios)[len(ratios) // 2], 3)})


if __name__ == "__main__":
    main()
