"""The Mailchimp channel end to end, through the official client, against a local Mailchimp API."""
import json
from collections import namedtuple
from datetime import date

import pytest
from typer.testing import CliRunner

from dunning import campaigns, config, sending
from dunning.channels import PermanentFailure
from dunning.channels.mailchimp import MailchimpChannel, MailchimpSettings, Shop
from dunning.cli import app
from dunning.errors import InputError
from dunning.mailmerge import Templates
from dunning.store import SENT, Store
from dunning.policy import Stage
from tests.conftest import campaign_workspace
from tests.mailchimp_server import FakeMailchimp

AS_OF = date(2026, 11, 20)
KEY = "0123456789abcdef-us21"
runner = CliRunner()


@pytest.fixture
def mailchimp(monkeypatch):
    monkeypatch.setenv("DUNNING_MAILCHIMP_API_KEY", KEY)
    with FakeMailchimp(KEY) as fake:
        yield fake


@pytest.fixture
def workspace(tmp_path, examples, signing_key, mailchimp):
    return campaign_workspace(tmp_path, "mc",
        'stage = "final"\nchannel = "mailchimp"\n[input]\nfile = "../examples/plans.csv"\npayments = "../examples/payments.csv"\n'
        '[sender]\nfrom = "Beispiel GmbH <billing@shop.example>"\nreply_to = "help@shop.example"\n'
        f'[mailchimp]\nlist_id = "list1"\napi_url = "{mailchimp.url}"\ntest_emails = ["owner@shop.example"]\nbackoff_seconds = 0.01\n')


def prepare_and_send(workspace):
    settings = config.load(cwd=workspace)
    campaign = campaigns.load("mc", settings)
    store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
    prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    from dunning.channels.select import channel_for

    report = sending.send(campaign, store, channel_for(campaign, settings), as_of=AS_OF, dry_run=False)
    return store, prepared, report


def test_the_whole_flow(workspace, mailchimp):
    store, prepared, report = prepare_and_send(workspace)
    assert (report.sent, report.failed) == (7, 0)
    audience = mailchimp.audiences["list1"]
    tags = {f["tag"] for f in audience.merge_fields}
    assert {"OPENTEXT", "MANAGEURL", "DUETEXT", "ORDERID", "LINKEXP"} <= tags and len(audience.merge_fields) <= 30
    hans = audience.members["hans.weber@example.de"]
    assert hans["status"] == "subscribed" and hans["language"] == "de"
    assert hans["merge_fields"]["FNAME"] == "Hans" and hans["merge_fields"]["OPENTEXT"] == "39,80\xa0€"
    assert hans["merge_fields"]["MANAGEURL"].startswith("https://shop.example/m/")
    segments = {s["name"]: s for s in audience.segments}
    assert segments["mc"]["member_count"] == 7 and segments["mc-de"]["member_count"] == 2
    sent = {c["settings"]["title"]: c for c in mailchimp.campaigns.values()}
    assert set(sent) == {"dunning mc de", "dunning mc en", "dunning mc fr", "dunning mc nl"}
    german = sent["dunning mc de"]
    assert german["status"] == "sent" and german["sent_to"] == ["eva.schmidt@example.de", "hans.weber@example.de"]
    assert german["settings"]["from_name"] == "Beispiel GmbH" and german["settings"]["reply_to"] == "help@shop.example"
    assert "*|FNAME|*" in german["content"]["plain_text"] and 'href="*|MANAGEURL|*"' in german["content"]["html"]
    assert "Letzte Mahnung" in german["settings"]["subject_line"]
    assert len(mailchimp.tests_sent) == 4 and mailchimp.tests_sent[0][1] == ["owner@shop.example"]
    rows = store.reminders_of(prepared.campaign_id)
    assert {r.status for r in rows} == {SENT} and {r.message_id for r in rows} == set(mailchimp.campaigns)


def test_429_bursts_and_500s_are_retried(workspace, mailchimp):
    mailchimp.fail("POST", r"/lists/list1$", 429, times=3)
    mailchimp.fail("POST", r"/campaigns$", 500, times=1)
    _, _, report = prepare_and_send(workspace)
    assert report.sent == 7
    assert sum(1 for m, p in mailchimp.requests if m == "POST" and p == "/3.0/lists/list1") == 4


def test_a_refused_member_fails_alone(workspace, mailchimp):
    mailchimp.audiences["list1"].blocked.add("sara.rossi@example.it")
    _, _, report = prepare_and_send(workspace)
    assert (report.sent, report.failed) == (6, 1)
    order, reason = report.failures[0]
    assert order == "P-2006" and "compliance state" in reason


def test_a_rerun_after_a_crash_creates_no_second_campaign(workspace, mailchimp):
    store, prepared, _ = prepare_and_send(workspace)
    with store.engine.begin() as db:
        db.exec_driver_sql("UPDATE reminders SET status = 'sending', claimed_by = NULL")  # its sender is gone
    settings = config.load(cwd=workspace)
    campaign = campaigns.load("mc", settings)
    from dunning.channels.select import channel_for

    report = sending.send(campaign, store, channel_for(campaign, settings), as_of=AS_OF, dry_run=False)
    assert report.sent == 7 and len(report.resent_in_flight) == 7
    assert len(mailchimp.campaigns) == 4 and all(c["status"] == "sent" for c in mailchimp.campaigns.values())


Reminder = namedtuple("Reminder", "id order_id email language subject merge_fields")


def channel(mailchimp, **settings):
    options = dict(list_id="list1", api_url=mailchimp.url, backoff_seconds=0.001) | settings
    return MailchimpChannel(MailchimpSettings(**options), Templates(), Shop("Shop", "help@shop.example", Stage("friendly", "Friendly", 3), False),
                            environ={"DUNNING_MAILCHIMP_API_KEY": KEY})


def test_members_go_in_batches_of_500_and_long_text_is_clipped(mailchimp):
    fields = json.dumps({"first_name": "Ann", "product_name": "Ü" * 300, "open_amount_text": "1,00 €"})
    reminders = [Reminder(n, f"O-{n}", f"c{n}@example.com", "en", "Reminder", fields) for n in range(1200)]
    results = channel(mailchimp).deliver("big", "Shop", "help@shop.example", reminders)
    assert all(ok for ok, _ in results.values()) and len(results) == 1200
    batches = [p for m, p in mailchimp.requests if m == "POST" and p == "/3.0/lists/list1"]
    assert len(batches) == 3
    product = mailchimp.audiences["list1"].members["c7@example.com"]["merge_fields"]["PRODUCT"]
    assert len(product.encode()) <= 255


def test_schedule_on_the_quarter_hour(mailchimp):
    reminders = [Reminder(1, "O-1", "a@example.com", "en", "Reminder", "{}")]
    channel(mailchimp, schedule_time="2026-11-25T09:15:00+00:00").deliver("s", "Shop", "h@shop.example", reminders)
    assert [c["status"] for c in mailchimp.campaigns.values()] == ["schedule"]
    with pytest.raises(PermanentFailure, match="quarter-hour"):
        channel(mailchimp, schedule_time="2026-11-25T09:10:00+00:00").deliver("t", "Shop", "h@shop.example", reminders)


def test_keys_are_one_clear_sentence(mailchimp):
    with pytest.raises(InputError, match="no Mailchimp API key"):
        MailchimpChannel(MailchimpSettings(list_id="list1"), Templates(), Shop("", "", Stage("friendly", "", 3), False), environ={})
    wrong = MailchimpChannel(MailchimpSettings(list_id="list1", api_url=mailchimp.url), Templates(),
                             Shop("", "", Stage("friendly", "", 3), False), environ={"DUNNING_MAILCHIMP_API_KEY": "wrong-us21"})
    with pytest.raises(InputError, match="Mailchimp refused the API key: API Key Invalid"):
        wrong.deliver("x", "Shop", "h@shop.example", [Reminder(1, "O-1", "a@example.com", "en", "s", "{}")])


def test_campaign_send_command_with_mailchimp(workspace, mailchimp, monkeypatch):
    monkeypatch.chdir(workspace)
    assert runner.invoke(app, ["campaign", "prepare", "mc", "--as-of", "2026-11-20"]).exit_code == 0
    result = runner.invoke(app, ["campaign", "send", "mc", "--send", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 7
    monkeypatch.setenv("DUNNING_MAILCHIMP_API_KEY", "")
    missing = runner.invoke(app, ["campaign", "send", "mc", "--send"])
    assert missing.exit_code == 2 and "no Mailchimp API key" in missing.stderr
