"""The command line through typer's runner: outputs, files, exit codes."""
import csv
import json
import os
import re
import subprocess
import sys

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dunning.cli import app

runner = CliRunner()
AS_OF = "2026-11-20"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_overdue_table_and_totals_per_currency(examples, signing_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "EUR: 5 orders" in result.stdout and "GBP: 1 order," in result.stdout and "JPY: 1 order," in result.stdout
    assert "€1,126.20" in result.stdout


def test_overdue_json_fields(examples, signing_key):
    result = run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    rows = {r["order_id"]: r for r in json.loads(result.stdout)}
    noor = rows["P-2001"]
    assert noor["open_amount"] == "247.00" and noor["paid_amount"] == "347.00"
    assert noor["oldest_due_date"] == "2026-08-31" and noor["days_overdue"] == 81
    assert noor["stage"] == "friendly" and noor["reason"] == "manual_payment"  # never reminded: the first stage first
    assert noor["reminders_sent"] == 0 and noor["last_stage"] == "" and noor["ledger_paid"] == "0.00"  # the file it read shows them all
    assert noor["manage_url"].startswith("https://shop.example/m/")
    assert rows["P-2005"]["open_amount"] == "18000"
    for field in ("email", "first_name", "last_name", "product_name", "currency"):
        assert field in noor


def test_missing_key_leaves_links_empty_and_says_so_once(examples, no_signing_key):
    result = run("overdue", examples / "plans.csv", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0
    assert result.stderr.count("DUNNING_SECRET_KEYS is not set") == 1
    assert all(r["manage_url"] is None or r["manage_url"] == "" for r in json.loads(result.stdout))


def test_csv_output_and_rejects_file(examples, signing_key, tmp_path):
    out = tmp_path / "overdue.csv"
    result = run("overdue", examples / "orders_elopage.csv", "--profile", "elopage", "--as-of", AS_OF, "--csv", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["order_id"] for r in rows} == {"E-10421", "E-10422", "E-10423", "E-10424", "E-10425", "E-10430"}
    assert next(r for r in rows if r["order_id"] == "E-10425")["open_amount"] == "1250.00"
    rejects = list(csv.DictReader((tmp_path / "overdue.rejects.csv").open(encoding="utf-8")))
    assert rejects == [{"file": str(examples / "orders_elopage.csv"), "row": "9", "column": "email",
                        "reason": "malformed e-mail address", "value": "kein-at-zeichen.example.de"}]
    assert "10 rows, 9 accepted, 1 rejected" in result.stderr


def test_filters_on_the_command_line(examples, no_signing_key):
    result = run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF,
                 "--kind", "subscription", "--min-amount", "100", "--json")
    assert [r["order_id"] for r in json.loads(result.stdout)] == ["P-2006", "P-2008"]


def test_bad_input_is_exit_2_with_one_sentence(tmp_path, samples):
    bad = tmp_path / "x.csv"
    bad.write_text("")
    for args in (["overdue", bad], ["overdue", tmp_path / "none.csv"],
                 ["overdue", samples / "stripe_invoices.csv", "--profile", "nope"],
                 ["overdue", samples / "paypal_activity_ptbr_broken_encoding.csv"]):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ")
        assert "Traceback" not in result.output


def test_usage_errors_are_exit_2(samples):
    assert run("overdue").exit_code == 2
    assert run("nonsense").exit_code == 2
    wrong_date = run("overdue", samples / "stripe_invoices.csv", "--as-of", "20.11.2026")
    assert wrong_date.exit_code == 2 and wrong_date.stderr.strip() == (
        "error: --as-of '20.11.2026' is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20")


def test_token_sign_and_verify(signing_key, examples):
    unknown = run("token", "sign", "P-2001", "--json")
    assert unknown.exit_code == 2 and "not in the ledger" in unknown.stderr
    assert run("overdue", examples / "plans.csv", "--as-of", AS_OF, "--json").exit_code == 0  # records the orders
    signed = run("token", "sign", "P-2001", "--json")
    assert signed.exit_code == 0
    token = json.loads(signed.stdout)["token"]
    ok = run("token", "verify", token, "--json")
    assert json.loads(ok.stdout) == {"valid": True, "order_id": "P-2001"}
    from dunning.tokens import TokenSigner

    nowhere = run("token", "verify", TokenSigner([signing_key]).sign("NEVER-READ"), "--json")
    assert nowhere.exit_code == 1 and json.loads(nowhere.stdout)["problem"] == "unknown"
    foreign = run("token", "verify", token, "--order", "A-2", "--json")
    assert foreign.exit_code == 1 and json.loads(foreign.stdout)["problem"] == "foreign"
    tampered = run("token", "verify", token[:-2], "--json")
    assert tampered.exit_code == 1 and json.loads(tampered.stdout)["problem"] == "tampered"


def test_token_commands_refuse_without_a_key(no_signing_key):
    result = run("token", "sign", "A-1")
    assert result.exit_code == 2 and "no signing key" in result.stderr


def test_init_writes_workspace_and_settings_apply(tmp_path, examples, no_signing_key):
    result = run("init", tmp_path / "shop")
    assert result.exit_code == 0
    settings = tmp_path / "shop" / "dunning.toml"
    assert settings.is_file() and (tmp_path / "shop" / "exports").is_dir() and (tmp_path / "shop" / "campaigns").is_dir()
    settings.write_text(settings.read_text().replace("grace_days = 0", "grace_days = 100"))
    result = run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF,
                 "--json", "--config", settings)
    assert {r["order_id"] for r in json.loads(result.stdout)} == {"P-2006", "P-2008"}


def test_bad_settings_are_exit_2(tmp_path, examples):
    settings = tmp_path / "dunning.toml"
    settings.write_text("[policy]\ngrace_days = -1\n")
    result = run("overdue", examples / "plans.csv", "--config", settings)
    assert result.exit_code == 2 and "grace_days must be a whole number" in result.stderr


def test_profiles_list():
    result = run("profiles", "--json")
    assert {"elopage", "shopify", "stripe_invoices", "woocommerce_subscriptions", "paypal_de", "generic"} <= {
        p["name"] for p in json.loads(result.stdout)}


def test_long_lists_are_cut_in_the_terminal_but_totals_cover_all(examples, no_signing_key):
    result = run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF, "--show", "2")
    assert "... and 5 more orders (--csv or --json gives them all)" in result.stdout
    assert "EUR: 5 orders" in result.stdout


def test_export_writes_csv_templates_and_manifest(examples, signing_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("export", examples / "orders_elopage.csv", "--profile", "elopage", "--as-of", AS_OF,
                 "--to", "mailchimp", "--stage", "friendly", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # jürgen.müller@... is left out: Mailchimp takes no umlaut before the @
    assert summary["rows"] == 5 and summary["csv"].endswith("exports/mailchimp-2026-11-20-stages_friendly.csv")
    assert summary["reminders_recorded"] == 5
    manifest = json.loads((tmp_path / "exports" / "mailchimp-2026-11-20-stages_friendly.manifest.json").read_text())
    assert manifest["filters"] == {"stages": ["friendly"]} and manifest["rows"] == 5 and manifest["rows_rejected"] == 1
    assert any(p.endswith("template.friendly.de.html") for p in summary["templates"])
    again = run("export", examples / "orders_elopage.csv", "--profile", "elopage", "--as-of", AS_OF,
                "--to", "mailchimp", "--stage", "friendly", "--json")
    repeated = json.loads(again.stdout)  # the hand-over was recorded: the cooldown holds them back
    assert repeated["csv"].endswith("stages_friendly-2.csv") and repeated["rows"] == 0


def test_export_refuses_without_key_and_names_the_tools(examples, no_signing_key, tmp_path):
    result = run("export", examples / "plans.csv", "--to", "brevo", "-o", tmp_path / "x.csv")
    assert result.exit_code == 2 and "no signing key" in result.stderr
    result = run("export", examples / "plans.csv", "--to", "sendgrid")
    assert result.exit_code == 2 and "choose one of mailchimp, klicktipp" in result.stderr


def test_export_to_an_existing_file_needs_force(examples, signing_key, tmp_path):
    target = tmp_path / "out.csv"
    args = ("export", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF, "--to", "getresponse", "-o", target)
    assert run(*args).exit_code == 0
    second = run(*args)
    assert second.exit_code == 2 and "exists" in second.stderr
    assert run(*args, "--force").exit_code == 0


def test_init_writes_an_example_campaign_that_loads(tmp_path):
    from dunning import campaigns, config

    run("init", tmp_path)
    settings = config.load(cwd=tmp_path)
    campaign = campaigns.load("example", settings)
    assert campaign.stage == "friendly" and campaign.channel == "outbox"


def test_excel_gets_a_byte_order_mark_and_the_languages_list_separator(examples, signing_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dunning.toml").write_text('[shop]\nfallback_language = "de"\n', "utf-8")
    assert run("overdue", examples / "plans.csv", "--as-of", AS_OF, "--csv", tmp_path / "o.csv", "--excel", "--dry-run").exit_code == 0
    raw = (tmp_path / "o.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    amounts = [r["open_amount"] for r in rows]
    assert "720,00" in amounts and all(re.fullmatch(r"[0-9]+(,[0-9]{2})?", a) for a in amounts)
    assert f";{amounts[0]};" in raw.decode("utf-8-sig")  # a number, unquoted, as German Excel reads it
    result = run("export", examples / "plans.csv", "--as-of", AS_OF, "--to", "generic", "-o", tmp_path / "g.csv", "--excel", "--no-record")
    assert result.exit_code == 0, result.output
    exported = (tmp_path / "g.csv").read_bytes()
    assert exported.startswith(b"\xef\xbb\xbf") and exported.splitlines()[0].count(b";") > 5
    plain = run("export", examples / "plans.csv", "--as-of", AS_OF, "--to", "generic", "-o", tmp_path / "p.csv", "--no-record")
    assert plain.exit_code == 0 and not (tmp_path / "p.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def every_command(group, path=()):
    """The path of every command and group of the command line."""
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from every_command(command, path + (name,))


def test_help_shows_no_value_for_a_flag_and_plain_names_for_lists():
    import typer.main

    paths = list(every_command(typer.main.get_command(app)))
    assert len(paths) > 25
    for path in paths:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "<bool>" not in result.output and "<list[" not in result.output and "%Y-%m-%d" not in result.output, path
    text = run("overdue", "--help").output
    assert "KIND" in text and "YYYY-MM-DD" in text


def test_campaign_list_names_the_workspaces_campaigns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init", ".", "--examples")
    listed = {c["campaign"]: c for c in json.loads(run("campaign", "list", "--json").stdout)}
    assert listed["second-reminder"]["stage"] == "second" and listed["example"]["channel"] == "outbox"


def test_a_settings_file_elsewhere_says_which_ledger_it_uses(examples, signing_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "klicktipp.toml").write_text('[shop]\nname = "Shop"\n', "utf-8")
    result = run("overdue", examples / "plans.csv", "--as-of", AS_OF, "--config", "other/klicktipp.toml")
    assert result.exit_code == 0
    assert f"ledger: {tmp_path / 'other' / 'dunning.sqlite3'} (beside other/klicktipp.toml; set [store] url there" \
           in result.stderr
    assert (tmp_path / "other" / "dunning.sqlite3").exists() and not (tmp_path / "dunning.sqlite3").exists()
    (tmp_path / "dunning.toml").write_text('[shop]\nname = "Shop"\n', "utf-8")
    here = run("overdue", examples / "plans.csv", "--as-of", AS_OF, "--config", "dunning.toml")
    assert here.exit_code == 0 and "ledger: /" not in here.stderr


def test_a_customers_whole_account_across_orders_and_currencies(tmp_path, signing_key, monkeypatch):
    monkeypatch.chdir(tmp_path)
    header = "order_id,email,first_name,last_name,language,product_name,kind,payment_method,currency,status,start_date,interval,installments,installment_amount"
    (tmp_path / "plans.csv").write_text("\n".join([
        header,
        "A-1,Anna@Example.com,Anna,Roth,de,Kurs,installment,bank_transfer,EUR,active,2026-08-01,1 month,4,50.00",
        "A-2,anna@example.com,Anna,Roth,de,Box,installment,bank_transfer,GBP,active,2026-09-01,1 month,3,30.00",
        "B-1,bert@example.com,Bert,Berg,de,Kurs,installment,bank_transfer,EUR,active,2026-08-01,1 month,4,50.00"]) + "\n", "utf-8")
    (tmp_path / "payments.csv").write_text("payment_id,order_id,paid_at,amount,currency\nP1,A-1,2026-08-02,50.00,EUR\n"
                                           "P2,A-2,2026-09-03,30.00,GBP\n", "utf-8")
    assert run("export", "plans.csv", "--payments", "payments.csv", "--as-of", AS_OF, "--to", "generic").exit_code == 0
    result = run("customer", "ANNA@example.com", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    account = json.loads(result.stdout)
    assert [o["order_id"] for o in account["orders"]] == ["A-1", "A-2"]  # both addresses, whatever their case; not Bert's
    assert account["owed_now"] == {"EUR": "150.00", "GBP": "60.00"}  # per currency, never summed
    events = account["events"]
    assert {e["order_id"] for e in events} == {"A-1", "A-2"}
    assert [e["when"] for e in events] == sorted(e["when"] for e in events)
    assert any(e["event"] == "movement" and e["order_id"] == "A-2" and e["amount"] == "30.00" for e in events)
    assert any(e["event"] == "reminder" and e["order_id"] == "A-1" for e in events)
    table = run("customer", "anna@example.com", "--as-of", AS_OF)
    assert table.exit_code == 0 and "owes now: 150.00 EUR; 60.00 GBP" in table.stdout
    unknown = run("customer", "nobody@example.com")
    assert unknown.exit_code == 2 and "the ledger holds no order of 'nobody@example.com'" in unknown.stderr


@pytest.mark.parametrize("chosen", [None, "system"])
def test_a_command_takes_arrows_memory_from_jemalloc_unless_the_user_chose_a_pool(tmp_path, chosen):
    if "jemalloc" not in pa.supported_memory_backends():
        pytest.skip("this pyarrow was built without jemalloc: the command keeps Arrow's default pool")
    script = ("import pyarrow as pa; from dunning.cli import app; app(['profiles'], standalone_mode=False); "
              "print(pa.default_memory_pool().backend_name)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == (chosen or "jemalloc")
