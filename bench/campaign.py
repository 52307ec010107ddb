"""Benchmark reminder rendering and SMTP sending next to the `mailmerge` package (PyPI), in one script.

Rendering: 100,000 reminders (text + HTML, the customer's language) with dunning's templates, and
the same number with mailmerge's TemplateMessage on an equivalent multipart template. Sending:
10,000 messages to a local aiosmtpd server (its own process) on loopback, with dunning's SMTP channel (one
connection for the batch) and with mailmerge's SendmailClient (a connection per message).
"""
from __future__ import annotations

import argparse
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
from export import overdue_frame  # noqa: E402
from loopback import free_port, wait_for  # noqa: E402

from dunning.channels import Outgoing  # noqa: E402
from dunning.channels.smtp import SmtpChannel, SmtpSettings  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--render", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=10_000)
    args = parser.parse_args()
    data = contexts(args.render)
    report: dict = {"rendered": args.render, "sent": args.send}

    templates = Templates()
    started = time.perf_counter()
    rendered = [templates.render(c["stage"], c["language"], c) for c in data]
    report["dunning_render_per_second"] = round(args.render / (time.perf_counter() - started))

    with tempfile.TemporaryDirectory() as folder:
        template_path = Path(folder) / "reminder.txt"
        template_path.write_text(MAILMERGE_TEMPLATE)
        reference = TemplateMessage(template_path)
        started = time.perf_counter()
        for context in data:
            reference.render(context)
        report["mailmerge_render_per_second"] = round(args.render / (time.perf_counter() - started))

        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"])
        wait_for(port)
        try:
            channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none"), environ={})
            started, cpu = time.perf_counter(), time.process_time()
            for n, (context, message) in enumerate(zip(data[: args.send], rendered)):
                channel.send(Outgoing(reminder_id=n, order_id=context["order_id"], to=context["email"], to_name=context["first_name"],
                                      subject=message.subject, text=message.text, html=message.html,
                                      sender="Shop <billing@shop.example>", message_id=f"<dunning.1.{n}@shop.example>"))
            channel.close()
            report["dunning_send_per_second"] = round(args.send / (time.perf_counter() - started))
            report["dunning_client_cpu_ms_per_message"] = round((time.process_time() - cpu) / args.send * 1000, 2)

            config = Path(folder) / "mailmerge_server.conf"
            config.write_text(f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nratelimit = 0\n")
            client = SendmailClient(config, dry_run=False)
            started, cpu = time.perf_counter(), time.process_time()
            for context in data[: args.send]:
                sender, recipients, message = reference.render(context)
                client.sendmail(sender, recipients, message)
            report["mailmerge_send_per_second"] = round(args.send / (time.perf_counter() - started))
            report["mailmerge_client_cpu_ms_per_message"] = round((time.process_time() - cpu) / args.send * 1000, 2)
        finally:
            server.terminate()
            server.wait()
    report["render_ratio_vs_mailmerge"] = round(report["dunning_render_per_second"] / report["mailmerge_render_per_second"], 2)
    report["send_ratio_vs_mailmerge"] = round(report["dunning_send_per_second"] / report["mailmerge_send_per_second"], 2)
    report["note"] = ("both senders wait on the local aiosmtpd server (pure Python); the client CPU per message "
                      "shows each sender's own cost")
    save("campaign", report)


if __name__ == "__main__":
    main()
