"""Two processes at once, on SQLite and PostgreSQL: the database settles who records what."""
import json
import subprocess
import sys

from typer.testing import CliRunner

from dunning.cli import app
from dunning.journal.store import Store
from tests.conftest import moved, observed
from tests.test_smtp import smtp_server  # noqa: F401  (a real SMTP server on loopback)

KEY = "race-key-0123456789abcdef0123456789"
SECRET = "race-webhook-secret-0123456789"
HEADER = "order_id,email,first_name,last_name,language,currency,status,due_date,open_amount"


def export(path, amounts):
    rows = [f"O-{n},c{n}@example.com,A,B,en,EUR,pending,2026-10-01,{amount}" for n, amount in enumerate(amounts)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    return path


def test_two_imports_of_the_same_later_export_record_each_drop_once(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    first = export(tmp_path / "first.csv", ["100.00"] * 60)
    later = export(tmp_path / "later.csv", ["40.00"] * 60)
    handed = CliRunner().invoke(app, ["export", str(first), "--to", "generic", "--as-of", "2026-11-01", "--json"])
    assert handed.exit_code == 0, handed.output
    command = [sys.executable, "-m", "dunning", "track", "import", str(later), "--as-of", "2026-11-10"]
    env = {**__import__("os").environ, "DUNNING_SECRET_KEYS": KEY, "DUNNING_DATABASE_URL": database_url}
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    counts = [int(out.split(" changes in what")[0].split()[-1]) for out, _ in outputs]
    assert sum(counts) == 60  # each drop recorded by exactly one of them
    drops = observed(Store(database_url)).query("kind == 'drop'")
    assert len(drops) == 60 and int(drops["amount"].sum()) == 60 * 6000
    assert int(moved(Store(database_url))["amount"].sum()) == 60 * 6000  # paid to the shop directly, counted once
    report = CliRunner().invoke(app, ["report", "--as-of", "2026-11-30", "--json"])
    eur = json.loads(report.stdout)["by currency"][0]
    assert (eur["orders_reminded"], eur["amount_recovered"], eur["still_open"]) == (60, "3600.00", "2400.00")


def test_two_senders_at_once_deliver_every_reminder_once(tmp_path, monkeypatch, database_url, smtp_server):  # noqa: F811
    """A cron job and a person run the same send: each reminder is claimed by one of them."""
    recorder, port = smtp_server
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    CliRunner().invoke(app, ["init", str(tmp_path)])
    export(tmp_path / "orders.csv", ["25.00"] * 300)
    (tmp_path / "campaigns" / "now.toml").write_text(
        'stage = "friendly"\nchannel = "smtp"\nrate_per_minute = 600000\n[input]\nfile = "../orders.csv"\n'
        f'[sender]\nfrom = "Shop <billing@shop.example>"\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')
    monkeypatch.chdir(tmp_path)
    prepared = CliRunner().invoke(app, ["campaign", "prepare", "now", "--as-of", "2026-11-10", "--json"])
    assert json.loads(prepared.stdout)["prepared"] == 300, prepared.output
    outputs = sent_twice_at_once("now", tmp_path, database_url)
    addresses = [m["To"].addresses[0].addr_spec for m in recorder.messages]
    assert len(addresses) == len(set(addresses)) == 300
    summaries = [json.loads(out) for out, _ in outputs]
    assert sum(s["sent"] for s in summaries) == 300 and all(s["resent_in_flight"] == [] for s in summaries)
    assert Store(database_url).counts(Store(database_url).campaign("now").id) == {"sent": 300}


def sent_twice_at_once(campaign: str, workspace, database_url) -> list[tuple[str, str]]:
    """`dunning campaign send <campaign> --send` run by two processes at once; both must end well."""
    command = [sys.executable, "-m", "dunning", "campaign", "send", campaign, "--send", "--as-of", "2026-11-10", "--json"]
    env = {**__import__("os").environ, "DUNNING_SECRET_KEYS": KEY, "DUNNING_DATABASE_URL": database_url}
    runs = [subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    return outputs


def serving(tmp_path, database_url):
    """`dunning serve` (gunicorn, 2 workers) on loopback for this workspace; yields its base URL."""
    import os
    import socket
    import time

    from tests.test_smtp import free_port

    port = free_port()
    env = {**os.environ, "DUNNING_SECRET_KEYS": KEY, "DUNNING_DATABASE_URL": database_url, "DUNNING_WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "dunning", "serve", "--port", str(port), "--workers", "2"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "dunning serve did not start"
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def deliver(base: str, body: dict, raw_stamp: int | None = None) -> int:
    import http.client
    import time

    from dunning.web import webhook

    raw = json.dumps(body).encode()
    stamp = raw_stamp or int(time.time())
    connection = http.client.HTTPConnection(base.split("//")[1], timeout=30)
    connection.request("POST", "/webhooks/payments", body=raw, headers={
        "Content-Type": "application/json", webhook.TIMESTAMP_HEADER: str(stamp),
        webhook.SIGNATURE_HEADER: webhook.sign(SECRET, stamp, raw)})
    status = connection.getresponse().status
    connection.close()
    return status


def test_webhook_deliveries_at_the_same_moment_are_each_stored_once(tmp_path, monkeypatch, database_url):
    """16 different payments at once, 10 rounds, then identical replays at once: nothing lost, nothing doubled,
    and the first requests of fresh workers on PostgreSQL do not share a connection."""
    import threading
    import time

    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    CliRunner().invoke(app, ["init", str(tmp_path)])
    handed = CliRunner().invoke(app, ["overdue", str(export(tmp_path / "o.csv", ["1000.00"] * 16)), "--as-of", "2026-11-10"])
    assert handed.exit_code == 0, handed.output
    server, base = serving(tmp_path, database_url)
    try:
        statuses: list[int] = []
        for round_ in range(10):
            bodies = [{"payment_id": f"r{round_}-{n}", "order_id": f"O-{n}", "amount": "10.00", "currency": "EUR",
                       "paid_at": "2026-11-11"} for n in range(16)]
            threads = [threading.Thread(target=lambda b=b: statuses.append(deliver(base, b))) for b in bodies]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert statuses.count(201) == 160, sorted(set(statuses))
        same = {"payment_id": "twice", "order_id": "O-1", "amount": "5.00", "currency": "EUR", "paid_at": "2026-11-11"}
        stamp = int(time.time())
        replays: list[int] = []
        threads = [threading.Thread(target=lambda: replays.append(deliver(base, same, stamp))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(replays) == [201] + [409] * 7
    finally:
        server.terminate()
        server.wait(timeout=30)
    paid = observed(Store(database_url))
    webhook_rows = paid[paid["source"] == "webhook"]
    assert len(webhook_rows) == webhook_rows["source_key"].nunique() == 161
    assert int(webhook_rows["amount"].sum()) == 160 * 1000 + 500
    assert int(moved(Store(database_url))["amount"].sum()) == 160 * 1000 + 500


def test_two_processes_opening_a_new_store_at_once_both_succeed(database_url):
    """Both run the migrations' check; on PostgreSQL one migrates while the other waits for its lock."""
    import sqlalchemy as sa

    from dunning.journal.tables import metadata

    opener = "import sys; from dunning.journal.store import Store; Store(sys.argv[1])"
    for _ in range(3):
        runs = [subprocess.Popen([sys.executable, "-c", opener, database_url], stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        assert [run.wait(timeout=120) for run in runs] == [0, 0], [run.stderr.read() for run in runs]
        engine = sa.create_engine(database_url)
        metadata.drop_all(engine)  # empty the store again for the next round
        with engine.begin() as db:
            db.execute(sa.text("DROP TABLE alembic_version"))
        engine.dispose()


def test_two_imports_of_one_payments_file_at_once_count_each_payment_once(tmp_path, monkeypatch, database_url):
    import os

    rows = ["payment_id,order_id,paid_at,amount,currency"] + [f"p{n},O-{n % 7},2026-11-0{1 + n % 9},1.00,EUR" for n in range(400)]
    (tmp_path / "pay.csv").write_text("\n".join(rows) + "\n", "utf-8")
    env = {**os.environ, "DUNNING_DATABASE_URL": database_url}
    opener = subprocess.run([sys.executable, "-c", "import sys; from dunning.journal.store import Store; Store(sys.argv[1])", database_url])
    assert opener.returncode == 0
    command = [sys.executable, "-m", "dunning", "track", "payments", str(tmp_path / "pay.csv"), "--as-of", "2026-11-20", "--json"]
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum(json.loads(out)["new"] for out, _ in outputs) == 400
    assert len(observed(Store(database_url))) == 400  # kept, for orders the ledger does not know yet


def test_two_cancellations_of_the_same_orders_at_once_record_each_once(tmp_path, monkeypatch, database_url):
    from dunning.journal import decisions

    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    orders = export(tmp_path / "orders.csv", ["100.00"] * 20)
    looked = CliRunner().invoke(app, ["overdue", str(orders), "--as-of", "2026-11-01", "--json"])
    assert looked.exit_code == 0, looked.output
    ids = [arg for n in range(20) for arg in ("--order", f"O-{n}")]
    env = {**__import__("os").environ, "DUNNING_SECRET_KEYS": KEY, "DUNNING_DATABASE_URL": database_url}
    runs = [subprocess.Popen([sys.executable, "-m", "dunning", "actions", "cancel", *ids, "--as-of", "2026-11-20", "--json",
                              "--csv", str(tmp_path / f"shop-{n}.csv")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for n in range(2)]
    answers = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], answers
    said = [json.loads(out) for out, _ in answers]
    assert sorted(said[0]["cancelled"] + said[1]["cancelled"]) == sorted(f"O-{n}" for n in range(20))  # each by one
    made = decisions.decided(Store(database_url))
    assert len(made) == 20 and set(made["decision"]) == {"cancelled"} and int(made["amount_open"].sum()) == 20 * 10000
    for n in range(2):  # each run's file for the shop holds every order
        assert len((tmp_path / f"shop-{n}.csv").read_text("utf-8").splitlines()) == 21


def test_two_letter_runs_at_once_print_every_letter_once(tmp_path, monkeypatch, database_url):
    """A cron job and a person print the same letters campaign: each letter is written by one of them, and the two
    files to print hold every letter once between them."""
    import pypdf

    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    CliRunner().invoke(app, ["init", str(tmp_path)])
    rows = [f"O-{n},c{n}@example.com,A,B{n},en,EUR,pending,2026-10-01,25.00,Street {n},1010{n % 10},Berlin,DE" for n in range(24)]
    (tmp_path / "orders.csv").write_text("\n".join([HEADER + ",address_line1,postal_code,city,country", *rows]) + "\n", "utf-8")
    settings = tmp_path / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace(
        "[shop]\n", '[shop]\npostal_address = ["Shop GmbH", "Musterstraße 1", "10115 Berlin"]\ncountry = "DE"\n', 1), "utf-8")
    (tmp_path / "campaigns" / "post.toml").write_text(
        'stage = "friendly"\nchannel = "letters"\n[input]\nfile = "../orders.csv"\n[sender]\nfrom = "Shop <billing@shop.example>"\n')
    monkeypatch.chdir(tmp_path)
    prepared = CliRunner().invoke(app, ["campaign", "prepare", "post", "--as-of", "2026-11-10", "--json"])
    assert json.loads(prepared.stdout)["prepared"] == 24, prepared.output
    outputs = sent_twice_at_once("post", tmp_path, database_url)
    assert sum(json.loads(out)["sent"] for out, _ in outputs) == 24  # each letter by one of them
    folder = tmp_path / "letters" / "post"
    assert len(list(folder.glob("O-*.pdf"))) == 24
    printed = sorted(folder.glob("print-*.pdf"))
    assert [p.name for p in printed] in (["print-001.pdf"], ["print-001.pdf", "print-002.pdf"])  # one each that wrote any
    names = [line for p in printed for page in pypdf.PdfReader(p).pages for line in page.extract_text().splitlines()
             if line.startswith("A B")]
    assert sorted(names) == sorted(f"A B{n}" for n in range(24))  # every letter once across the files to print
