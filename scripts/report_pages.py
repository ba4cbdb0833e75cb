"""Page images of the demo's yearly report to KF, for docs/reports.md.

Run from the checkout with the project's interpreter (Debian's poppler-utils installed, for
``pdftoppm``)::

    .venv/bin/python scripts/report_pages.py [--demo FOLDER]

It runs Herrljunga's whole demo year into a temporary folder (or uses the demo folder ``--demo``
names), and writes each page of its ``arsrapport-herrljunga-2027.pdf`` as
``docs/screenshots/arsrapport-N.png`` (60 dots per inch: a page is 496 px wide).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2027
RESOLUTION = 60


def run_demo(folder: Path) -> Path:
    tsk = Path(sys.executable).parent / "tsk"
    out = folder / "demo"
    args = ["demo", "--year", str(YEAR), "--out", str(out), "--json"]
    subprocess.run([str(tsk), *args], check=True, stdout=subprocess.DEVNULL)
    return out


def pages(pdf: Path, out: Path) -> list[Path]:
    tool = shutil.which("pdftoppm")
    if tool is None:
        sys.exit("pdftoppm is missing: apt-get install poppler-utils")
    for old in out.glob("arsrapport-*.png"):
        old.unlink()
    subprocess.run(
        [tool, "-png", "-r", str(RESOLUTION), str(pdf), str(out / "arsrapport")], check=True
    )
    return sorted(out.glob("arsrapport-*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="a demo folder of a whole year, already run")
    options = parser.parse_args()
    out = ROOT / "docs" / "screenshots"
    with tempfile.TemporaryDirectory() as temporary:
        demo = options.demo or run_demo(Path(temporary))
        for path in pages(demo / f"arsrapport-herrljunga-{YEAR}.pdf", out):
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
