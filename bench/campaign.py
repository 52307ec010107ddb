"""Benchmark reminder rendering and SMTP sending next to the `mailmerge` package (PyPI), in one script.

Rendering, up to the bytes handed to the server on both sides: 100,000 reminders (text + HTML, the
customer's language) with dunning's templates and message writer, and the same number with mailmerge's
TemplateMessage on an equivalent multipart template, flattened as its SendmailClient does. Sending:
reminders as `campaign send` sends them (`dunning.send` with the store's bookkeeping, over the campaign's
connections, and over one), and the same number rendered and sent by mailmerge's SendmailClient (a
connection per message), to the same minimal SMTP sink (bench/sink.py, a process of its own, which keeps
nothing): once on loopback answering at once (10,000 messages), once answering each command 2 ms late as a
server across a network does (1,000 messages). Every figure is given as min/median/max of --runs runs.
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from mailmerge.sendmail_client import SendmailClient
from mailmerge.template_message import TemplateMessage

sys.path.insert(0, str(Path(__file__).parent))
from results import save  # noqa: E402
from export import AS_OF, overdue_frame  # noqa: E402
from loopback import free_port, wait_for  # noqa: E402

from dunning.campaigns import DEFAULT_CONNECTIONS, Campaign  # noqa: E402
from dunning.channels import Outgoing  # noqa: E402
from dunning.channels.email import as_bytes  # noqa: E402
from dunning.channels.smtp import SmtpChannel, SmtpSettings  # noqa: E402
from dunning.exclusions import Filters  # noqa: E402
from dunning.sending import send  # noqa: E402
from dunning.journal.store import Store  # noqa: E402
from dunning.exports.fields import values  # noqa: E402
from dunning import mailmerge  # noqa: E402
from dunning.mailmerge import Templates  # noqa: E402
from dunning.tokens import TokenSigner, add_links  # noqa: E402

MAILMERGE_TEMPLATE = """TO: {{email}}
SUBJECT: Payment reminder: order {{order_id}}
FROM: Shop <billing@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="boundary"

--boundary
Content-Type: text/plain; charset=utf-8

Hello {{first_name}},

your payment of {{open_amount_text}} for {{product_name}} (order {{order_id}}) was due on {{due_date_text}}.
Pay here: {{manage_url}}
The link is valid until {{link_expires_text}}.

--boundary
Content-Type: text/html; charset=utf-8

<p>Hello {{first_name}},</p><p>your payment of {{open_amount_text}} for {{product_name}} (order {{order_id}})
was due on {{due_date_text}}.</p><p><a href="{{manage_url}}">{{manage_url}}</a></p>
<p>The link is valid until {{link_expires_text}}.</p>
--boundary--
"""


def contexts(rows: int) -> list[dict]:
    frame = add_links(overdue_frame(rows), TokenSigner(["bench-key-not-secret-0123456789-0123"]),
                      "https://shop.example/m/{token}", issued_at=datetime.now(timezone.utc))
    table = values(frame, "en")
    return [mailmerge.context(row, language=row["language"], stage=None, stage_name=row["stage"], shop_name="Shop",
                              shop_contact="billing@shop.example", has_fee=False, reminders_sent=1)
            | {"email": row["email"], "stage": row["stage"]} for row in table.to_dict("records")]


def stored_reminders(data: list[dict], rendered: list, folder: Path, connections: int) -> tuple[Campaign, Store]:
    """A campaign of these reminders prepared in a new SQLite store, as `campaign prepare` leaves it."""
    store = Store(f"sqlite:///{folder / 'bench.sqlite3'}")
    campaign = Campaign(name="bench", path=folder / "bench.toml", stage="friendly", channel="smtp", input_file=folder / "none.csv",
                        profile=None, payments_file=None, payments_profile=None, filters=Filters(),
                        sender="Shop <billing@shop.example>", reply_to="help@shop.example", subjects={},
                        rate_per_minute=10**9, connections=connections)
    campaign_id = store.create_campaign("bench", "friendly", "smtp", AS_OF, "")
    store.add_reminders(campaign_id, [{
        "order_id": c["order_id"], "stage": "friendly", "email": c["email"], "first_name": c["first_name"], "last_name": "",
        "language": c["language"], "currency": "EUR", "open_amount": 14953, "fee": 0, "reason": "no_response",
        "token_id": "", "subject": m.subject, "body_text": m.text, "body_html": m.html,
    } for c, m in zip(data, rendered)])
    return campaign, store


def dunning_send(data: list[dict], rendered: list, port: int, connections: int) -> float:
    """Messages per second of `dunning.send` over `connections` SMTP connections, store bookkeeping included."""
    with tempfile.TemporaryDirectory() as folder:
        campaign, store = stored_reminders(data, rendered, Path(folder), connections)
        channels = [SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none"), environ={})
                    for _ in range(connections)]
        started = time.perf_counter()
        report = send(campaign, store, channels, as_of=AS_OF, dry_run=False)
        took = time.perf_counter() - started
        store.engine.dispose()
    if report.sent != len(data):
        raise SystemExit(f"dunning sent {report.sent} of {len(data)}: {report.failures[:3]}")
    return len(data) / took


def mailmerge_send(data: list[dict], reference: TemplateMessage, config: Path) -> float:
    """Messages per second of mailmerge rendering and sending each message, as its command does."""
    client = SendmailClient(config, dry_run=False)
    started = time.perf_counter()
    for context in data:
        sender, recipients, message = reference.render(context)
        client.sendmail(sender, recipients, message)
    return len(data) / (time.perf_counter() - started)


def render_to_bytes(templates: Templates, data: list[dict]) -> float:
    """Messages per second of dunning's templates and message writer, up to the bytes sent."""
    started = time.perf_counter()
    for n, context in enumerate(data):
        message = templates.render(context["stage"], context["language"], context)
        as_bytes(Outgoing(reminder_id=n, order_id=context["order_id"], to=context["email"], to_name=context["first_name"],
                          subject=message.subject, text=message.text, html=message.html, sender="Shop <billing@shop.example>",
                          reply_to="help@shop.example", message_id=f"<dunning.1.{n}@shop.example>",
                          list_unsubscribe="<mailto:help@shop.example?subject=unsubscribe>", language=context["language"]))
    return len(data) / (time.perf_counter() - started)


def mailmerge_render_to_bytes(reference: TemplateMessage, data: list[dict]) -> float:
    """Messages per second of mailmerge's TemplateMessage, flattened as its SendmailClient flattens it."""
    started = time.perf_counter()
    for context in data:
        str(reference.render(context)[2])
    return len(data) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--render", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=10_000, help="messages per send run to the sink on loopback")
    parser.add_argument("--send-across", type=int, default=1_000, help="messages per send run to the sink that answers late")
    parser.add_argument("--delay-ms", type=float, default=2.0, help="how late that sink answers each command (a network's round trip)")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--sink-processes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = contexts(max(args.render, args.send))
    templates = Templates()
    rendered = [templates.render(c["stage"], c["language"], c) for c in data[: args.send]]
    figures: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        template_path = Path(folder) / "reminder.txt"
        template_path.write_text(MAILMERGE_TEMPLATE)
        reference = TemplateMessage(template_path)
        for _ in range(args.runs):
            figures["dunning_render"].append(render_to_bytes(templates, data[: args.render]))
            figures["mailmerge_render"].append(mailmerge_render_to_bytes(reference, data[: args.render]))
        for where, delay, count in (("loopback", 0.0, args.send), ("across", args.delay_ms, args.send_across)):
            port = free_port()
            sink = subprocess.Popen([sys.executable, str(Path(__file__).parent / "sink.py"), str(port), str(args.sink_processes),
                                     str(delay)])
            wait_for(port)
            config = Path(folder) / f"mailmerge-{where}.conf"
            config.write_text(f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nratelimit = 0\n")
            try:
                for _ in range(args.runs):
                    figures[f"{where}_dunning_send"].append(dunning_send(data[:count], rendered, port, args.connections))
                    figures[f"{where}_dunning_send_one_connection"].append(dunning_send(data[:count], rendered, port, 1))
                    figures[f"{where}_mailmerge_send"].append(mailmerge_send(data[:count], reference, config))
            finally:
                sink.terminate()
                sink.wait()
    report: dict = {"rendered": args.render, "sent_loopback": args.send, "sent_across": args.send_across,
                    "sink_delay_ms": args.delay_ms, "connections": args.connections, "runs": args.runs,
                    "sink_processes": args.sink_processes}
    for name, runs in figures.items():
        report[f"{name}_per_second"] = {"min": round(min(runs)), "median": round(statistics.median(runs)), "max": round(max(runs))}
    median = {name: statistics.median(runs) for name, runs in figures.items()}
    report["render_ratio_vs_mailmerge"] = round(median["dunning_render"] / median["mailmerge_render"], 2)
    for where in ("loopback", "across"):
        report[f"{where}_send_ratio_vs_mailmerge"] = round(median[f"{where}_dunning_send"] / median[f"{where}_mailmerge_send"], 2)
        report[f"{where}_send_one_connection_ratio_vs_mailmerge"] = round(
            median[f"{where}_dunning_send_one_connection"] / median[f"{where}_mailmerge_send"], 2)
    report["note"] = ("loopback: the sink answers at once, and one Python process's CPU is the limit (the connections "
                      "share it); across: the sink answers each command after the delay, as a mail server across a "
                      "network does, and the connections send side by side")
    save("campaign", report)


if __name__ == "__main__":
    main()
