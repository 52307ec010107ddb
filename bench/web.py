"""Benchmark the manage page: requests per second and p99 latency of /m/<token> under load on loopback, served
as `dunning serve` serves it (gunicorn, 2 workers unless `--workers` says otherwise, access log written), next to
a bare Flask endpoint added to the same app on the same server (the ceiling).

The workspace has a bank account (IBAN) configured, so each order's first visit draws its EPC QR code; the overdue
orders were handed over to a newsletter tool (an export), so their pages show the reminder's deadline; and the
load rotates over every order the ledger holds: thousands of generated orders (`--orders`, default 3,500), as the
visits after a campaign spread over its customers. The load generator is `wrk` (Debian's package), pinned to
another core than the server (`taskset`), talking only to 127.0.0.1; without wrk the benchmark says so and stops.

Beside the rates it reports where the CPU goes: the server's CPU time per request (gunicorn's master and workers,
from /proc) for the page and for the bare endpoint, and of a page, the CPU its own three steps take in the worker
(reading and settling the order, its figures as text, the template), timed where the page calls them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import save  # noqa: E402
from loopback import free_port, wait_for  # noqa: E402

from generate import generate  # noqa: E402

from dunning import config, handover, pipeline, tokens  # noqa: E402
from dunning.journal.tables import orders as order_table  # noqa: E402
from dunning.journal.store import Store  # noqa: E402
from dunning.tokens import TokenSigner  # noqa: E402

KEY = "bench-key-not-secret-0123456789-0123"
SERVER = """
import os, sys, time
import dunning.web
from dunning import config, manage
from dunning.web import create_app
from dunning.web.server import serve

spent = {"pages": 0, "read_and_settle": 0.0, "figures": 0.0, "template": 0.0}

def timed(part, function):
    def measured(*args, **kwargs):
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[part] += time.thread_time() - start
            spent["pages"] += part == "read_and_settle"
    return measured

# where a page's CPU goes: the page's own three steps, timed where the page calls them
manage.view = timed("read_and_settle", manage.view)
dunning.web.shown_page = timed("figures", dunning.web.shown_page)
dunning.web.render_template = timed("template", dunning.web.render_template)
app = create_app(config.load())
app.add_url_rule("/bare", "bare", lambda: "ok")
app.add_url_rule("/spent", "spent", lambda: {**spent, "pid": os.getpid()})
serve(app, "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), False)
"""
PAYMENT = """
[payment]
beneficiary = "Example Shop GmbH"
iban = "DE89 3704 0044 0532 0130 00"
bic = "COBADEFFXXX"
currency = "EUR"
change_method_requests = true
"""
ROTATE = """
local paths = {%s}
local n = 0
request = function()
  n = n %% #paths + 1
  return wrk.format("GET", paths[n])
end
"""


def cores() -> tuple[list[str], list[str]]:
    """taskset prefixes putting the server and the load generator on different cores (none with one core)."""
    count = os.cpu_count() or 1
    if count < 2 or not shutil.which("taskset"):
        return [], []
    server = ",".join(str(c) for c in range(count // 2)) if count > 2 else "0"
    return ["taskset", "-c", server], ["taskset", "-c", ",".join(str(c) for c in range(count // 2 if count > 2 else 1, count))]


def wrk(pin: list[str], port: int, paths: list[str], seconds: float, connections: int, folder: Path) -> dict:
    """One wrk run over `paths` in turn: requests per second, p50 and p99 (ms), non-2xx answers."""
    script = folder / "rotate.lua"
    script.write_text(ROTATE % ", ".join(f'"{p}"' for p in paths))
    result = subprocess.run([*pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                             f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True)
    text = result.stdout
    latency = {q: _ms(v, unit) for q, v, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", text, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"per_second": round(float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))),
            "requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "p50_ms": latency.get("50"), "p99_ms": latency.get("99"), "non_2xx": int(errors.group(1)) if errors else 0}


def cpu_seconds(server: int) -> float:
    """CPU time (user and system) the server's processes used so far: gunicorn's master and its workers."""
    children = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    total = 0
    for pid in [server, *map(int, children)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a worker that just ended
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def spent(port: int, workers: int) -> dict:
    """The CPU every worker spent in the page's own steps (summed), asked of each worker in turn until all answered."""
    seen: dict[int, dict] = {}
    for _ in range(100 * workers):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/spent") as answer:
            report = json.load(answer)
        seen[report["pid"]] = report
        if len(seen) == workers:
            break
    pages = sum(r["pages"] for r in seen.values())
    return {part: round(sum(r[part] for r in seen.values()) / max(pages, 1) * 1000, 3)
            for part in ("read_and_settle", "figures", "template")}


def _ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", type=int, default=3500)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (`dunning serve` starts 2)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/web.py needs wrk: apt-get install -y wrk")
    server_pin, load_pin = cores()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        config.init(workspace)
        text = (workspace / "dunning.toml").read_text("utf-8")
        (workspace / "dunning.toml").write_text(re.sub(r"(?ms)^\[payment\].*?(?=^\[)", PAYMENT.lstrip() + "\n", text), "utf-8")
        as_of = date(2026, 11, 20)
        plans, payments = generate(args.orders, 6, as_of, workspace / "data")
        settings = config.load(cwd=workspace)
        store = Store(f"sqlite:///{workspace / 'dunning.sqlite3'}")
        os.environ[tokens.KEYS_VARIABLE] = KEY  # the export signs its links with the key the server is given
        handover.export(settings, store, pipeline.find_overdue(settings, store, plans, as_of=as_of, payments=payments),
                        "generic", workspace / "campaign.csv")  # after a campaign: the overdue orders were reminded
        signer = TokenSigner([KEY])
        pages = [f"/m/{signer.sign(order)}" for order in store.frame(order_table, ["order_id"])["order_id"]]
        port = free_port()
        env = dict(os.environ, DUNNING_SECRET_KEYS=KEY)
        with (workspace / "access.log").open("w") as log:
            server = subprocess.Popen([*server_pin, sys.executable, "-c", SERVER, str(port), str(args.workers)], cwd=workspace, env=env,
                                      stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for(port)
                runs: dict[str, list[dict]] = {"manage_page": [], "bare_flask_endpoint": []}
                cpu = {name: [0.0, 0] for name in runs}  # CPU seconds and requests, over every run
                for _ in range(args.runs):
                    for name, paths in (("manage_page", pages), ("bare_flask_endpoint", ["/bare"])):
                        before = cpu_seconds(server.pid)
                        runs[name].append(wrk(load_pin, port, paths, args.seconds, args.connections, workspace))
                        cpu[name][0] += cpu_seconds(server.pid) - before
                        cpu[name][1] += runs[name][-1]["requests"]
                parts = spent(port, args.workers)
            finally:
                server.terminate()
                server.wait(timeout=20)
        logged = sum(1 for _ in (workspace / "access.log").open())
    shares = [page["per_second"] / bare["per_second"] for page, bare in zip(runs["manage_page"], runs["bare_flask_endpoint"])]
    report = {"workers": args.workers, "connections": args.connections, "seconds_each": args.seconds, "runs": args.runs,
              "orders": args.orders,
              "tokens": len(pages), "server_cores": server_pin[2:] or "all", "wrk_cores": load_pin[2:] or "all",
              "access_log_lines": logged}
    for name, results in runs.items():
        report[name] = {key: statistics.median(r[key] for r in results) for key in ("per_second", "p50_ms", "p99_ms")}
        report[name]["non_2xx"] = sum(r["non_2xx"] for r in results)
        report[name]["per_second_min_max"] = [min(r["per_second"] for r in results), max(r["per_second"] for r in results)]
        report[name]["cpu_ms_per_request"] = round(cpu[name][0] / max(cpu[name][1], 1) * 1000, 3)
    report["manage_page"]["own_steps_cpu_ms"] = parts
    page_cpu, bare_cpu = report["manage_page"]["cpu_ms_per_request"], report["bare_flask_endpoint"]["cpu_ms_per_request"]
    # the share the CPU figures give (the server is CPU-bound), and what it would be if a step cost nothing
    report["cpu_share"] = {"as_measured": round(bare_cpu / page_cpu, 2),
                           "if_read_and_settle_were_free": round(bare_cpu / (page_cpu - parts["read_and_settle"]), 2),
                           "if_all_three_steps_were_free": round(bare_cpu / (page_cpu - sum(parts.values())), 2)}
    report["page_share_of_ceiling"] = round(statistics.median(shares), 2)
    report["page_share_min_max"] = [round(min(shares), 2), round(max(shares), 2)]
    save("web" if args.workers == 2 else f"web_{args.workers}_workers", report)


if __name__ == "__main__":
    main()
