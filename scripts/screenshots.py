"""Screenshots of every page of ``tests/browser/pages.py`` on the demo's data, desktop and phone.

Run from the checkout with the project's interpreter (Debian's chromium installed; the dev
extra, for Playwright)::

    .venv/bin/python scripts/screenshots.py

It runs ``tsk demo --year 2027 --until 2027-03-09`` into a temporary folder (or uses the demo
folder ``--demo`` names), serves its database as the browser tests do (uvicorn on a free port
of 127.0.0.1, the demo's sign-in, the clock at the end of the last day run) and saves each page,
in Swedish, as ``docs/screenshots/NAME-desktop.png`` (1280 px wide) and ``NAME-phone.png``
(375 px): the viewport only, or the whole page when it is short. A page whose path needs a
value the demo has none of (no open task for ``/t/{token}``) is left out, with a line saying so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import harness  # noqa: E402
from tests.browser.pages import PAGES  # noqa: E402
from tsk_workflow.calendar import STOCKHOLM  # noqa: E402
from tsk_workflow.store.database import Store  # noqa: E402

YEAR = 2027
UNTIL = dt.date(2027, 3, 9)
SHORT = 1.5  # a page up to this many viewport heights is taken whole


def run_demo(folder: Path) -> Path:
    """Herrljunga's demo year up to ``UNTIL``, into ``folder/demo``."""
    tsk = Path(sys.executable).parent / "tsk"
    out = folder / "demo"
    args = ["demo", "--year", str(YEAR), "--until", UNTIL.isoformat(), "--out", str(out), "--json"]
    subprocess.run([str(tsk), *args], check=True, stdout=subprocess.DEVNULL)
    return out


def shoot(demo: Path, out: Path, names: set[str] | None, until: dt.date) -> None:
    from playwright.sync_api import sync_playwright

    problem = harness.problem()
    if problem is not None and "axe-core" not in problem:
        sys.exit(problem)
    moment = dt.datetime.combine(until, dt.time(17, 0), STOCKHOLM).astimezone(dt.UTC)
    store = Store(f"sqlite:///{demo / 'tsk.db'}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with (
            harness.serve(store, lambda: moment) as world,
            sync_playwright() as playwright,
        ):
            browser = harness.launch(playwright)
            for page in PAGES:
                if names is not None and page.name not in names:
                    continue
                try:
                    page.path.format(**world.params)
                except KeyError as missing:
                    print(f"{page.name}: left out, the demo has no {missing} for {page.path}")
                    continue
                for viewport, size in harness.VIEWPORTS.items():
                    context = browser.new_context(viewport=size, locale=harness.LOCALES["sv"])
                    tab = context.new_page()
                    if page.as_role is not None:
                        harness.sign_in(tab, world, world.people[page.as_role])
                    tab.goto(world.url(page.path, "sv"))
                    tab.wait_for_load_state("networkidle")
                    height = tab.evaluate("document.documentElement.scrollHeight")
                    target = out / f"{page.name}-{viewport}.png"
                    tab.screenshot(path=str(target), full_page=height <= size["height"] * SHORT)
                    context.close()
                    print(f"{target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)")
            browser.close()
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="a demo folder already run (its tsk.db)")
    parser.add_argument(
        "--until", type=dt.date.fromisoformat, default=UNTIL, help="the demo's last day run"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("pages", nargs="*", help="page names (default: every page)")
    args = parser.parse_args()
    names = set(args.pages) or None
    if args.demo is not None:
        shoot(args.demo, args.out, names, args.until)
        return
    with tempfile.TemporaryDirectory(prefix="tsk-screenshots-") as folder:
        shoot(run_demo(Path(folder)), args.out, names, args.until)


if __name__ == "__main__":
    main()
