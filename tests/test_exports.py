"""Newsletter-tool exports: headers, round trips, placeholders, injection guard, rejects, files."""
import csv
import hashlib
import json
import os
import re
from datetime import date, datetime, timezone

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from dunning import exports
from dunning.errors import InputError
from dunning.exports.dialects import DIALECTS, with_field_ids
from dunning.files import FORMULA_STARTS
from dunning.mailmerge import LETTER_VARIABLES, LINES, SHOP_VARIABLES, TEMPLATE_VARIABLES, Templates
from dunning.policy import Policy, Stage
from dunning.tokens import TokenSigner, add_links

KEY = "export-test-key-0123456789-012345678"
AS_OF = date(2026, 11, 20)
POLICY = Policy(stages=(Stage("friendly", "Friendly reminder", 3), Stage("second", "Second reminder", 10, {"EUR": 250}),
                        Stage("final", "Final notice", 21, consequence="collection")))
TOOLS = list(DIALECTS)


def overdue_frame(**changes) -> pd.DataFrame:
    rows = [
        dict(order_id="E-1", email="juergen@example.de", first_name="Jürgen", last_name="Müller-Lüdenscheidt",
             language="de", product_name="Online-Kurs Fotografie", kind="installment", payment_method="bank_transfer",
             currency="EUR", status="pending", open_amount=14970, paid_amount=29940, fee=0,
             oldest_due_date=date(2026, 11, 2), days_overdue=18, open_installments=1, stage="second", reason="manual_payment"),
        dict(order_id="E-2", email="sophie@example.fr", first_name="Sophie", last_name="Dubois", language="fr",
             product_name="Cours de cuisine", kind="one_time", payment_method="prepayment", currency="EUR",
             status="pending", open_amount=8900, paid_amount=0, fee=0, oldest_due_date=date(2026, 11, 15),
             days_overdue=5, open_installments=1, stage="friendly", reason="manual_payment"),
        dict(order_id="Y-3", email="yuki@example.jp", first_name="Yuki", last_name="Tanaka", language="",
             product_name="Design Course", kind="installment", payment_method="card", currency="JPY",
             status="pending", open_amount=18000, paid_amount=30000, fee=0, oldest_due_date=date(2026, 9, 20),
             days_overdue=61, open_installments=2, stage="final", reason="no_response"),
    ]
    frame = pd.DataFrame(rows)
    for column, value in changes.items():
        frame[column] = value
    frame = frame.astype({"open_amount": "Int64", "paid_amount": "Int64", "fee": "Int64"})
    issued = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    return add_links(frame, TokenSigner([KEY]), "https://shop.example/m/{token}", issued_at=issued)


# KlickTipp addresses the fields a merchant creates by numeric id: the ids of a made-up account
KLICKTIPP_IDS = {key: str(200001 + n) for n, key in enumerate(
    ("order_id", "product_name", "open_amount_text", "paid_amount_text", "fee_text", "due_date_text", "days_overdue",
     "manage_url", "link_expires_text"))}


def write(tool, tmp_path, frame=None, **options):
    ids = {"field_ids": KLICKTIPP_IDS} if tool == "klicktipp" and "field_ids" not in options else {}
    return exports.write(frame if frame is not None else overdue_frame(), tool, tmp_path / f"{tool}.csv",
                         as_of=AS_OF, policy=POLICY, shop=exports.Shop("Beispiel GmbH", "billing@shop.example"),
                         **ids, **options)


def dialect_of(tool):
    """The dialect as the exports above write it (KlickTipp with the account's field ids)."""
    return with_field_ids(DIALECTS[tool], KLICKTIPP_IDS) if tool == "klicktipp" else DIALECTS[tool]


def read_back(tool, path):
    dialect = DIALECTS[tool]
    with path.open(encoding=dialect.encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=dialect.delimiter))


@pytest.mark.parametrize("tool", TOOLS)
def test_round_trip_of_every_value(tool, tmp_path):
    dialect = DIALECTS[tool]
    result = write(tool, tmp_path)
    rows = read_back(tool, result.csv_path)
    assert result.rows == len(rows) == 3
    h = dialect.headers
    by_order = {r[h["order_id"]]: r for r in rows}
    jurgen, yuki = by_order["E-1"], by_order["Y-3"]
    assert jurgen[h["email"]] == "juergen@example.de"
    if dialect.full_name_header:
        assert jurgen[dialect.full_name_header] == "Jürgen Müller-Lüdenscheidt"
    else:
        assert (jurgen[h["first_name"]], jurgen[h["last_name"]]) == ("Jürgen", "Müller-Lüdenscheidt")
    assert jurgen[h["product_name"]] == "Online-Kurs Fotografie"
    assert jurgen[h["open_amount"]] == "149.70" and jurgen[h["paid_amount"]] == "299.40"
    assert jurgen[h["open_amount_text"]] == "149,70\xa0€" and jurgen[h["paid_amount_text"]] == "299,40\xa0€"
    assert yuki[h["open_amount"]] == "18000" and yuki[h["open_amount_text"]] == "¥18,000"
    assert jurgen[h["currency"]] == "EUR" and jurgen[h["stage"]] == "second" and jurgen[h["days_overdue"]] == "18"
    assert jurgen[h["due_date"]] == date(2026, 11, 2).strftime(dialect.date_format)
    assert jurgen[h["due_date_text"]] == "02.11.2026"
    assert jurgen[h["language"]] == "de" and yuki[h["language"]] == "en"
    assert TokenSigner([KEY]).verify(jurgen[h["token"]]) == "E-1"
    assert jurgen[h["manage_url"]] == "https://shop.example/m/" + jurgen[h["token"]]
    assert jurgen[h["link_expires_text"]] == "04.01.2027"
    if dialect.tags_header:
        assert jurgen[dialect.tags_header] == "dunning-second,lang-de"


@pytest.mark.parametrize("tool", TOOLS)
def test_header_is_what_the_tool_maps(tool, tmp_path):
    dialect = DIALECTS[tool]
    header = next(csv.reader(write(tool, tmp_path).csv_path.open(encoding=dialect.encoding), delimiter=dialect.delimiter))
    expected = {"mailchimp": ["Email Address", "First Name", "Last Name"], "activecampaign": ["Email", "First Name", "Last Name"],
                "getresponse": ["email", "name"], "brevo": ["EMAIL", "FIRSTNAME", "LASTNAME"],
                "klicktipp": ["E-Mail", "Vorname", "Nachname"], "cleverreach": ["email", "firstname", "lastname"],
                "generic": ["email", "first_name", "last_name"]}[tool]
    assert header[: len(expected)] == expected
    assert len(header) == len(set(header))


def test_mailchimp_merge_tags_obey_its_limits():
    for key, tag in DIALECTS["mailchimp"].merge_names.items():
        assert re.fullmatch(r"[A-Z0-9_]{1,10}", tag), (key, tag)
    assert len(DIALECTS["mailchimp"].merge_names) <= 30


EXPECTED_FIRST_NAME = {
    "mailchimp": "*|FNAME|*", "activecampaign": "%FIRSTNAME%", "brevo": "{{ contact.FIRSTNAME }}",
    "getresponse": "[[firstname]]", "klicktipp": "%Subscriber:CustomFieldFirstName%", "cleverreach": "{FIRSTNAME}",
    "generic": "{{first_name}}",
}


@pytest.mark.parametrize("tool", TOOLS)
def test_every_template_variable_becomes_the_tools_placeholder(tool, tmp_path):
    dialect = dialect_of(tool)
    assert dialect.tag("first_name") == EXPECTED_FIRST_NAME[tool]
    result = write(tool, tmp_path, overdue_frame(fee=[250, 0, 0]))  # E-1 owes the second stage's fee
    names = {p.name for p in result.template_paths}
    assert {f"{tool}.template.second.de.with-fee.txt", f"{tool}.template.friendly.fr.html",
            f"{tool}.template.final.en.txt"} <= names
    templates = Templates()
    for path in result.template_paths:
        text = path.read_text("utf-8")
        stage, language, *carried, kind = path.name.split(".template.")[1].split(".")
        lines = set(carried[0].removeprefix("with-").split("-")) if carried else set()
        for variable in _variables_used(templates, f"{stage}.{language}.{kind}.j2"):
            if variable.removesuffix("_text") in set(LINES) - lines:
                continue  # only the customers asked a fee (interest, costs; with other orders) read about it
            assert dialect.tag(variable) in text, (path.name, variable)
    final = (tmp_path / f"{tool}.template.final.en.txt").read_text("utf-8")
    assert final.startswith("Subject: Final notice: order " + dialect.tag("order_id"))
    assert "collection agency" in final
    html = (tmp_path / f"{tool}.template.second.de.with-fee.html").read_text("utf-8")
    assert f'href="{dialect.tag("manage_url")}"' in html and f">{dialect.tag('manage_url')}</p>" in html


def _variables_used(templates, name):
    from jinja2 import meta

    source = templates.env.loader.get_source(templates.env, name)[0]
    return meta.find_undeclared_variables(templates.env.parse(source)) & set(TEMPLATE_VARIABLES)


def test_every_variable_the_shipped_templates_use_is_known():
    from jinja2 import meta

    templates = Templates()
    used = set()
    for name in templates.env.list_templates():
        source = templates.env.loader.get_source(templates.env, name)[0]
        used |= meta.find_undeclared_variables(templates.env.parse(source))
    assert used <= set(TEMPLATE_VARIABLES) | set(SHOP_VARIABLES) | set(LETTER_VARIABLES) | {"subject"}
    # a merchant's own template may use these; the shipped ones do not (an order date is not in every export)
    assert set(TEMPLATE_VARIABLES) - {"days_overdue", "order_date_text"} <= used


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_cells_that_would_start_a_formula_are_neutralised(tool, start, tmp_path):
    frame = overdue_frame(product_name=f"{start}HYPERLINK(\"http://evil.example\")")
    rows = read_back(tool, write(tool, tmp_path, frame).csv_path)
    h = DIALECTS[tool].headers
    assert len(rows) == 3
    for row in rows:
        assert row[h["product_name"]].startswith("'")
        assert not row[h["product_name"]][0] in FORMULA_STARTS


@pytest.mark.parametrize("tool", TOOLS)
def test_an_address_or_name_is_never_changed_a_row_that_needs_it_is_left_out(tool, tmp_path):
    """A guard would make '-info@example.com' into "'-info@example.com" and greet "Hallo '=Plus": such rows stay out
    of the file (and so out of the hand-over), each with why; the address the file carries is the customer's own."""
    frame = overdue_frame(email=["-info@example.com", "ok@example.fr", "plus@example.jp"],
                          first_name=["Jürgen", "Sophie", "=Plus"])
    result = write(tool, tmp_path, frame)
    rows = read_back(tool, result.csv_path)
    h = DIALECTS[tool].headers
    assert [r[h["email"]] for r in rows] == ["ok@example.fr"] and result.rows == 1
    assert list(result.values["email"]) == ["ok@example.fr"]
    reasons = dict(zip(result.rejects["row"], zip(result.rejects["column"], result.rejects["reason"])))
    assert reasons["E-1"][0] == "email" and reasons["E-1"][1].startswith("begins with '-', which a spreadsheet runs as a formula")
    assert reasons["Y-3"][0] == "first_name" and "begins with '='" in reasons["Y-3"][1]
    assert f"it would reach {DIALECTS[tool].title} changed: remind this customer another way" in reasons["Y-3"][1]


def test_mailchimp_takes_no_characters_beyond_ascii_before_the_at(tmp_path):
    frame = overdue_frame(email=["jürgen.müller@example.de", "sophie@exämple.fr", "yuki@example.jp"])
    result = write("mailchimp", tmp_path, frame)
    assert [r["Email Address"] for r in read_back("mailchimp", result.csv_path)] == ["sophie@exämple.fr", "yuki@example.jp"]
    assert list(result.rejects["reason"]) == ["Mailchimp does not take characters beyond ASCII before the @ of an address: "
                                              "remind this customer another way"]
    assert write("brevo", tmp_path / "b", frame).rows == 3  # another tool takes it


def test_getresponse_refuses_long_or_special_addresses_and_clips_text_at_255_characters(tmp_path):
    long_address = "a" * 64 + "@" + "b" * 59 + ".com"  # 128 characters: taken
    too_long = "a" * 64 + "@" + "b" * 60 + ".com"  # 129, valid by the RFCs
    frame = overdue_frame(email=[long_address, too_long, "o'brien!@example.jp"], product_name="Ü" * 300)
    result = write("getresponse", tmp_path, frame)
    rows = read_back("getresponse", result.csv_path)
    assert [r["email"] for r in rows] == [long_address] and rows[0]["product"] == "Ü" * 255
    assert list(result.rejects["reason"]) == [
        "GetResponse takes addresses of at most 128 characters: remind this customer another way",
        "GetResponse refuses addresses with any of !#$%^&()|\\, or a space: remind this customer another way"]
    assert result.clipped_cells == 1


def test_brevo_in_german_fills_the_attributes_a_german_account_has(tmp_path):
    result = write("brevo", tmp_path, attributes={"first_name": "VORNAME", "last_name": "nachname"})
    header = result.csv_path.read_text("utf-8").splitlines()[0].split(";")
    assert header[:3] == ["EMAIL", "VORNAME", "NACHNAME"]
    template = (tmp_path / "brevo.template.second.de.txt").read_text("utf-8")
    assert "Guten Tag {{ contact.VORNAME }} {{ contact.NACHNAME }}" in template and "FIRSTNAME" not in template
    with pytest.raises(InputError, match="brevo_attributes\\] names unknown fields: vorname"):
        write("brevo", tmp_path / "x", attributes={"vorname": "VORNAME"})
    with pytest.raises(InputError, match="'VOR NAME' is not a Brevo attribute name"):
        write("brevo", tmp_path / "y", attributes={"first_name": "Vor Name"})


def test_excel_in_german_reads_amounts_as_numbers(tmp_path):
    result = write("generic", tmp_path, excel_language="de")
    raw = result.csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert [r["open_amount"] for r in rows] == ["149,70", "89,00", "18000"]
    assert ";149,70;" in raw.decode("utf-8-sig")  # unquoted: German Excel reads a number
    english = write("generic", tmp_path / "en", excel_language="en")
    assert ",149.70," in english.csv_path.read_text("utf-8-sig")


def test_line_breaks_never_reach_the_file(tmp_path):
    frame = overdue_frame(first_name="Anna\r\nBcc: x@evil.example", email=["a@example.com\n", "b@example.com", "c@example.com"])
    text = write("mailchimp", tmp_path, frame).csv_path.read_bytes().decode("utf-8")
    assert text.count("\r\n") == 4 and "\n" not in text.replace("\r\n", "")
    assert "Anna Bcc: x@evil.example" in text


def test_rows_without_usable_email_go_to_rejects(tmp_path):
    frame = overdue_frame(email=["", "not-an-address", "ok@example.com"])
    result = write("brevo", tmp_path, frame)
    assert result.rows == 1 and len(result.rejects) == 2
    rejects = list(csv.DictReader(result.rejects_path.open(encoding="utf-8")))
    assert {r["row"] for r in rejects} == {"E-1", "E-2"}
    assert {r["reason"] for r in rejects} == {"no usable e-mail address: no e-mail address",
                                              "no usable e-mail address: An email address must have an @-sign."}
    assert oct(os.stat(result.rejects_path).st_mode & 0o777) == "0o600"


def test_klicktipp_writes_windows_1252_and_rejects_what_it_cannot_hold(tmp_path):
    frame = overdue_frame(first_name=["Jürgen", "Łukasz", "Zoë"])
    result = write("klicktipp", tmp_path, frame)
    raw = result.csv_path.read_bytes()
    assert "Jürgen".encode("cp1252") in raw and "Müller-Lüdenscheidt".encode("cp1252") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert result.rows == 2 and list(result.rejects["row"]) == ["E-2"]
    assert "cp1252 cannot hold" in result.rejects["reason"].iloc[0]
    again = write("klicktipp", tmp_path / "utf8", frame, encoding="utf-8")
    assert again.rows == 3


def test_klicktipp_field_ids_from_settings(tmp_path):
    result = write("klicktipp", tmp_path, overdue_frame())
    text = (tmp_path / "klicktipp.template.second.de.txt").read_text("utf-8")
    assert "%Subscriber:CustomField200003%" in text and "%Subscriber:CustomFieldFirstName%" in text
    assert "CustomFieldOpenAmountText" not in text and result.rows == 3
    with pytest.raises(InputError, match="unknown fields"):
        write("klicktipp", tmp_path / "unknown", field_ids={"nope": "1"})


def test_klicktipp_without_field_ids_stops_and_names_them(tmp_path):
    with pytest.raises(InputError) as stopped:
        write("klicktipp", tmp_path, field_ids={"open_amount_text": "123456"})
    assert str(stopped.value) == (
        "KlickTipp addresses the fields you create by their numeric id, and the template uses order_id, product_name, "
        "due_date_text, manage_url, link_expires_text without one: set them in [exports.klicktipp_field_ids] "
        "in dunning.toml (e.g. order_id = \"123456\"); nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_mailchimp_text_is_clipped_to_255_bytes(tmp_path):
    frame = overdue_frame(product_name="Ü" * 200)
    result = write("mailchimp", tmp_path, frame)
    rows = read_back("mailchimp", result.csv_path)
    assert len(rows[0]["PRODUCT"].encode("utf-8")) <= 255 and rows[0]["PRODUCT"] == "Ü" * 127
    assert result.clipped_cells == 3


def test_files_are_private_never_overwritten_and_hold_no_key(tmp_path):
    result = write("generic", tmp_path)
    assert oct(os.stat(result.csv_path).st_mode & 0o777) == "0o600"
    assert KEY not in result.csv_path.read_text("utf-8") and KEY not in result.manifest_path.read_text("utf-8")
    with pytest.raises(InputError, match="exists"):
        write("generic", tmp_path)
    assert write("generic", tmp_path, overwrite=True).rows == 3
    first = exports.default_path(tmp_path, "brevo", AS_OF, ["stage-final"])
    assert first.name == "brevo-2026-11-20-stage_final.csv"
    first.write_text("x")
    assert exports.default_path(tmp_path, "brevo", AS_OF, ["stage-final"]).name == "brevo-2026-11-20-stage_final-2.csv"


def test_manifest_proves_what_was_handed_over(tmp_path):
    frame = overdue_frame()
    frame.loc[1, "stage"] = ""
    result = exports.write(frame, "mailchimp", tmp_path / "mc.csv", as_of=AS_OF, policy=POLICY,
                           filters={"stages": ["second", "final"]}, sources=["orders.csv"])
    manifest = json.loads(result.manifest_path.read_text("utf-8"))
    assert manifest["sha256"] == hashlib.sha256(result.csv_path.read_bytes()).hexdigest()
    assert manifest["tool"] == "mailchimp" and manifest["as_of"] == "2026-11-20" and manifest["rows"] == 2
    assert manifest["filters"] == {"stages": ["second", "final"]} and manifest["orders_without_stage_left_out"] == 1
    assert manifest["totals_per_currency"] == [{"currency": "EUR", "orders": 1, "open_amount": "149.70"},
                                               {"currency": "JPY", "orders": 1, "open_amount": "18000"}]
    columns = {c["column"]: c for c in manifest["columns"]}
    assert columns["FNAME" if "FNAME" in columns else "First Name"]["placeholder"] == "*|FNAME|*"
    assert columns["OPENTEXT"]["meaning"].startswith("what is overdue, formatted")
    assert result.without_stage == 1


def test_unknown_tool_lists_the_tools():
    with pytest.raises(InputError, match="choose one of mailchimp, klicktipp, activecampaign, getresponse, brevo, cleverreach, generic"):
        exports.get("sendgrid")


def test_merchant_templates_override_the_shipped_ones(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "second.de.txt.j2").write_text("{% set subject %}Hallo {{ first_name }}{% endset %}Zahlen Sie {{ open_amount_text }}\n")
    (folder / "second.de.html.j2").write_text("<p>{{ open_amount_text }}</p>\n")
    write("brevo", tmp_path, templates=Templates(folder))
    assert (tmp_path / "brevo.template.second.de.txt").read_text("utf-8") == (
        "Subject: Hallo {{ contact.FIRSTNAME }}\n\nZahlen Sie {{ contact.OPEN_AMOUNT_TEXT }}\n")


def test_only_customers_with_a_fee_get_the_fee_sentence(tmp_path):
    from dunning.policy import Policy, Stage

    policy = Policy(stages=(Stage("second", "Second", 10, {"EUR": 250}),))
    frame = overdue_frame().iloc[:2].copy()
    frame["stage"] = "second"
    frame["language"] = "de"
    frame["currency"] = ["EUR", "GBP"]
    frame["fee"] = pd.array([250, 0], dtype="Int64")
    result = exports.write(frame, "activecampaign", tmp_path / "ac.csv", as_of=date(2026, 11, 20), policy=policy)
    names = sorted(p.name for p in result.template_paths if p.suffix == ".txt")
    assert names == ["ac.template.second.de.txt", "ac.template.second.de.with-fee.txt"]
    assert "Mahngebühr" in (tmp_path / "ac.template.second.de.with-fee.txt").read_text("utf-8")
    assert "Mahngebühr" not in (tmp_path / "ac.template.second.de.txt").read_text("utf-8")
    tags = [r["Tags"] for r in csv.DictReader((tmp_path / "ac.csv").open(encoding="utf-8"))]
    assert sorted(tags) == ["dunning-second,lang-de", "dunning-second,lang-de,fee"]


def test_addresses_a_newsletter_tool_would_refuse_are_left_out_with_why(tmp_path):
    frame = overdue_frame(email=["a..b@example.com", "sophie@example..fr", "yuki@example.jp"])
    result = exports.write(frame, "getresponse", tmp_path / "g.csv", as_of=AS_OF, policy=POLICY)
    assert result.rows == 1
    reasons = dict(zip(result.rejects["row"], result.rejects["reason"]))
    assert reasons == {"E-1": "no usable e-mail address: An email address cannot have two periods in a row.",
                       "E-2": "no usable e-mail address: An email address cannot have two periods in a row."}


def test_the_order_date_is_exported(examples, tmp_path, signing_key):
    from dunning.sources import loader, profiles
    from dunning.overdue import find
    from dunning.tokens import TokenSigner

    shop = loader.read_orders(examples / "orders_elopage.csv", profiles.load("elopage"))
    found = find(shop.orders, shop.receivables_until(AS_OF), AS_OF, POLICY).orders
    plans = loader.read_orders(examples / "plans.csv", profiles.load("generic"))
    planned = find(plans.orders, plans.receivables_until(AS_OF), AS_OF, POLICY).orders
    signer = TokenSigner([signing_key])
    for frame, order_id, day, text in ((found, "E-10422", "2025-12-28", "28.12.2025"), (planned, "P-2002", "2025-12-15", "15.12.2025")):
        result = exports.write(add_links(frame, signer, "https://shop.example/m/{token}"), "mailchimp", tmp_path / f"{order_id}.csv",
                               as_of=AS_OF, policy=POLICY)
        row = next(r for r in read_back("mailchimp", result.csv_path) if r["ORDERID"] == order_id)
        assert row["ORDERDATE"] == day and row["ORDDATETXT"] == text


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.emails(), st.from_regex(r"[A-Za-z0-9._%+\-]{0,70}@[A-Za-z0-9.\-]{0,30}(\.(com|de|test|local|xn--p1ai))?",
                                             fullmatch=True)))
def test_the_quick_e_mail_check_accepts_only_what_email_validator_accepts(address):
    from email_validator import EmailNotValidError, validate_email

    from dunning.sources.parsing import email_reasons

    try:
        validate_email(address, check_deliverability=False)
        valid = True
    except EmailNotValidError:
        valid = False
    assert (email_reasons(pd.Series([address])).iloc[0] == "") == valid
