"""The Mailchimp channel end to end, through the official client, against a local Mailchimp API."""
import json
from collections import namedtuple
from datetime import date

import pytest
from typer.testing import CliRunner

from dunning import campaigns, config, sending
from dunning.channels import PermanentFailure, TemporaryFailure
from dunning.channels.mailchimp import MailchimpChannel, MailchimpSettings, Shop
from dunning.cli import app
from dunning.errors import InputError
from dunning.mailmerge import Templates
from dunning.journal.store import Store
from dunning.journal.tables import SENT
from dunning.policy import Stage
from tests.conftest import campaign_workspace
from tests.mailchimp_server import MAILCHIMP_FOOTER, FakeMailchimp, subscriber_hash

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
        f'[mailchimp]\nlist_id = "list1"\naudience_name = "Payment reminders"\napi_url = "{mailchimp.url}"\ntest_emails = ["owner@shop.example"]\nbackoff_seconds = 0.01\n')


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
    assert (report.sent, report.failed, report.waiting) == (7, 0, [])
    audience = mailchimp.audiences["list1"]
    tags = {f["tag"] for f in audience.merge_fields}
    assert {"OPENTEXT", "MANAGEURL", "DUETEXT", "ORDERID", "LINKEXP"} <= tags and len(audience.merge_fields) <= 30
    hans = audience.members[subscriber_hash("hans.weber@example.de")]
    assert hans["status"] == "subscribed" and hans["language"] == "de"
    assert hans["merge_fields"]["FNAME"] == "Hans" and hans["merge_fields"]["OPENTEXT"] == "39,80\xa0€"
    sent = {c["settings"]["title"].rsplit(" ", 1)[0]: c for c in mailchimp.campaigns.values()}
    assert set(sent) == {"dunning mc de", "dunning mc en", "dunning mc fr", "dunning mc nl"}
    german = sent["dunning mc de"]
    assert german["status"] == "sent" and german["emails_sent"] == 2
    assert german["settings"]["from_name"] == "Beispiel GmbH" and german["settings"]["reply_to"] == "help@shop.example"
    assert "Letzte Mahnung" in german["settings"]["subject_line"]
    assert len(mailchimp.tests_sent) == 4 and mailchimp.tests_sent[0][1] == ["owner@shop.example"]
    # what Hans received, rendered by Mailchimp from his merge fields: his order, his amount, his link,
    # the deadline of the final notice, the shop's own unsubscribe line (so no Mailchimp marketing footer)
    [message] = mailchimp.received("hans.weber@example.de")
    assert "P-2002" in message["text"] and "39,80\xa0€" in message["text"] and hans["merge_fields"]["MANAGEURL"] in message["text"]
    assert "4. Dezember 2026" in message["text"] and "Abmelden: https://example.us21.list-manage.com/unsubscribe" in message["text"]
    assert MAILCHIMP_FOOTER not in message["text"] and MAILCHIMP_FOOTER not in message["html"]
    assert 'href="https://example.us21.list-manage.com/unsubscribe' in message["html"]
    assert len(mailchimp.deliveries) == 7
    rows = store.reminders_of(prepared.campaign_id)
    assert {r.status for r in rows} == {SENT} and {r.message_id for r in rows} == set(mailchimp.campaigns)


def test_429_bursts_and_500s_are_retried(workspace, mailchimp):
    mailchimp.fail("PUT", r"/lists/list1/members/", 429, times=3)
    mailchimp.fail("POST", r"/campaigns$", 500, times=1)
    _, _, report = prepare_and_send(workspace)
    assert report.sent == 7 and len(mailchimp.deliveries) == 7
    assert sum(1 for m, p in mailchimp.requests if m == "PUT" and "/members/" in p) == 7 + 3


def test_a_refused_member_fails_alone(workspace, mailchimp):
    mailchimp.audiences["list1"].blocked.add("sara.rossi@example.it")
    _, _, report = prepare_and_send(workspace)
    assert (report.sent, report.failed) == (6, 1)
    order, reason = report.failures[0]
    assert order == "P-2006" and "compliance state" in reason


def test_a_rerun_after_a_crash_proves_the_send_instead_of_sending_again(workspace, mailchimp):
    store, prepared, _ = prepare_and_send(workspace)
    with store.engine.begin() as db:
        db.exec_driver_sql("UPDATE reminders SET status = 'sending', claimed_by = NULL")  # its sender died before marking them
    report = send_again(workspace, store)
    assert report.sent == 7 and report.resent_in_flight == []
    assert len(mailchimp.campaigns) == 4 and len(mailchimp.deliveries) == 7


def test_a_crash_before_the_send_leaves_no_draft_and_sends_once(workspace, mailchimp):
    mailchimp.fail("POST", r"/actions/send$", 500, times=5)  # the first campaign's send never gets through
    settings = config.load(cwd=workspace)
    store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
    campaigns.prepare(campaigns.load("mc", settings), settings, store, AS_OF, ["k"])
    with pytest.raises(TemporaryFailure):
        send_again(workspace, store)
    assert {c["status"] for c in mailchimp.campaigns.values()} == {"save"}
    handed = {r.message_id for r in store.reminders_of(store.campaign("mc").id) if r.message_id}
    assert handed and handed <= set(mailchimp.campaigns)
    with store.engine.begin() as db:
        db.exec_driver_sql("UPDATE reminders SET claimed_by = NULL")
    report = send_again(workspace, store)
    assert report.sent == 7 and len(mailchimp.deliveries) == 7
    assert not handed & set(mailchimp.campaigns) and {c["status"] for c in mailchimp.campaigns.values()} == {"sent"}


def send_again(workspace, store):
    settings = config.load(cwd=workspace)
    campaign = campaigns.load("mc", settings)
    from dunning.channels.select import channel_for

    return sending.send(campaign, store, channel_for(campaign, settings), as_of=AS_OF, dry_run=False)


Reminder = namedtuple("Reminder", "id order_id email language subject merge_fields message_id", defaults=(None,))


def channel(mailchimp, **settings):
    options = dict(list_id="list1", audience_name="Payment reminders", api_url=mailchimp.url, backoff_seconds=0.001) | settings
    return MailchimpChannel(MailchimpSettings(**options), Templates(), Shop("Shop", "help@shop.example", Stage("friendly", "Friendly", 3)),
                            environ={"DUNNING_MAILCHIMP_API_KEY": KEY}, sleep=lambda seconds: None)


def deliver(channel, name: str, reminders: list, handed=lambda ids, campaign_id: None):
    return channel.deliver(name, "Shop", "help@shop.example", reminders, as_of=AS_OF, handed=handed)


def reminder(number: int, email: str, order_id: str | None = None, **fields) -> Reminder:
    values = {"first_name": "Ann", "order_id": order_id or f"O-{number}", "open_amount_text": f"{number},00 €"} | fields
    return Reminder(number, values["order_id"], email, "en", "Reminder", json.dumps(values))


def test_a_campaign_name_used_again_sends_the_new_reminders(mailchimp):
    first = deliver(channel(mailchimp), "weekly", [reminder(1, "a@example.com"), reminder(2, "b@example.com")])
    second = deliver(channel(mailchimp), "weekly", [reminder(3, "c@example.com"), reminder(4, "a@example.com")])
    assert all(ok for ok, _ in first.values()) and all(ok for ok, _ in second.values())
    assert len(mailchimp.campaigns) == 2 and first[1][1] != second[3][1]
    assert [m["text"].count("O-3") for m in mailchimp.received("c@example.com")] == [1]
    assert ["O-1" in m["text"] for m in mailchimp.received("a@example.com")] == [True, False]
    assert "O-4" in mailchimp.received("a@example.com")[1]["text"]


def test_two_orders_of_one_address_go_out_one_after_the_other(mailchimp):
    mailchimp.polls_to_finish = 3  # each campaign is still sending the first two times it is asked
    handed = []
    results = deliver(channel(mailchimp), "due", [reminder(1, "ann@example.com"), reminder(2, "Ann@Example.com"),
                                                  reminder(3, "bob@example.com")], handed=lambda ids, c: handed.append(ids))
    assert all(ok for ok, _ in results.values()) and handed == [[1, 3], [2]]
    received = mailchimp.received("ann@example.com")
    assert len(received) == 2 and "O-1" in received[0]["text"] and "O-2" in received[1]["text"]
    assert "1,00 €" in received[0]["text"] and "2,00 €" in received[1]["text"]


def test_a_scheduled_campaign_holds_the_second_order_of_an_address_for_the_next_run(mailchimp):
    scheduled = channel(mailchimp, schedule_time="2026-11-25T09:15:00+00:00")
    results = deliver(scheduled, "due", [reminder(1, "ann@example.com"), reminder(2, "ann@example.com")])
    assert results[1][0] is True and results[2][0] is None and "scheduled" in results[2][1]
    again = deliver(scheduled, "due", [reminder(2, "ann@example.com")])
    assert again[2][0] is None and "has not gone out yet" in again[2][1]
    assert mailchimp.audiences["list1"].members[subscriber_hash("ann@example.com")]["merge_fields"]["ORDERID"] == "O-1"


def test_a_contact_keeps_its_status_and_new_contacts_get_status_if_new(mailchimp):
    mailchimp.add_member("list1", "gone@example.com", "unsubscribed", FNAME="Gone")
    mailchimp.add_member("list1", "fan@example.com", "subscribed", FNAME="Fan")
    results = deliver(channel(mailchimp), "due", [reminder(1, "gone@example.com"), reminder(2, "fan@example.com"),
                                                  reminder(3, "new@example.com")])
    members = mailchimp.audiences["list1"].members
    assert members[subscriber_hash("gone@example.com")]["status"] == "unsubscribed"
    assert results[1] == (False, "gone@example.com is unsubscribed in the Mailchimp audience, and a campaign reaches only "
                                 "subscribed contacts: remind them by smtp or outbox")
    assert results[2][0] is True and results[3][0] is True
    assert members[subscriber_hash("new@example.com")]["status"] == "subscribed"
    pending = deliver(channel(mailchimp, status_if_new="pending"), "optin", [reminder(4, "later@example.com")])
    assert pending[4][0] is False and "is pending" in pending[4][1]
    with pytest.raises(InputError, match="status_if_new must be one of"):
        channel(mailchimp, status_if_new="cleaned")


def test_field_errors_are_named(mailchimp):
    mailchimp.audiences["list1"].merge_fields.append({"merge_id": 99, "tag": "OPENTEXT", "name": "Open", "type": "text"})
    mailchimp.refuse_field("OPENTEXT", "Please enter a value of at most 10 characters.")
    results = deliver(channel(mailchimp), "due", [reminder(1, "a@example.com", open_amount_text="1.234.567,00 €")])
    assert results[1] == (False, "Mailchimp refused a@example.com: Mailchimp answered 400: Invalid Resource: Your merge "
                                 "fields were invalid. (merge_fields.OPENTEXT: Please enter a value of at most 10 characters.)")


def test_collections_are_read_page_by_page(mailchimp):
    audience = mailchimp.audiences["list1"]
    audience.segments += [{"id": n, "name": f"tag {n}", "type": "static", "list_id": "list1", "member_count": 0,
                           "emails": []} for n in range(2500)]
    mc = channel(mailchimp)
    assert len(list(mc._pages(mc.client.lists.list_segments, "segments", "list1"))) == 2500
    assert mc._segment("list1", "tag 2499")["id"] == 2499 and len(audience.segments) == 2500


def test_members_are_added_one_by_one_and_long_text_is_clipped(mailchimp):
    reminders = [reminder(n, f"c{n}@example.com", product_name="Ü" * 300) for n in range(1, 601)]
    results = deliver(channel(mailchimp), "big", reminders)
    assert all(ok for ok, _ in results.values()) and len(results) == 600
    [campaign] = mailchimp.campaigns.values()
    segment_id = campaign["recipients"]["segment_opts"]["saved_segment_id"]
    assert campaign["emails_sent"] == 600 and len(mailchimp.deliveries) == 600
    assert sum(1 for m, p in mailchimp.requests if m == "POST" and p == f"/3.0/lists/list1/segments/{segment_id}") == 2
    assert mailchimp.audiences["list1"].segments == []  # the tag went with the campaign
    product = mailchimp.audiences["list1"].members[subscriber_hash("c7@example.com")]["merge_fields"]["PRODUCT"]
    assert len(product.encode()) <= 255


def test_schedule_on_the_quarter_hour(mailchimp):
    deliver(channel(mailchimp, schedule_time="2026-11-25T09:15:00+00:00"), "s", [reminder(1, "a@example.com")])
    assert [c["status"] for c in mailchimp.campaigns.values()] == ["schedule"]
    refused = deliver(channel(mailchimp, schedule_time="2026-11-25T09:10:00+00:00"), "t", [reminder(2, "b@example.com")])
    assert refused[2][0] is False and "Mailchimp refused the campaign 'dunning t en #2-" in refused[2][1]
    assert "Schedule time must be on the quarter-hour" in refused[2][1]


def test_keys_are_one_clear_sentence(mailchimp):
    with pytest.raises(InputError, match="no Mailchimp API key"):
        MailchimpChannel(MailchimpSettings(list_id="list1"), Templates(), Shop("", "", Stage("friendly", "", 3)), environ={})
    wrong = MailchimpChannel(MailchimpSettings(list_id="list1", api_url=mailchimp.url), Templates(),
                             Shop("", "", Stage("friendly", "", 3)), environ={"DUNNING_MAILCHIMP_API_KEY": "wrong-us21"})
    with pytest.raises(InputError, match="Mailchimp refused the API key: API Key Invalid"):
        deliver(wrong, "x", [reminder(1, "a@example.com")])


def test_campaign_send_command_with_mailchimp(workspace, mailchimp, monkeypatch):
    monkeypatch.chdir(workspace)
    assert runner.invoke(app, ["campaign", "prepare", "mc", "--as-of", "2026-11-20"]).exit_code == 0
    result = runner.invoke(app, ["campaign", "send", "mc", "--send", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 7
    monkeypatch.setenv("DUNNING_MAILCHIMP_API_KEY", "")
    missing = runner.invoke(app, ["campaign", "send", "mc", "--send"])
    assert missing.exit_code == 2 and "no Mailchimp API key" in missing.stderr


def test_confirmations_say_per_contact_whether_something_is_still_open(mailchimp):
    thanks = MailchimpChannel(MailchimpSettings(list_id="list1", audience_name="Payment reminders", api_url=mailchimp.url, backoff_seconds=0.001), Templates(),
                              Shop("Shop", "help@shop.example", Stage("confirmation", "Payment received", 0)),
                              environ={"DUNNING_MAILCHIMP_API_KEY": KEY}, sleep=lambda seconds: None)
    partial = reminder(1, "part@example.com", paid_amount_text="€40.00", open_amount_text="€160.00", open_amount="160.00")
    settled = reminder(2, "all@example.com", paid_amount_text="€100.00", open_amount_text="€0.00", open_amount="0.00")
    results = deliver(thanks, "thanks", [partial, settled])
    assert all(ok for ok, _ in results.values()) and len(mailchimp.campaigns) == 2
    [part] = mailchimp.received("part@example.com")
    [done] = mailchimp.received("all@example.com")
    assert "€160.00 is still open" in part["text"] and "your payment of €40.00" in part["text"]
    assert "Nothing is open any more" in done["text"] and "still open" not in done["text"]


def test_a_notice_before_the_due_date_goes_through_mailchimp(mailchimp):
    notice = MailchimpChannel(MailchimpSettings(list_id="list1", audience_name="Payment reminders", api_url=mailchimp.url, backoff_seconds=0.001), Templates(),
                              Shop("Shop", "help@shop.example", Stage("upcoming", "Upcoming payment", -7)),
                              environ={"DUNNING_MAILCHIMP_API_KEY": KEY}, sleep=lambda seconds: None)
    deliver(notice, "soon", [reminder(1, "uta@example.com", open_amount_text="€50.00", due_date_text="Dec 5, 2026")])
    [message] = mailchimp.received("uta@example.com")
    assert "your next payment of €50.00 falls due on Dec 5, 2026" in message["text"]


def final_notice(mailchimp, **settings):
    options = dict(list_id="list1", audience_name="Payment reminders", api_url=mailchimp.url, backoff_seconds=0.001) | settings
    return MailchimpChannel(MailchimpSettings(**options), Templates(),
                            Shop("Shop", "help@shop.example", Stage("final", "Final notice", 28)),
                            environ={"DUNNING_MAILCHIMP_API_KEY": KEY}, sleep=lambda seconds: None)


def customer(number: int) -> Reminder:
    """A reminder whose every value is this customer's own: order, name, product, amount, link, due date, fee."""
    language = ("en", "de", "fr")[number % 3]
    values = {"first_name": f"Name{number:03d}", "last_name": f"Last{number:03d}", "order_id": f"O-{number:03d}",
              "product_name": f"Product{number:03d}", "open_amount_text": f"{number}0,{number:02d} €",
              "due_date_text": f"{number % 28 + 1}. Day{number:03d}", "manage_url": f"https://pay.example/m/tok{number:03d}",
              "fee_text": f"{number},50 €" if number % 2 else "", "reminders_sent": number % 4 // 2,
              "open_amount": f"{number}0.{number:02d}"}
    return Reminder(number, values["order_id"], f"c{number:03d}@example.com", language, "", json.dumps(values))


def test_every_recipient_receives_only_their_own_data(mailchimp):
    """29 customers in three languages, with and without fees, reminded before or not: each message, subject
    included, holds that customer's values and nothing of anyone else's."""
    everyone = [customer(n) for n in range(1, 30)]
    results = deliver(final_notice(mailchimp), "final", everyone)
    assert all(ok for ok, _ in results.values()) and len(mailchimp.deliveries) == 29
    for reminder in everyone:
        own = json.loads(reminder.merge_fields)
        [message] = mailchimp.received(reminder.email)
        received = " ".join((message["subject"], message["text"], message["html"]))
        assert own["order_id"] in message["subject"]
        for key in ("first_name", "order_id", "product_name", "open_amount_text", "manage_url"):
            assert own[key] in message["text"], (reminder.email, key)
        if own["fee_text"]:
            assert own["fee_text"] in message["text"]
        else:
            assert not any(word in message["text"] for word in ("fee", "Mahngebühr", "frais")), message["text"]
        assert ("Despite our reminders" in message["text"]) == (reminder.language == "en" and own["reminders_sent"] > 0)
        for other in everyone:
            if other is not reminder:
                theirs = json.loads(other.merge_fields)
                leaked = [theirs[k] for k in ("first_name", "last_name", "order_id", "product_name", "manage_url",
                                              "due_date_text") if theirs[k] in received]
                assert leaked == [], (reminder.email, other.email, leaked)
                assert other.email not in received


def test_a_lost_answer_to_the_send_is_judged_by_the_campaign_state(workspace, mailchimp):
    """Mailchimp accepts the send, the answer is lost (503), the retry is refused as already sent: the campaign's
    status says it went out, every reminder is sent once, and a rerun sends nothing."""
    mailchimp.fail("POST", r"/actions/send$", 503, times=1, after=True)
    store, prepared, report = prepare_and_send(workspace)
    assert (report.sent, report.failed) == (7, 0) and len(mailchimp.deliveries) == 7
    assert {c["status"] for c in mailchimp.campaigns.values()} == {"sent"}
    again = send_again(workspace, store)
    assert (again.sent, again.failed) == (0, 0) and len(mailchimp.deliveries) == 7


def test_a_campaign_mailchimp_refuses_fails_alone(mailchimp):
    mailchimp.fail("POST", r"/actions/send$", 400, times=1)  # the first campaign (de) is refused, the next (en) goes
    results = deliver(final_notice(mailchimp), "final", [customer(3), customer(4)])
    assert results[4][0] is False and "Mailchimp refused the campaign 'dunning final de #4-" in results[4][1]
    assert results[3][0] is True and [m["email"] for m in mailchimp.deliveries] == ["c003@example.com"]
    assert [c["status"] for c in mailchimp.campaigns.values()] == ["sent"]  # the refused draft is not left behind


def test_only_the_audience_kept_for_reminders_is_used(mailchimp):
    with pytest.raises(InputError, match=r"audience_name is not set: .* \(list list1 is 'Payment reminders'\)"):
        deliver(final_notice(mailchimp, audience_name=""), "x", [customer(1)])
    with pytest.raises(InputError, match="list_id 'list1' is the audience 'Payment reminders', not 'Reminders'"):
        deliver(final_notice(mailchimp, audience_name="Reminders"), "x", [customer(1)])
    with pytest.raises(InputError, match=r"list_id 'nope': Mailchimp answered 404"):
        deliver(final_notice(mailchimp, list_id="nope"), "x", [customer(1)])
    mailchimp.campaigns["news"] = {"id": "news", "type": "regular", "status": "sent", "settings": {"title": "November news"},
                                   "recipients": {"list_id": "list1", "segment_opts": {}}, "sent_to": [], "polls": 0}
    with pytest.raises(InputError, match="holds the campaign 'November news', which dunning did not make"):
        deliver(final_notice(mailchimp), "x", [customer(1)])
    assert mailchimp.audiences["list1"].members == {}  # nobody was added


def test_the_accounts_first_audience_is_refused():
    with FakeMailchimp(KEY, list_ids=("newsletter", "reminders")) as fake:
        fake.audiences["newsletter"].name = "Shop newsletter"
        with pytest.raises(InputError, match="'Shop newsletter' is the account's first audience"):
            deliver(final_notice(fake, list_id="newsletter", audience_name="Shop newsletter"), "x", [customer(1)])
        results = deliver(final_notice(fake, list_id="reminders"), "x", [customer(1)])
        assert results[1][0] is True and fake.audiences["newsletter"].members == {}


def test_no_tag_is_left_behind(mailchimp):
    scheduled = final_notice(mailchimp, schedule_time="2026-11-25T09:15:00+00:00")
    deliver(scheduled, "s", [customer(1)])
    [tag] = mailchimp.audiences["list1"].segments  # a scheduled campaign still needs its tag
    [campaign] = mailchimp.campaigns.values()
    campaign["status"], campaign["sent_to"] = "sent", [subscriber_hash("c001@example.com")]  # Mailchimp sent it later
    deliver(final_notice(mailchimp), "t", [customer(2)])
    assert mailchimp.audiences["list1"].segments == []


def test_an_address_mailchimp_cannot_take_fails_with_its_reason(mailchimp):
    results = deliver(final_notice(mailchimp), "final", [customer(3)._replace(email="jürgen@example.de"), customer(6)])
    assert results[3] == (False, "Mailchimp refused jürgen@example.de: Mailchimp answered 400: Invalid Resource: "
                                 "jürgen@example.de looks fake or invalid, please enter a real email address.")
    assert results[6][0] is True and len(mailchimp.deliveries) == 1
