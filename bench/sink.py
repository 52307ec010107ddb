"""A minimal SMTP sink on loopback for the sending benchmark: it answers every command and keeps nothing, so the
server is not what limits the senders. `python bench/sink.py PORT [PROCESSES [DELAY_MS]]` runs that many processes
on one port (SO_REUSEPORT spreads the connections); DELAY_MS holds every answer back that long, as the round
trip to a mail server across a network does."""
from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import sys


DELAY = 0.0


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 sink ESMTP\r\n")
    try:
        while line := await reader.readline():
            if DELAY:
                await asyncio.sleep(DELAY)
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await reader.readuntil(b"\r\n.\r\n")
                if DELAY:
                    await asyncio.sleep(DELAY)
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _serve(port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(512)

    async def main() -> None:
        server = await asyncio.start_server(_session, sock=listener, limit=1 << 20)
        await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    port, processes = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    DELAY = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0
    workers = [multiprocessing.Process(target=_serve, args=(port,), daemon=True) for _ in range(processes - 1)]
    for worker in workers:  # daemons: they end with this process
        worker.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _serve(port)
