"""Campaigns: definitions, prepare (skips, template errors), dry runs, sending through the outbox, resuming."""
import email
import email.policy
import json
import os
import socket
import subprocess
import sys
from datetime import date

import pytest
from typer.testing import CliRunner

from dunning import campaigns, config, sending
from dunning.channels.outbox import OutboxChannel
from dunning.cli import app
from dunning.errors import InputError
from dunning.journal.store import Store
from dunning.journal.tables import SENDING, SENT
from tests.conftest import campaign_workspace

AS_OF = date(2026, 11, 20)
runner = CliRunner()


@pytest.fixture
def workspace(tmp_path, examples, signing_key):
    return campaign_workspace(tmp_path, "final",
        'stage = "final"\nchannel = "outbox"\nrate_per_minute = 60000\n'
        '[input]\nfile = "../examples/plans.csv"\npayments = "../examples/payments.csv"\n'
        '[sender]\nfrom = "Beispiel GmbH <billing@shop.example>"\nreply_to = "help@shop.example"\n'
        '[subject]\nde = "Letzte Mahnung zu {{ order_id }}"\n')


def setup(workspace):
    settings = config.load(cwd=workspace)
    return settings, campaigns.load("final", settings), Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")


def test_definition_errors_are_clear(workspace):
    settings = config.load(cwd=workspace)
    bad = workspace / "campaigns" / "bad.toml"
    for text, message in (
        ('stage = "urgent"', "stage must be one of upcoming, friendly, second, final, confirmation"),
        ('stage = "final"\nchannel = "fax"', "channel must be one of"),
        ('stage = "final"\n[input]\nprofile = "x"', r"\[input\] needs file"),
        ('stage = "final"\n[input]\nfile = "a.csv"\n[sender]\nfrom = "a@b.c"\n[filters]\ncolour = 1', "unknown key"),
        ('stage = "final"\nconnections = 0\n[input]\nfile = "a.csv"\n[sender]\nfrom = "a@b.c"', "connections must be a whole number from 1 to 20"),
    ):
        bad.write_text(text)
        with pytest.raises(InputError, match=message):
            campaigns.load("bad", settings)
    with pytest.raises(InputError, match="no campaign 'nope'"):
        campaigns.load("nope", settings)


def test_prepare_renders_in_each_language_and_skips_what_was_reminded(workspace):
    settings, campaign, store = setup(workspace)
    prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    assert prepared.added == 7 and prepared.already_reminded == 0
    rows = {r.order_id: r for r in store.reminders_of(prepared.campaign_id)}
    assert rows["P-2002"].subject == "Letzte Mahnung zu P-2002"
    assert "39,80" in rows["P-2002"].body_text and "Guten Tag Hans Weber" in rows["P-2002"].body_text
    assert rows["P-2001"].subject == "Laatste aanmaning: bestelling P-2001"
    assert "€\xa0247,00" in rows["P-2001"].body_text
    assert rows["P-2005"].currency == "JPY" and rows["P-2005"].open_amount == 18000
    assert "https://shop.example/m/" in rows["P-2003"].body_html
    again = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    assert (again.added, again.already_reminded) == (0, 7)


def test_cooldown_from_the_store_holds_back_recent_reminders(workspace):
    settings, campaign, store = setup(workspace)
    friendly = campaigns.Campaign(**{**vars(campaign), "name": "earlier", "stage": "final"})
    first = campaigns.prepare(friendly, settings, store, AS_OF, ["k"])
    sending.send(friendly, store, OutboxChannel(workspace / "outbox"), as_of=AS_OF, dry_run=False)
    second = campaigns.Campaign(**{**vars(campaign), "name": "later", "stage": "second"})
    later = campaigns.prepare(second, settings, store, AS_OF, ["k"])
    assert first.added == 7 and later.added == 0
    assert set(later.excluded["why"]) >= {"reminded within the last 7 days"}


def test_template_error_stops_prepare_before_anything_is_stored(workspace):
    settings, campaign, store = setup(workspace)
    (workspace / "templates" / "final.en.txt.j2").write_text("Hello {{ first_name }}\nYou owe {{ amount_due }}\n")
    (workspace / "templates" / "final.en.html.j2").write_text("<p>x</p>\n")
    with pytest.raises(InputError, match=r"template final.en.txt.j2, line 2: 'amount_due' is undefined"):
        campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    assert store.campaign("final") is None


def test_dry_run_sends_nothing_and_send_writes_multipart_messages(workspace):
    settings, campaign, store = setup(workspace)
    prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    outbox = workspace / "outbox"
    dry = sending.send(campaign, store, OutboxChannel(outbox), as_of=AS_OF, dry_run=True)
    assert dry.would_send == 7 and not list(outbox.glob("*.eml")) and store.counts(prepared.campaign_id) == {"prepared": 7}
    report = sending.send(campaign, store, OutboxChannel(outbox), as_of=AS_OF, dry_run=False)
    assert (report.sent, report.failed) == (7, 0)
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 7
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["From"] == "Beispiel GmbH <billing@shop.example>" and message["Reply-To"] == "help@shop.example"
    assert message["Message-ID"].startswith("<dunning.") and message["List-Unsubscribe"] == "<mailto:help@shop.example?subject=unsubscribe>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    rerun = sending.send(campaign, store, OutboxChannel(outbox), as_of=AS_OF, dry_run=False)
    assert rerun.sent == 0 and len(list(outbox.glob("*.eml"))) == 7


def test_the_rate_never_asks_for_a_negative_wait(workspace):
    """Between claiming a slot and waiting for it the clock moves on: the wait is read once, never below zero."""
    settings, campaign, store = setup(workspace)
    campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    ticks, waits = iter(range(0, 10**6, 3)), []
    report = sending.send(campaign, store, OutboxChannel(workspace / "outbox"), as_of=AS_OF, dry_run=False,
                          sleep=waits.append, clock=lambda: next(ticks) / 10_000)  # 0.3 ms a reading; slots 1 ms apart
    assert report.sent == 7 and waits and all(wait > 0 for wait in waits)


def test_a_reminder_in_flight_when_a_run_died_is_resent_and_named(workspace):
    settings, campaign, store = setup(workspace)
    prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    first, second, *_ = store.pending(prepared.campaign_id)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert store.claim(first, f"{socket.gethostname()}:{ended.stdout.strip()}")  # a sender that has died since
    assert store.claim(second, f"{socket.gethostname()}:{os.getpid()}")  # one that is still at work: left to it
    report = sending.send(campaign, store, OutboxChannel(workspace / "outbox"), as_of=AS_OF, dry_run=False)
    assert report.resent_in_flight == [first.order_id] and report.sent == 6 and report.taken_by_another_sender == 1
    assert store.counts(prepared.campaign_id) == {SENT: 6, SENDING: 1}


def test_campaign_commands(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    prepared = runner.invoke(app, ["campaign", "prepare", "final", "--as-of", "2026-11-20", "--json"])
    assert prepared.exit_code == 0, prepared.output
    assert json.loads(prepared.stdout)["prepared"] == 7
    preview = runner.invoke(app, ["campaign", "preview", "final", "--count", "1"])
    assert preview.exit_code == 0 and "7 messages; preview written to" in preview.stdout
    page = (workspace / "exports" / "final-preview.html").read_text("utf-8")
    assert page.count("<section>") == 7 and "srcdoc=" in page
    dry = runner.invoke(app, ["campaign", "send", "final"])
    assert "dry run: 7 reminders would be sent through outbox" in dry.stdout
    sent = runner.invoke(app, ["campaign", "send", "final", "--send", "--json"])
    assert json.loads(sent.stdout)["sent"] == 7
    assert len(list((workspace / "outbox" / "final").glob("*.eml"))) == 7


def test_prepare_without_key_is_one_sentence(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("DUNNING_SECRET_KEYS")
    result = runner.invoke(app, ["campaign", "prepare", "final", "--as-of", "2026-11-20"])
    assert result.exit_code == 2 and "no signing key" in result.stderr


def test_an_order_without_an_address_is_left_out_by_an_e_mail_channel_not_by_the_reader(workspace):
    settings, campaign, store = setup(workspace)
    plans = workspace / "examples" / "plans.csv"
    lines = plans.read_text("utf-8").splitlines()
    lines[1] = lines[1].replace("noor.jansen@example.nl", "")
    plans.write_text("\n".join(lines) + "\n", "utf-8")
    prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    assert prepared.added == 6 and "P-2001" not in {r.order_id for r in store.reminders_of(prepared.campaign_id)}
    reject = prepared.rejects[prepared.rejects["row"] == "P-2001"].iloc[0]
    assert reject["reason"] == "no e-mail address, and the channel outbox sends e-mail"


def test_a_reminder_into_a_swiss_account_can_carry_its_qr_bill(workspace):
    from dunning.bank import qr_reference, readable_reference

    definition = workspace / "campaigns" / "final.toml"
    definition.write_text("attach_qr_bill = true\n" + definition.read_text())
    settings_file = workspace / "dunning.toml"
    settings_file.write_text(settings_file.read_text() + '\n[payment.accounts.EUR]\n'
                             'iban = "CH4431999123000889012"\nbeneficiary = "Beispiel GmbH"\nstreet = "Bahnhofstrasse"\n'
                             'house_number = "1"\npostal_code = "8001"\ncity = "Zürich"\n')
    settings, campaign, store = setup(workspace)
    campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    from dunning.channels.select import channel_for

    report = sending.send(campaign, store, channel_for(campaign, settings), as_of=AS_OF, dry_run=False)
    assert report.sent == 7
    mails = {p.name.split(".")[0]: email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (workspace / "outbox" / "final").glob("*.eml")}
    [bill] = [part for part in mails["P-2001"].iter_attachments()]
    assert bill.get_filename() == "qr-bill-P-2001.svg" and bill.get_content_type() == "image/svg+xml"
    svg = bill.get_content().decode("utf-8")
    assert "<svg" in svg and "247.00" in svg and readable_reference(qr_reference("P-2001")) in svg
    pounds = mails["P-2004"]  # GBP: no Swiss account in that currency, no bill
    assert list(pounds.iter_attachments()) == []
