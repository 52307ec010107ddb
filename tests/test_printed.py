"""Printable letters: a campaign on the `letters` channel writes one PDF per customer to the postal address the export
gives (DIN 5008 window, the shop's letterhead, the EPC QR code or the Swiss QR-bill), and one merged PDF to print; a
notice before a due date prints as the term's invoice. Each PDF is read back: its text with pypdf, its QR codes drawn by
pdfium and decoded by zxing."""
import email
import email.policy
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pypdf
import pypdfium2
import pytest
import zxingcpp

from dunning import config, postal
from dunning.sources import profiles
from dunning.sources.loader import read_orders
from tests.test_cycle import cli, send
from tests.test_law import workspace
from tests.test_letters import POLICY
from tests.test_merchant import client_for, signed_in

HEADER = ("order_id,customer_id,email,first_name,last_name,language,product_name,kind,payment_method,currency,status,start_date,"
          "interval,installments,installment_amount,first_payment_discount,end_date,company,address_line1,address_line2,"
          "postal_code,city,region,country")
PLANS = [
    "A-1,,ada@example.com,Ada,Lind,en,Yoga Course,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,100.00,,,,"
    "Hauptstraße 5,Hinterhaus,10115,Berlin,,DE",
    "A-2,,ada@example.com,Ada,Lind,en,Swiss Retreat,installment,bank_transfer,CHF,active,2026-11-02,1 month,1,50.00,,,,"
    "Hauptstraße 5,Hinterhaus,10115,Berlin,,Deutschland",
    "B-1,,bob@example.com,Bob,Marr,de,Matte,installment,bank_transfer,EUR,active,2026-11-03,1 month,1,30.00,,,Marr KG,"
    "Ringstraße 1,,1010,Wien,,AT",
    "N-1,,nora@example.com,Nora,Sand,en,Mat,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,20.00,,,,,,,,,",
    "S-1,,sam@example.com,Sam,Berg,nl,Yoga Box,subscription,bank_transfer,EUR,active,2026-12-20,1 month,,19.90,,,,"
    "Keizersgracht 1,,1015 CJ,Amsterdam,,NL",
]
SHOP = """[shop]
name = "Yoga Shop"
contact = "billing@shop.example"
address = "Yoga Shop GmbH, Musterstraße 1, 10115 Berlin, HRB 12345, USt-IdNr. DE123456789"
postal_address = ["Yoga Shop GmbH", "Musterstraße 1", "10115 Berlin"]
country = "DE"
fallback_language = "en"
"""
PAYMENT = """beneficiary = "Yoga Shop GmbH"
iban = "DE89 3704 0044 0532 0130 00"
bic = "COBADEFFXXX"
[payment.accounts.CHF]
iban = "CH93 0076 2011 6238 5295 7"
beneficiary = "Yoga Shop AG"
street = "Bahnhofstrasse"
house_number = "1"
postal_code = "8001"
city = "Zürich"
"""


@pytest.fixture
def shop(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    root = workspace(tmp_path, POLICY, PLANS, HEADER)
    settings = root / "dunning.toml"
    text = settings.read_text("utf-8")
    start, end = text.index("[shop]"), text.index("[input]")
    text = text.replace("[payment]\n", "[payment]\n" + PAYMENT.split("[payment.accounts.CHF]")[0])
    settings.write_text(text[:start] + SHOP + "\n" + text[end:] + "\n[payment.accounts.CHF]" + PAYMENT.split("[payment.accounts.CHF]")[1],
                        "utf-8")
    return root


def letters_campaign(root: Path, name: str, stage: str, extra: str = "", channel: str = "letters") -> None:
    """campaigns/<name>.toml over plans.csv: letters into post/<name>/ (`extra` in [letters]), or an e-mail channel's
    (`extra` at the top)."""
    table = f'[letters]\nfolder = "post"\n{extra}' if channel == "letters" else ""
    (root / "campaigns" / f"{name}.toml").write_text(
        f'stage = "{stage}"\nchannel = "{channel}"\n{"" if table else extra}[input]\nfile = "../plans.csv"\n'
        f'[sender]\nfrom = "Yoga Shop <billing@shop.example>"\n{table}', "utf-8")


def text_of(path: Path) -> list[str]:
    """Each page's text, as a reader gets it from the PDF."""
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def in_mm(path: Path, left: float, top: float, right: float, bottom: float) -> str:
    """The first page's text inside a rectangle measured in mm from the sheet's top left corner."""
    page = pypdfium2.PdfDocument(str(path))[0]
    height, points = page.get_height(), 72 / 25.4
    return page.get_textpage().get_text_bounded(left=left * points, bottom=height - bottom * points,
                                                right=right * points, top=height - top * points)


def codes_of(path: Path) -> list[str]:
    """Every QR code on the PDF's pages, decoded from the pages drawn at 300 dpi."""
    document = pypdfium2.PdfDocument(str(path))
    found = []
    for page in document:
        image = page.render(scale=300 / 72).to_pil()
        found += [code.text for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]
    return found


def test_a_letter_per_customer_with_its_address_payment_codes_and_one_file_to_print(shop):
    letters_campaign(shop, "nov-post", "friendly")
    prepared = json.loads(cli("campaign", "prepare", "nov-post", "--as-of", "2026-11-10", "--json").stdout)
    assert prepared["prepared"] == 3  # Ada's two orders and Bob's; Nora has no postal address
    assert prepared["unreachable"] == [{"order_id": "N-1", "reason": "no postal address (street and city), and the channel "
                                                                     "letters sends letters"}]
    report = json.loads(cli("campaign", "send", "nov-post", "--send", "--as-of", "2026-11-12", "--json").stdout)
    assert report["sent"] == 2 and report["failed"] == 0  # one letter for Ada's two orders, one for Bob

    folder = shop / "post" / "nov-post"
    [ada] = folder.glob("A-1.*.pdf")
    [bob] = folder.glob("B-1.*.pdf")
    pages = text_of(ada)
    first = pages[0]
    # the window: the shop's return line, then the customer at home in Germany (no country line)
    assert "Yoga Shop GmbH · Musterstraße 1 · 10115 Berlin\nAda Lind" in first
    assert "Ada Lind\nHauptstraße 5\nHinterhaus\n10115 BERLIN" in first and "GERMANY" not in first
    # DIN 5008 form B, as a C5/6 or DL window shows it: the sender's line in the top 17.7 mm of the field 45 mm down and
    # 20 mm in, the address in the 27.3 mm below it, and nothing else of the letter there
    assert in_mm(ada, 20, 45, 105, 62.7).split() == "Yoga Shop GmbH · Musterstraße 1 · 10115 Berlin".split()
    assert in_mm(ada, 20, 62.7, 105, 90).split() == "Ada Lind Hauptstraße 5 Hinterhaus 10115 BERLIN".split()
    assert "November 12, 2026" in first  # the day it went out
    assert "Friendly reminder: payments for your orders" in first
    assert "Order A-1 (Yoga Course): €100.00" in first and "Order A-2 (Swiss Retreat): CHF50.00" in first
    assert "Altogether: €102.50 and CHF50.00." in first
    assert "Write to billing@shop.example" in "".join(pages) and "e-mail" not in "".join(pages)  # a letter, not a mail
    assert "IBAN DE89 3704 0044 0532 0130 00" in first and "BIC COBADEFFXXX" in first
    assert "Yoga Shop GmbH, Musterstraße 1, 10115 Berlin, HRB 12345" in first  # the legal line at the foot
    assert "Payment part" not in first and "Payment part" in pages[-1]  # the QR-bill on a page of its own
    assert "CHF50.00" in pages[-1].replace(" ", "") and "AdaLind" in pages[-1].replace(" ", "")  # made out to Ada
    codes = codes_of(ada)
    epc = [c for c in codes if c.startswith("BCD")]
    swiss = [c for c in codes if c.startswith("SPC")]
    assert len(epc) == 1 and len(swiss) == 1
    lines = epc[0].split("\n")
    assert lines[5:8] == ["Yoga Shop GmbH", "DE89370400440532013000", "EUR102.5"]  # the open amount with the fee
    assert lines[9].startswith("RF") and lines[9][4:].startswith("A1")
    swiss_lines = swiss[0].replace("\r\n", "\n").split("\n")
    assert swiss_lines[3] == "CH9300762011623852957" and "50.00" in swiss_lines and "CHF" in swiss_lines

    bob_text = text_of(bob)[0]  # abroad: the country's line last, in capitals; German, the stage's own message
    assert "Marr KG" in bob_text and "Bob Marr" in bob_text and "Marr KG\nBob Marr\nRingstraße 1\n1010 WIEN\nAUSTRIA" in bob_text
    assert "Freundliche Erinnerung" in bob_text or "Erinnerung" in bob_text
    assert "Schreiben Sie an billing@shop.example" in bob_text and "Datum 12. November 2026" in bob_text
    assert [c.split("\n")[7] for c in codes_of(bob)] == ["EUR32.5"]

    # one file to print: every letter of the run, each starting on a fresh sheet when printed on both sides
    [merged] = folder.glob("print-*.pdf")
    assert merged.name == "print-001.pdf"
    counts = [len(pypdf.PdfReader(p).pages) for p in (ada, bob)]
    assert len(pypdf.PdfReader(merged).pages) == sum(n + n % 2 for n in counts)
    printed = text_of(merged)
    assert "Ada Lind" in printed[0] and any("Bob Marr" in page for page in printed)

    # sent like any reminder: the fee charged once on the letter's order; a rerun prints nothing again
    assert json.loads(cli("order", "A-1", "--as-of", "2026-11-12", "--json").stdout)["balance"]["fees_open"] == "2.50"
    assert json.loads(cli("order", "A-2", "--as-of", "2026-11-12", "--json").stdout)["balance"]["fees_open"] == "0.00"
    assert json.loads(cli("campaign", "send", "nov-post", "--send", "--as-of", "2026-11-12", "--json").stdout)["sent"] == 0
    assert [p.name for p in folder.glob("print-*.pdf")] == ["print-001.pdf"]


def test_a_notice_before_the_due_date_prints_as_the_terms_invoice(shop):
    letters_campaign(shop, "term", "upcoming", "duplex = false\n")
    cli("campaign", "prepare", "term", "--as-of", "2026-12-14")
    report = json.loads(cli("campaign", "send", "term", "--send", "--as-of", "2026-12-14", "--json").stdout)
    assert report["sent"] == 1
    [invoice] = (shop / "post" / "term").glob("S-1.*.pdf")
    pages = text_of(invoice)
    text = pages[0]
    assert [("Overschrijving" in page, "Kenmerk RF" in page) for page in pages].count((True, True)) == 1  # never split
    assert "Factuur S-1-20261220" in text and "Factuurnummer S-1-20261220" in text
    assert "Sam Berg\nKeizersgracht 1\n1015 CJ AMSTERDAM\nNETHERLANDS" in text
    assert "Yoga Box" in text and "20 december 2026" in text and "€ 19,90" in text
    assert [c.split("\n")[7] for c in codes_of(invoice)] == ["EUR19.9"]


def test_letters_need_the_shops_postal_address(shop):
    settings = shop / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace('postal_address = ["Yoga Shop GmbH", "Musterstraße 1", "10115 Berlin"]\n', ""),
                        "utf-8")
    letters_campaign(shop, "nov-post", "friendly")
    cli("campaign", "prepare", "nov-post", "--as-of", "2026-11-10")
    result = cli("campaign", "send", "nov-post", "--send", "--as-of", "2026-11-12", code=2)
    assert "[shop] postal_address" in result.output and "Traceback" not in result.output


def test_addresses_are_read_from_the_exports_and_formatted_per_country():
    woo = read_orders(Path(__file__).parent / "data" / "samples" / "woocommerce_subscriptions.csv",
                      profiles.load("woocommerce_subscriptions"))
    first = woo.orders.iloc[0]
    assert (first["company"], first["address_line1"], first["postal_code"], first["city"], first["region"], first["country"]) == (
        "Prospress Inc.", "969 Market", "94103", "San Francisco", "CA", "US")
    stored = postal.stored(woo.orders)
    assert (stored != "").all()
    assert postal.lines(stored.iloc[0], "George Washington", "DE") == [
        "George Washington", "Prospress Inc.", "969 Market", "SAN FRANCISCO, CA 94103", "UNITED STATES"]
    assert postal.lines(stored.iloc[0], "George Washington", "US")[-1] == "SAN FRANCISCO, CA 94103"  # at home

    codes, unknown = postal.country_codes(pd.Series(["de", "Deutschland", "Allemagne", "Duitsland", "Germany", "", "Atlantis",
                                                     "EU", "ZZ"]))  # babel's regions that are no country are none
    assert codes.tolist()[:6] == ["DE"] * 5 + [""] and unknown.tolist() == [False] * 6 + [True] * 3


def test_a_country_that_is_no_country_is_rejected_with_its_row(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,email,currency,open_amount,due_date,address_line1,city,country\n"
                    "1,a@example.com,EUR,10.00,2026-11-01,Main St 1,Berlin,Atlantis\n"
                    "2,b@example.com,EUR,10.00,2026-11-01,Main St 2,Paris,France\n", "utf-8")
    export = read_orders(path, profiles.load("generic"))
    assert export.orders["country"].tolist() == ["FR"]
    [reject] = export.rejects.to_dict("records")
    assert (reject["row"], reject["column"], reject["value"]) == (2, "country", "Atlantis")
    assert "not a country" in reject["reason"]


def test_a_notice_by_e_mail_carries_the_terms_invoice(shop):
    letters_campaign(shop, "term-mail", "upcoming", "attach_invoice = true\n", channel="outbox")
    assert send("term-mail", "2026-12-14")["sent"] == 1
    [path] = (shop / "outbox" / "term-mail").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert "Beantwoord deze e-mail" in message.get_body(("plain",)).get_content()  # an e-mail speaks as one
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invoice-S-1-20261220.pdf" and attachment.get_content_type() == "application/pdf"
    pdf = path.with_suffix(".pdf")
    pdf.write_bytes(attachment.get_content())
    text = "".join(text_of(pdf))
    assert "Factuur S-1-20261220" in text and "Sam Berg" in text and "Te betalen" in text
    assert "Beste Sam" not in text  # the invoice alone: the message is the e-mail's
    assert [c.split("\n")[7] for c in codes_of(pdf)] == ["EUR19.9"]


def dashboard(shop: Path, today: date, signed: bool = True):
    """A browser on the merchant's dashboard of this workspace, signed in."""
    settings = config.load(cwd=shop)
    client = client_for(settings, settings.store(), today=today)
    if signed:
        signed_in(client)
    return client


def test_the_dashboard_offers_the_files_to_print(shop):
    letters_campaign(shop, "nov-post", "friendly")
    cli("campaign", "prepare", "nov-post", "--as-of", "2026-11-10")
    cli("campaign", "send", "nov-post", "--send", "--as-of", "2026-11-12")
    assert dashboard(shop, date(2026, 11, 12), signed=False).get("/merchant/letters/nov-post/print-001.pdf").status_code == 302
    client = dashboard(shop, date(2026, 11, 12))
    page = client.get("/merchant/?lang=de").get_data(as_text=True)
    assert "Briefe zum Drucken" in page and 'href="/merchant/letters/nov-post/print-001.pdf"' in page
    answer = client.get("/merchant/letters/nov-post/print-001.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("attachment") and "nov-post-print-001.pdf" in answer.headers["Content-Disposition"]
    assert answer.data == (shop / "post" / "nov-post" / "print-001.pdf").read_bytes()
    for wrong in ("/merchant/letters/nov-post/A-1.1.pdf", "/merchant/letters/nov-post/print-002.pdf",
                  "/merchant/letters/other/print-001.pdf", "/merchant/letters/nov-post/..%2Fdunning.toml"):
        assert client.get(wrong).status_code == 404, wrong


def test_the_last_e_mail_as_a_copy_to_post_asks_what_is_open_that_day(shop):
    letters_campaign(shop, "nov-mail", "friendly", channel="outbox")
    assert send("nov-mail", "2026-11-10")["sent"] == 3
    (shop / "paid.csv").write_text("order_id,paid_at,amount,payment_id\nA-1,2026-11-12,40.00,p-1\n", "utf-8")
    cli("track", "payments", "paid.csv", "--as-of", "2026-11-12")
    before = json.loads(cli("order", "A-1", "--as-of", "2026-11-15", "--json").stdout)

    made = json.loads(cli("letter", "A-2", "--as-of", "2026-11-15", "--json").stdout)  # A-2 rode in Ada's letter
    assert made["stage"] == "friendly" and made["sent_on"] == "2026-11-10"
    path = Path(made["file"])
    assert path.parent == shop / "exports" and path.name.startswith("letter-A-2-")
    text = "".join(text_of(path))
    assert "Copy of our message of November 10, 2026" in text and "Date November 15, 2026" in text
    assert "Order A-1 (Yoga Course): €100.00" in text and "Order A-2 (Swiss Retreat): CHF50.00" in text  # as it was sent
    codes = codes_of(path)
    assert [c.split("\n")[7] for c in codes if c.startswith("BCD")] == ["EUR62.5"]  # 100 + 2.50 fee - 40 paid since
    assert any(c.startswith("SPC") and "50.00" in c for c in codes)
    assert json.loads(cli("order", "A-1", "--as-of", "2026-11-15", "--json").stdout) == before  # a copy records nothing

    nora = cli("letter", "N-1", "--as-of", "2026-11-15", code=2)  # Nora's message had no postal address
    assert "without a postal address" in nora.output
    assert "no message" in cli("letter", "S-1", "--as-of", "2026-11-15", code=2).output
    cli("letter", "A-2", "--as-of", "2026-11-15", "-o", str(path), code=2)  # never replaces a file silently
    cli("letter", "A-2", "--as-of", "2026-11-15", "-o", str(path), "--force")

    client = dashboard(shop, date(2026, 11, 15))
    assert 'href="/merchant/copies/A-1"' in client.get("/merchant/orders/A-1").get_data(as_text=True)
    answer = client.get("/merchant/copies/A-1")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf" and answer.data.startswith(b"%PDF")
    assert client.get("/merchant/copies/S-1").status_code == 404


def test_a_transfer_in_another_currency_gets_the_bank_details_and_what_customers_typed_stays_text():
    from dunning import bank
    from dunning.channels import printed
    from dunning.channels import Outgoing

    letterhead = printed.Letterhead("Shop", ("Shop Ltd", "1 High Street", "London EC1A 1BB"), "billing@shop.example",
                                    'Shop Ltd "</style><script>"', "GB")
    accounts = {"GBP": bank.Account("Shop Ltd", "GB29NWBK60161331926819", "NWBKGB2L")}
    message = Outgoing(reminder_id=1, order_id="G-1", to="eve@example.com", to_name="<b>Eve</b> Smith", subject="Reminder",
                       text="Hello <Eve>,\n\nplease pay.", html="", sender="", amount=4200, currency="GBP", order_key=3,
                       postal_address=json.dumps({"address_line1": "2 Low Road", "postal_code": "SW1A 1AA",
                                                  "city": "London", "country": "GB"}), dated=date(2026, 11, 12))
    page = printed.html(message, letterhead, accounts)
    assert "GB29 NWBK 6016 1331 9268 19" in page and "£42.00" in page and "<svg" not in page  # no EPC code for pounds
    assert "&lt;b&gt;Eve&lt;/b&gt; Smith" in page and "Hello &lt;Eve&gt;," in page and "<script>" not in page
    assert "LONDON\nSW1A 1AA" in "\n".join(postal.lines(message.postal_address, "Eve Smith", "GB"))  # at home: no country


def test_a_cancellation_by_post_asks_for_nothing(shop):
    letters_campaign(shop, "nov-post", "friendly")
    assert send("nov-post", "2026-11-10")["sent"] == 2
    cli("actions", "decide", "B-1", "--as", "cancelled", "--as-of", "2026-11-25")
    letters_campaign(shop, "gone", "cancellation")
    assert send("gone", "2026-11-26")["sent"] == 1
    [notice] = (shop / "post" / "gone").glob("B-1.*.pdf")
    text = "".join(text_of(notice))
    assert "Bob Marr" in text and "storniert" in text
    assert "IBAN" not in text and codes_of(notice) == []  # nothing is owed: no bank details, no code to pay
    copy = Path(json.loads(cli("letter", "B-1", "--as-of", "2026-11-30", "--json").stdout)["file"])
    assert "storniert" in "".join(text_of(copy)) and codes_of(copy) == []
