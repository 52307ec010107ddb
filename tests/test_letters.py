"""One customer, one letter: a customer's orders due for the same stage go out as one message listing each order with
its own link and what is open per currency; one fee per letter; each order keeps its reminder, its link and its page.
Through the CLI, the outbox and a real SMTP server."""
import email
import email.policy
import json
import csv
import re
from datetime import date
from pathlib import Path

import pytest

from dunning import exports
from tests.test_cycle import campaign, cli, manage_page, sent
from tests.mailchimp_server import FakeMailchimp
from tests.test_law import workspace
from tests.test_smtp import smtp_server  # noqa: F401  (a real SMTP server on loopback)

MAILCHIMP_KEY = "0123456789abcdef-us21"
HEADER = ("order_id,customer_id,email,first_name,last_name,language,product_name,kind,payment_method,currency,status,start_date,"
          "interval,installments,installment_amount,first_payment_discount,end_date")
PLANS = [
    "A-1,,ada@example.com,Ada,Lind,en,Yoga Course,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,100.00,,",
    "A-2,,Ada@Example.com,Ada,Lind,en,Swiss Retreat,installment,bank_transfer,CHF,active,2026-11-02,1 month,1,50.00,,",
    "B-1,,bob@example.com,Bob,Marr,en,Mat,installment,bank_transfer,EUR,active,2026-11-03,1 month,1,30.00,,",
    "C-1,c-77,cleo@example.com,Cleo,Fox,de,Kurs,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,40.00,,",
    "C-2,c-77,cleo.fox@example.org,Cleo,Fox,de,Buch,installment,bank_transfer,EUR,active,2026-11-02,1 month,1,20.00,,",
    "D-1,d-1,dan@example.com,Dan,Ray,en,Course,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,10.00,,",
    "D-2,d-2,dan@example.com,Dana,Ray,en,Book,installment,bank_transfer,EUR,active,2026-11-01,1 month,1,15.00,,",
    "E-1,,eve@example.com,Eve,Sand,en,Course,installment,bank_transfer,EUR,active,2026-12-01,1 month,1,60.00,,",
    "E-2,,eve@example.com,Eve,Sand,en,Book,installment,bank_transfer,EUR,active,2026-12-02,1 month,1,25.00,,",
]
POLICY = """[policy]
grace_days = 0
cooldown_days = 7
[[policy.stages]]
name = "upcoming"
days = -7
[[policy.stages]]
name = "friendly"
label = "Friendly reminder"
days = 3
fee = { EUR = "2.50", CHF = "3.00" }
[[policy.stages]]
name = "final"
label = "Final notice"
days = 20
"""


@pytest.fixture
def shop(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    return workspace(tmp_path, POLICY, PLANS, HEADER)


def to(message: email.message.EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec.lower()


@pytest.mark.parametrize("channel", ["outbox", "smtp"])
def test_one_letter_for_a_customers_orders_in_two_currencies(shop, channel, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    campaign(shop, "nov", "friendly", channel, port, paid=False)
    cli("campaign", "prepare", "nov", "--as-of", "2026-11-10")
    shown = json.loads(cli("campaign", "preview", "nov", "--json").stdout)
    assert len(shown) == 5 and all(m["text"] for m in shown)  # the preview shows each letter once
    report = json.loads(cli("campaign", "send", "nov", "--send", "--as-of", "2026-11-10", "--json").stdout)
    assert report["sent"] == 5  # Ada's letter, Bob, Cleo's letter (one customer id, two addresses), Dan and Dana apart
    every = sent(shop, "nov", channel, recorder)
    assert sorted(to(m) for m in every) == ["ada@example.com", "bob@example.com", "cleo@example.com", "dan@example.com",
                                            "dan@example.com"]  # Dan and Dana share an address, not a customer id
    got = {to(m): m for m in every}

    letter = got["ada@example.com"]
    assert letter["Subject"] == "Friendly reminder: payments for your orders"
    text = letter.get_body(("plain",)).get_content()
    assert "- Order A-1 (Yoga Course): €100.00, due on Nov 1, 2026" in text
    assert "- Order A-2 (Swiss Retreat): CHF50.00, due on Nov 2, 2026" in text
    assert "Altogether: €102.50 and CHF50.00." in text  # one fee, on the letter's first order
    assert "Reminder fees of €2.50 apply." in text
    links = re.findall(r"https://\S+/m/\S+", text)
    assert len(links) == 2
    html = letter.get_body(("html",)).get_content()
    assert all(f'href="{link}"' in html for link in links)

    # each order keeps its reminder; the fee is charged once, on the order that carried the letter
    for order_id, fee in (("A-1", "2.50"), ("A-2", "0.00")):
        story = json.loads(cli("order", order_id, "--as-of", "2026-11-10", "--json").stdout)
        assert any(e["event"] == "reminder" and "friendly" in e["what"] for e in story["events"]), story["events"]
        assert story["balance"]["fees_open"] == fee
    # each link opens its own order and no other
    first, second = (manage_page(shop, link, date(2026, 11, 10)) for link in links)
    assert "A-1" in first and "A-2" not in first and "Yoga Course" in first
    assert "A-2" in second and "A-1" not in second

    cleo = got["cleo@example.com"].get_body(("plain",)).get_content()
    assert "Bestellung C-1 (Kurs)" in cleo and "Bestellung C-2 (Buch)" in cleo
    assert "Zusammen: 62,50\xa0€." in cleo  # 40 + 20 + one fee of 2.50
    assert got["bob@example.com"]["Subject"] != letter["Subject"]  # one order: the stage's own message

    cli("campaign", "prepare", "nov", "--as-of", "2026-11-11")
    assert json.loads(cli("campaign", "send", "nov", "--send", "--as-of", "2026-11-11", "--json").stdout)["sent"] == 0


def test_a_letter_refused_is_failed_for_each_of_its_orders(shop, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    recorder.permanent.add("ada@example.com")
    campaign(shop, "nov", "friendly", "smtp", port, paid=False)
    cli("campaign", "prepare", "nov", "--as-of", "2026-11-10")
    report = json.loads(cli("campaign", "send", "nov", "--send", "--as-of", "2026-11-10", "--json", code=1).stdout)
    assert (report["sent"], report["failed"]) == (4, 1)
    for order_id in ("A-1", "A-2"):  # neither counts as reminded: no fee, and the next run may try again
        story = json.loads(cli("order", order_id, "--as-of", "2026-11-10", "--json").stdout)
        assert not any(e["event"] == "reminder" and "sent" in e["what"] for e in story["events"]), story["events"]
        assert story["balance"]["fees_open"] == "0.00"


def test_one_letter_per_customer_can_be_turned_off(shop):
    settings = shop / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace("[policy]\n", "[policy]\none_letter_per_customer = false\n", 1))
    campaign(shop, "nov", "friendly", "outbox", paid=False)
    cli("campaign", "prepare", "nov", "--as-of", "2026-11-10")
    assert json.loads(cli("campaign", "send", "nov", "--send", "--as-of", "2026-11-10", "--json").stdout)["sent"] == 7
    subjects = {p.name: email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
                for p in (shop / "outbox" / "nov").glob("*.eml")}
    assert not any("your orders" in s for s in subjects.values())


def test_notices_before_the_due_date_stay_one_per_installment(shop):
    campaign(shop, "soon", "upcoming", "outbox", paid=False)
    cli("campaign", "prepare", "soon", "--as-of", "2026-11-28")
    assert json.loads(cli("campaign", "send", "soon", "--send", "--as-of", "2026-11-28", "--json").stdout)["sent"] == 2
    notices = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in (shop / "outbox" / "soon").glob("*.eml")]
    assert sorted(to(m) for m in notices) == ["eve@example.com", "eve@example.com"]
    assert not any("your orders" in m["Subject"] for m in notices)


def test_letter_is_no_stage_name(shop):
    settings = shop / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace('name = "final"', 'name = "letter"'))
    assert "'letter' names a letter for several orders" in cli("overdue", "plans.csv", "--as-of", "2026-11-10", code=2).output


@pytest.mark.parametrize("tool", ["mailchimp", "klicktipp", "brevo", "activecampaign", "getresponse", "cleverreach"])
def test_an_export_gives_an_address_one_row_that_carries_its_other_orders(shop, tool):
    """A newsletter tool keeps one contact per address: a second row of the same address would overwrite the first
    one's fields, and one of the two reminders would never be read while both count as sent."""
    if tool == "klicktipp":
        ids = "\n".join(f'{key} = "2000{n:02d}"' for n, key in enumerate(
            ("order_id", "product_name", "open_amount_text", "fee_text", "due_date_text", "manage_url", "link_expires_text",
             "paid_amount_text", "order_date_text", "days_overdue", "other_orders_text")))
        settings = shop / "dunning.toml"
        settings.write_text(settings.read_text("utf-8") + f"\n[exports.klicktipp_field_ids]\n{ids}\n", "utf-8")
    first = json.loads(cli("export", "plans.csv", "--to", tool, "--as-of", "2026-11-10", "--json", "-o", "first.csv").stdout)
    assert (first["rows"], first["reminders_recorded"], first["held_for_the_next_export"]) == (5, 7, [])
    rows = list(csv.DictReader(open("first.csv", encoding="cp1252" if tool == "klicktipp" else "utf-8"),
                               delimiter=";" if tool in ("klicktipp", "brevo") else ","))
    other = exports.get(tool).headers["other_orders_text"]
    ada = next(r for r in rows if "ada@example.com" in r.values())
    assert re.fullmatch(r"A-2 \(Swiss Retreat\): CHF50\.00, Nov 2, 2026 https://shop\.example/m/\S+", ada[other])
    assert sum(bool(r[other]) for r in rows) == 2  # Ada's and Dan's address; Cleo's two addresses are two contacts
    template = next(p for p in first["templates"] if "with-fee-other_orders" in p and p.endswith(".txt"))
    assert "Also open for your other orders: " in Path(template).read_text("utf-8")
    second = json.loads(cli("export", "plans.csv", "--to", tool, "--as-of", "2026-11-10", "--json", "-o", "second.csv").stdout)
    assert second["rows"] == 0  # every order was handed over once
    story = json.loads(cli("order", "A-2", "--as-of", "2026-11-10", "--json").stdout)
    assert sum(e["event"] == "reminder" for e in story["events"]) == 1 and story["balance"]["fees_open"] == "0.00"


def test_what_does_not_fit_the_tools_field_waits_for_the_next_export(shop):
    plans = [f"M-{n},,many@example.com,Mo,Ng,en,Course number {n},installment,bank_transfer,EUR,active,2026-11-0{n},1 month,1,"
             f"{n}0.00,," for n in range(1, 5)]
    (shop / "many.csv").write_text("\n".join([HEADER, *plans]) + "\n", "utf-8")
    first = json.loads(cli("export", "many.csv", "--to", "mailchimp", "--as-of", "2026-11-10", "--json", "-o", "a.csv").stdout)
    assert first["rows"] == 1 and first["reminders_recorded"] == 3  # Mailchimp's 255 bytes hold two more orders and links
    assert first["held_for_the_next_export"] == ["M-4"]
    second = json.loads(cli("export", "many.csv", "--to", "mailchimp", "--as-of", "2026-11-10", "--json", "-o", "b.csv").stdout)
    assert (second["rows"], second["reminders_recorded"], second["held_for_the_next_export"]) == (1, 1, [])


def test_the_generic_export_keeps_every_order(shop):
    written = json.loads(cli("export", "plans.csv", "--to", "generic", "--as-of", "2026-11-10", "--json").stdout)
    assert (written["rows"], written["held_for_the_next_export"]) == (7, [])


def test_a_mailchimp_campaign_gives_an_address_one_message_with_its_other_orders(shop, monkeypatch):
    monkeypatch.setenv("DUNNING_MAILCHIMP_API_KEY", MAILCHIMP_KEY)
    with FakeMailchimp(MAILCHIMP_KEY) as mailchimp:
        (shop / "campaigns" / "mc.toml").write_text(
            'stage = "friendly"\nchannel = "mailchimp"\n[input]\nfile = "../plans.csv"\n[sender]\nfrom = "Shop <billing@shop.example>"\n'
            f'[mailchimp]\nlist_id = "list1"\naudience_name = "Payment reminders"\napi_url = "{mailchimp.url}"\nbackoff_seconds = 0.01\n',
            "utf-8")
        cli("campaign", "prepare", "mc", "--as-of", "2026-11-10")
        report = json.loads(cli("campaign", "send", "mc", "--send", "--as-of", "2026-11-10", "--json").stdout)
        assert report["sent"] == 5  # Ada (A-1 with A-2), Bob, Cleo twice (two addresses), Dan (D-1 with D-2)
        [ada] = mailchimp.received("ada@example.com")
        assert "A-1" in ada["text"] and re.search(r"Also open for your other orders: A-2 \(Swiss Retreat\): CHF50\.00, Nov 2, "
                                                   r"2026 https://shop\.example/m/\S+", ada["text"])
        [bob] = mailchimp.received("bob@example.com")
        assert "other orders" not in bob["text"] and "A-2" not in bob["text"]  # nobody reads another's orders
    for order_id, fee in (("A-1", "2.50"), ("A-2", "0.00")):
        story = json.loads(cli("order", order_id, "--as-of", "2026-11-10", "--json").stdout)
        assert any(e["event"] == "reminder" and "friendly" in e["what"] for e in story["events"]), story["events"]
        assert story["balance"]["fees_open"] == fee
