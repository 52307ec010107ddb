"""SMTP against a real server (aiosmtpd on loopback): TLS, login, retries, refusals, drops, crash and resume."""
import email
import email.policy
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from dunning import campaigns, config, sending
from dunning.channels import Outgoing, PermanentFailure
from dunning.channels.smtp import SmtpChannel, SmtpSettings
from dunning.errors import InputError
from dunning.journal.store import Store
from tests.conftest import allow_skipping_stages

AS_OF = date(2026, 11, 20)


class Recorder:
    """Accepts mail and records it; can refuse some recipients and drop the connection."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.temporary: dict[str, int] = {}   # address -> how many times to answer 451 first
        self.permanent: set[str] = set()      # addresses answered with 550
        self.drop_before_mail: set[int] = set()  # message counts after which the next MAIL drops the connection

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if len(self.messages) in self.drop_before_mail:
            self.drop_before_mail.discard(len(self.messages))
            server.transport.close()
            return "421 closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return "550 5.1.1 no such mailbox"
        if self.temporary.get(address, 0) > 0:
            self.temporary[address] -= 1
            return "451 4.7.1 greylisted, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


def outgoing(n=1, **changes):
    fields = dict(reminder_id=n, order_id=f"O-{n}", to=f"customer{n}@example.com", to_name="Anna Müller",
                  subject="Erinnerung", text="Hallo", html="<p>Hallo</p>", sender="Shop <billing@shop.example>",
                  reply_to="help@shop.example", message_id=f"<dunning.1.{n}@shop.example>",
                  list_unsubscribe="<mailto:help@shop.example?subject=unsubscribe>", language="de")
    return Outgoing(**(fields | changes))


def channel(port, **settings):
    return SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none", backoff_seconds=0.01, **settings), environ={})


def test_one_connection_for_the_batch_with_proper_headers(smtp_server):
    recorder, port = smtp_server
    smtp = channel(port)
    for n in range(1, 4):
        assert smtp.send(outgoing(n)) == f"<dunning.1.{n}@shop.example>"
    connection = smtp.connection
    assert connection is not None and smtp.connection is connection
    smtp.close()
    first = recorder.messages[0]
    assert first["To"] == "Anna Müller <customer1@example.com>" and first["Message-ID"] == "<dunning.1.1@shop.example>"
    assert first["List-Unsubscribe"] == "<mailto:help@shop.example?subject=unsubscribe>"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]


def test_temporary_refusals_are_retried_and_permanent_ones_are_not(smtp_server):
    recorder, port = smtp_server
    recorder.temporary["customer1@example.com"] = 2
    recorder.permanent.add("customer2@example.com")
    smtp = channel(port, retries=3)
    smtp.send(outgoing(1))
    with pytest.raises(PermanentFailure, match="550 5.1.1 no such mailbox"):
        smtp.send(outgoing(2))
    smtp.send(outgoing(3))
    assert [m["To"].addresses[0].addr_spec for m in recorder.messages] == ["customer1@example.com", "customer3@example.com"]


def test_a_dropped_connection_is_reopened(smtp_server):
    recorder, port = smtp_server
    recorder.drop_before_mail.add(1)
    smtp = channel(port)
    smtp.send(outgoing(1))
    smtp.send(outgoing(2))
    assert len(recorder.messages) == 2


def test_header_injection_is_impossible(smtp_server):
    recorder, port = smtp_server
    smtp = channel(port)
    smtp.send(outgoing(1, subject="Hallo\r\nBcc: victim@example.com", to_name="Eve\nBcc: other@example.com"))
    message = recorder.messages[0]
    assert message["Bcc"] is None and message["Subject"] == "Hallo Bcc: victim@example.com"


def test_missing_password_is_one_sentence():
    with pytest.raises(InputError, match="DUNNING_SMTP_PASSWORD is not"):
        SmtpChannel(SmtpSettings(host="127.0.0.1"), environ={"DUNNING_SMTP_USER": "shop"})


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(certificate, security):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; under implicit SSL the line is encrypted anyway
    options = dict(authenticator=authenticator, auth_require_tls=security == "starttls")
    if security == "starttls":
        controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True, **options)
    else:
        controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), ssl_context=context, **options)
    controller.start()
    try:
        smtp = SmtpChannel(SmtpSettings(host="127.0.0.1", port=controller.port, security=security, ca_file=str(cert)),
                           environ={"DUNNING_SMTP_USER": "shop", "DUNNING_SMTP_PASSWORD": "s3cret"})
        smtp.send(outgoing(1))
        smtp.close()
    finally:
        controller.stop()
    assert logins == [(b"shop", b"s3cret")] and len(recorder.messages) == 1


def _workspace(tmp_path, examples, port, orders=30, connections=4):
    config.init(tmp_path)
    allow_skipping_stages(tmp_path)
    lines = ["order_id,email,first_name,last_name,language,product_name,currency,status,start_date,interval,installments,installment_amount"]
    lines += [f"S-{n:03d},c{n}@example.com,Kim,Lee,en,Course,EUR,active,2026-06-01,1 month,3,50.00" for n in range(orders)]
    (tmp_path / "plans.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "campaigns" / "big.toml").write_text(
        f'stage = "final"\nchannel = "smtp"\nrate_per_minute = 600\nconnections = {connections}\n[input]\nfile = "../plans.csv"\n'
        f'[sender]\nfrom = "Shop <billing@shop.example>"\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')
    return tmp_path


def test_a_refused_address_is_marked_failed_and_the_batch_goes_on(smtp_server, tmp_path, examples, signing_key):
    recorder, port = smtp_server
    workspace = _workspace(tmp_path, examples, port, orders=5)
    recorder.permanent.add("c2@example.com")
    settings = config.load(cwd=workspace)
    campaign = campaigns.load("big", settings)
    store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
    campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
    report = sending.send(campaign, store, SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none"), environ={}),
                            as_of=AS_OF, dry_run=False, sleep=lambda s: None)
    assert (report.sent, report.failed) == (4, 1)
    assert report.failures == [("S-002", "550 5.1.1 no such mailbox")]


@pytest.mark.parametrize("connections", [1, 4])
def test_killed_mid_batch_then_rerun_sends_every_order_once_at_most_one_twice_per_connection(
        smtp_server, tmp_path, examples, signing_key, connections):
    recorder, port = smtp_server
    workspace = _workspace(tmp_path, examples, port, orders=30, connections=connections)
    settings = config.load(cwd=workspace)
    store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
    campaigns.prepare(campaigns.load("big", settings), settings, store, AS_OF, ["k"])
    command = [sys.executable, "-m", "dunning", "campaign", "send", "big", "--send", "--json"]
    process = subprocess.Popen(command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(recorder.messages) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    received_before = len(recorder.messages)
    assert 10 <= received_before < 30
    rerun = subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    addresses = [m["To"].addresses[0].addr_spec for m in recorder.messages]
    assert set(addresses) == {f"c{n}@example.com" for n in range(30)}
    twice = len(addresses) - len(set(addresses))
    summary = __import__("json").loads(rerun.stdout)
    assert summary["sent"] == 30 - received_before + twice
    # each connection had at most one reminder in flight; every one that may have arrived twice is named
    assert twice <= len(summary["resent_in_flight"]) <= connections
    assert {a for a in addresses if addresses.count(a) > 1} <= {f"c{int(o[2:])}@example.com" for o in summary["resent_in_flight"]}


def test_a_refused_login_stops_every_connection_and_leaves_the_batch_to_send(tmp_path, examples, signing_key):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), auth_require_tls=False,
                            authenticator=lambda *args: AuthResult(success=False, handled=False))
    controller.start()
    try:
        workspace = _workspace(tmp_path, examples, controller.port, orders=10, connections=4)
        settings = config.load(cwd=workspace)
        campaign = campaigns.load("big", settings)
        store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
        prepared = campaigns.prepare(campaign, settings, store, AS_OF, ["k"])
        wrong = {"DUNNING_SMTP_USER": "shop", "DUNNING_SMTP_PASSWORD": "wrong"}
        channels = [SmtpChannel(SmtpSettings(host="127.0.0.1", port=controller.port, security="none"), environ=wrong)
                    for _ in range(4)]
        with pytest.raises(InputError, match="refused the login for shop"):
            sending.send(campaign, store, channels, as_of=AS_OF, dry_run=False, sleep=lambda s: None)
    finally:
        controller.stop()
    assert recorder.messages == [] and store.counts(prepared.campaign_id) == {"prepared": 10}


def test_an_address_beyond_ascii_goes_out_with_smtputf8_or_fails_clearly(tmp_path):
    from dunning.channels.outbox import OutboxChannel

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        channel(controller.port).send(outgoing(1, to="jürgen.müller@example.de"))
    finally:
        controller.stop()
    received = str(recorder.messages[0]["To"]).encode("utf-8", "surrogateescape").decode("utf-8")
    assert "<jürgen.müller@example.de>" in received
    plain = Recorder()
    controller = Controller(plain, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=False)
    controller.start()
    try:
        with pytest.raises(PermanentFailure, match="does not offer SMTPUTF8, which the address jürgen.müller@example.de needs"):
            channel(controller.port).send(outgoing(2, to="jürgen.müller@example.de"))
    finally:
        controller.stop()
    OutboxChannel(tmp_path / "outbox").send(outgoing(3, to="jürgen.müller@example.de"))
    written = (tmp_path / "outbox" / "O-3.3.eml").read_bytes()
    assert "To: Anna Müller <jürgen.müller@example.de>".encode() in written
