"""Servers on loopback for the benchmarks: a free port, and waiting until a server accepts connections."""
from __future__ import annotations

import socket
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, seconds: float = 20.0) -> None:
    """Until something accepts connections on 127.0.0.1:port; stops the benchmark if nothing does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing started listening on 127.0.0.1:{port}")
