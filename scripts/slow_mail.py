"""Measure mail under a slow or silent SMTP server, as docs/operations.md reports it.

    .venv/bin/python scripts/slow_mail.py overlap|takeover|hang

Each run makes a virtual-time SQLite database in a temporary folder (Herrljunga, three EST months
opened on 2027-03-01: 39 mails queued), starts a real SMTP server (aiosmtpd, the tests' own) and
runs ``tsk mail send`` as processes of their own:

- ``overlap``: the server answers after 1 s per message; a second run starts 4 s after the first;
- ``takeover``: the same, but the second run's time is 11 minutes later (past the first's lease);
- ``hang``: the server never answers a message, ``TSK_SMTP_TIMEOUT=5``.

It prints what each run said, and how many messages arrived and how many of them twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.smtp_server import HANG, SmtpServer  # noqa: E402

TSK = [sys.executable, "-c", "import sys; from tsk_workflow.cli import main; sys.exit(main())"]
START = "2027-03-01T07:00"


def tsk(url: str, now: str, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "TSK_NOW": now, "PYTHONPATH": str(REPO), **env}
    command = [*TSK, "--db", url, "--org", "herrljunga", "--lang", "en", *args]
    return subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, text=True, cwd=REPO)


def said(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"tsk failed ({process.returncode}): {out}")
    return out.strip()


def world(folder: str) -> str:
    url = f"sqlite:///{folder}/tsk.db"
    said(tsk(url, START, "init", "--virtual-time"))
    for period in ("2027-03", "2027-04", "2027-05"):
        said(
            tsk(url, START, "--as", "jessica.wahlstrom", "cycle", "open", "est", "--period", period)
        )
    return url


def main(which: str) -> None:
    with tempfile.TemporaryDirectory() as folder, SmtpServer() as server:
        url = world(folder)
        smtp = {"TSK_SMTP_HOST": server.host, "TSK_SMTP_PORT": str(server.port)}
        began = time.monotonic()
        if which == "hang":
            server.respond(then=HANG)
            print("run:", said(tsk(url, START, "mail", "send", **smtp, TSK_SMTP_TIMEOUT="5")))
        else:
            server.handler.delay = 1.0
            first = tsk(url, START, "mail", "send", **smtp)
            time.sleep(4)
            later = "2027-03-01T07:00:04" if which == "overlap" else "2027-03-01T07:11"
            second = tsk(url, later, "mail", "send", **smtp)
            print("second run:", said(second))
            print("first run:", said(first))
        arrived = Counter(str(m.message["Message-ID"]) for m in server.messages)
        twice = sum(arrived.values()) - len(arrived)
        print(f"{len(arrived)} arrived, {twice} of them twice, in {time.monotonic() - began:.1f} s")
        print(said(tsk(url, START, "mail", "status")))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "overlap")
