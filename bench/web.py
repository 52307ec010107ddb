"""Benchmark the manage page: requests per second and p99 latency of /m/<token> under load on loopback,
served by gunicorn with 2 workers, next to a bare Flask endpoint on the same server (the ceiling).

The load generator is bounded in time and count and only talks to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import save  # noqa: E402
from loopback import free_port, wait_for  # noqa: E402

from dunning import campaigns, config
from dunning.store import Store
from dunning.tokens import TokenSigner

KEY = "bench-key-not-secret-0123456789-0123"
EXAMPLES = Path(__file__).parent.parent / "examples"
SERVER = """
import sys
from dunning import config
from dunning.web import create_app
from dunning.web.server import Gunicorn, own_connections
app = create_app(config.load())
app.add_url_rule("/bare", "bare", lambda: "ok")
Gunicorn(app, {"bind": f"127.0.0.1:{sys.argv[1]}", "workers": 2, "accesslog": None, "loglevel": "warning",
          "post_fork": lambda server, worker: own_connections(app)}).run()
"""


def load(port: int, path: str, seconds: float, connections: int, limit: int) -> dict:
    """Requests from `connections` threads for `seconds` (at most `limit` in all); rps and latencies."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker():
        nonlocal errors
        while time.monotonic() < deadline:
            with lock:
                if len(latencies) + errors >= limit:
                    return
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                connection.close()
                ok = response.status == 200
            except OSError:
                ok = False
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies), "errors": errors, "per_second": round(len(latencies) / elapsed),
            "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1) if ordered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--limit", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        config.init(workspace)
        shutil.copytree(EXAMPLES, workspace / "examples")
        (workspace / "campaigns" / "first.toml").write_text(
            'stage = "friendly"\n[input]\nfile = "../examples/plans.csv"\npayments = "../examples/payments.csv"\n'
            '[sender]\nfrom = "Shop <billing@shop.example>"\n')
        settings = config.load(cwd=workspace)
        campaigns.prepare(campaigns.load("first", settings), settings, Store(f"sqlite:///{workspace / 'dunning.sqlite3'}"),
                          date(2026, 11, 20), [KEY])
        port = free_port()
        env = dict(os.environ, DUNNING_SECRET_KEYS=KEY)
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=workspace, env=env)
        try:
            wait_for(port)
            page = f"/m/{TokenSigner([KEY]).sign('P-2001')}"
            load(port, page, 1.0, args.connections, 500)  # warm up both workers
            report = {"workers": 2, "connections": args.connections, "seconds_each": args.seconds,
                      "manage_page": load(port, page, args.seconds, args.connections, args.limit),
                      "bare_flask_endpoint": load(port, "/bare", args.seconds, args.connections, args.limit)}
        finally:
            server.terminate()
            server.wait(timeout=20)
    report["page_share_of_ceiling"] = round(report["manage_page"]["per_second"] / report["bare_flask_endpoint"]["per_second"], 2)
    save("web", report)


if __name__ == "__main__":
    main()
