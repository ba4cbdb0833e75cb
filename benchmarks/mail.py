"""4. Mail: 1,000 messages to a local aiosmtpd, batched against one new connection per message.

The server is aiosmtpd on 127.0.0.1, in a process of its own (so that it does not share this
process's interpreter lock); it accepts every message and counts them. The messages are built
as the outbox builds them (text, HTML; ``OutgoingMail``), to 1,000 different recipients, and
both ways turn them into bytes the same way (``mail.message.mail_bytes``, the standard library's
``email`` package, inside ``_send_share``).

- **batched**: ``mail.smtp.send_batch`` as the outbox calls it (its defaults: up to 100 messages
  per connection, up to 10 connections at once);
- **baseline**: the same messages one after another, each on a new connection (connect, EHLO,
  the message, QUIT), in one event loop.

Printed, per way: messages per second and the CPU time per message of this process (client)
and of the server. One by one, client and server take turns, so a message costs their sum;
batched, they can work at once on two cores, so at best it costs the larger of the two.
"ceiling" is the ratio those figures allow (baseline client + server over batched max(client,
server)): what the batched way would reach with perfect overlap and nothing else on the machine.

Target: batched / baseline (median of the repeats) at least 0.8 of that ceiling, i.e. the batched
way loses at most a fifth of what overlapping client and server could give.

Run: ``python -m benchmarks.mail [--messages 1000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from benchmarks.common import REPEATS, header, median, outcome, verdict
from tsk_workflow.demo.smtpd import free_port
from tsk_workflow.mail.message import OutgoingMail
from tsk_workflow.mail.smtp import Hooks, SendResult, SmtpSettings, _send_share, send_batch

SERVER = """
import sys, time
from aiosmtpd.controller import Controller

class Counting:
    def __init__(self):
        self.count = 0
    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"

handler = Counting()
port = int(sys.argv[1])
controller = Controller(handler, hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
for line in sys.stdin:
    print(handler.count, time.process_time(), flush=True)
controller.stop()
"""


class Server:
    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(free_port())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        return self

    def count(self) -> tuple[int, float]:
        """Messages accepted so far, and the server's CPU seconds (its threads together)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        count, cpu = self.process.stdout.readline().split()
        return int(count), float(cpu)

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def mails(count: int, round_: int) -> list[OutgoingMail]:
    return [
        OutgoingMail(
            message_id=f"<bench-{round_}-{i}@herrljunga.example.org>",
            sender="trygghet@herrljunga.example.org",
            recipient=f"person{i}@herrljunga.example.org",
            recipient_name=f"Person {i}",
            subject=f"Påminnelse: uppgift {i} ska vara klar",
            text="Hej!\n\nUppgiften ska vara klar på fredag.\n\n" + "Rad med text. " * 40,
            html="<p>Hej!</p><p>Uppgiften ska vara klar på fredag.</p>" + "<p>Rad.</p>" * 40,
        )
        for i in range(count)
    ]


async def one_by_one(settings: SmtpSettings, batch: list[OutgoingMail]) -> list[SendResult]:
    """Each message on a new connection, one after another."""
    results: list[SendResult] = []
    for mail in batch:
        await _send_share(settings, [mail], results, Hooks())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    header(f"4. mail: {args.messages} messages to a local aiosmtpd")
    rates: dict[str, list[float]] = {WAYS[0]: [], WAYS[1]: []}
    cpu: dict[str, list[tuple[float, float]]] = {WAYS[0]: [], WAYS[1]: []}
    with Server() as server:
        settings = SmtpSettings(host="127.0.0.1", port=server.port)
        for round_ in range(args.repeats):
            for way in WAYS:
                batch = mails(args.messages, round_ * 2 + len(rates[way]))
                rate, client, served = run(way, settings, server, batch)
                rates[way].append(rate)
                cpu[way].append((client, served))
    for way in WAYS:
        client = median([c for c, _ in cpu[way]])
        served = median([s for _, s in cpu[way]])
        print(
            f"   {way}: {median(rates[way]):.0f} messages/s (median of {args.repeats}); "
            f"CPU per message: client {client:.3f} ms, server {served:.3f} ms"
        )
    ratio = median([a / b for a, b in zip(rates[WAYS[0]], rates[WAYS[1]], strict=True)])
    most = ceiling(cpu)
    print(f"   batched / one connection each: {ratio:.2f}")
    print(f"   ceiling (perfect overlap, idle machine): {most:.2f}")
    return outcome(verdict("batched / one connection each, of the ceiling", ratio / most, 0.8))


WAYS = ("batched", "one connection each")


def run(
    way: str, settings: SmtpSettings, server: Server, batch: list[OutgoingMail]
) -> tuple[float, float, float]:
    """Messages per second, and the client's and the server's CPU ms per message."""
    before, server_cpu = server.count()
    client_cpu = time.process_time()
    start = time.perf_counter()
    if way == "batched":
        results = asyncio.run(send_batch(settings, batch))
    else:
        results = asyncio.run(one_by_one(settings, batch))
    seconds = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    assert all(r.status == "sent" for r in results), results[:3]
    after, server_cpu_after = server.count()
    assert after - before == len(batch)
    per_message = 1000 / len(batch)
    return (
        len(batch) / seconds,
        client_cpu * per_message,
        (server_cpu_after - server_cpu) * per_message,
    )


def ceiling(cpu: dict[str, list[tuple[float, float]]]) -> float:
    """Baseline client + server CPU per message over batched max(client, server)."""
    one = median([c + s for c, s in cpu[WAYS[1]]])
    batched = median([max(c, s) for c, s in cpu[WAYS[0]]])
    return one / batched


if __name__ == "__main__":
    sys.exit(main())
