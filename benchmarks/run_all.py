"""Run every benchmark, one after the other, each in a process of its own; a summary at the end.

Run: ``python -m benchmarks.run_all [--quick]`` (``--quick``: fewer repeats and smaller sizes,
to check that everything runs; the figures in docs/performance.md are from a full run).
Exit status 0 when every target is met, 3 (``common.NOT_MET``) when a benchmark missed one or was
skipped, 1 when one failed (a crash, not a missed target).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks.common import MET, NOT_MET, SKIPPED

BENCHMARKS = {
    "steps": ([], ["--cycles", "40", "--repeats", "1"]),
    "tick": ([], ["--repeats", "1", "--small", "200", "--large", "2000", "--reminders", "1000"]),
    "national_year": ([], ["--municipalities", "20"]),
    "mail": ([], ["--messages", "200", "--repeats", "1"]),
    "startup": ([], ["--runs", "5", "--tasks", "2000"]),
    "workers": ([], ["--timers", "4000", "--repeats", "1"]),
    "service": ([], ["--small"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("only", nargs="*", help="run only these (steps, tick, ...)")
    args = parser.parse_args(argv)
    outcomes = {}
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        command = [sys.executable, "-m", f"benchmarks.{name}", *(quick if args.quick else full)]
        done = subprocess.run(command, env=os.environ.copy(), check=False)
        outcomes[name] = (done.returncode, time.perf_counter() - start)
        print(flush=True)
    print("== summary")
    for name, (code, seconds) in outcomes.items():
        print(f"   {name:<14} {SAID.get(code, f'FAILED (exit {code})')} ({seconds:.0f} s)")
    codes = {code for code, _s in outcomes.values()}
    if codes <= {MET}:
        return MET
    return NOT_MET if codes <= set(SAID) else 1


SAID = {MET: "targets met", NOT_MET: "NOT MET", SKIPPED: "skipped"}

if __name__ == "__main__":
    sys.exit(main())
