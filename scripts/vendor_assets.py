"""Vendor the pages' browser libraries from their npm packages into the Python package.

Run with the project's interpreter from the checkout: ``.venv/bin/python scripts/vendor_assets.py``.

It installs ``assets/package.json``'s exact versions from ``assets/package-lock.json`` (``npm ci``
into ``assets/node_modules``, which git ignores), copies each package's built files and its
licence to ``tsk_workflow/web/static/vendor/{htmx,chartjs,leaflet}/``, and writes
``tsk_workflow/web/static/vendor/VENDORED.json``: each package, its version, its licence and the
files taken from it with their SHA-256. The copies are committed, so that users need no Node.js
and no build step; ``tests/test_vendored.py`` checks them against that record and the pins.

To move to a new version: change the pin in ``assets/package.json``, run ``npm install
--prefix assets`` once to update the lock file, then this script, and commit the three.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
MODULES = ASSETS / "node_modules"
VENDOR = ROOT / "tsk_workflow" / "web" / "static" / "vendor"
RECORD = VENDOR / "VENDORED.json"


@dataclass(frozen=True)
class Vendored:
    """One npm package: the folder under ``vendor/`` its files go to, and which files.

    ``files`` are paths inside the package; a folder is copied with every file in it, keeping
    its name (Leaflet's ``images/``, which ``leaflet.css`` refers to as ``images/...``).
    ``bundled_in`` names the file of another package that contains this one's code, for a
    dependency shipped only inside another's build (Chart.js's UMD build bundles
    ``@kurkle/color``): only its licence is copied."""

    package: str
    folder: str
    files: tuple[str, ...]
    licence_file: str
    bundled_in: str | None = None


PACKAGES = (
    Vendored("htmx.org", "htmx", ("dist/htmx.min.js",), "LICENSE"),
    Vendored("chart.js", "chartjs", ("dist/chart.umd.min.js",), "LICENSE.md"),
    Vendored("@kurkle/color", "chartjs", (), "LICENSE", bundled_in="chart.umd.min.js"),
    Vendored(
        "leaflet", "leaflet", ("dist/leaflet.js", "dist/leaflet.css", "dist/images"), "LICENSE"
    ),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def licence_name(item: Vendored) -> str:
    """The licence's file name in the vendor folder (a bundled package's gets its own)."""
    if item.bundled_in is None:
        return item.licence_file
    stem = item.package.replace("@", "").replace("/", "-")
    return f"LICENSE-{stem}{Path(item.licence_file).suffix}"


def npm_ci() -> None:
    """The lock file's exact versions into ``assets/node_modules``."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed (Node.js's package manager): it is not on PATH")
    subprocess.run(
        [npm, "ci", "--prefix", str(ASSETS), "--no-audit", "--no-fund", "--loglevel=error"],
        check=True,
    )


def pinned() -> dict[str, str]:
    """``assets/package.json``'s dependencies: each must be an exact version."""
    manifest = json.loads((ASSETS / "package.json").read_text(encoding="utf-8"))
    pins: dict[str, str] = manifest["dependencies"]
    for name, version in pins.items():
        if not version[:1].isdigit() or any(c in version for c in "^~<>=* |x"):
            sys.exit(
                f"assets/package.json: {name} must be pinned to an exact version, not {version}"
            )
    return pins


def copy(item: Vendored) -> dict[str, object]:
    """Copy one package's files and licence; its entry in VENDORED.json."""
    source = MODULES / item.package
    manifest = json.loads((source / "package.json").read_text(encoding="utf-8"))
    target = VENDOR / item.folder
    target.mkdir(parents=True, exist_ok=True)
    pairs: list[tuple[Path, Path]] = []
    for name in item.files:
        path = source / name
        if path.is_dir():
            pairs += [
                (f, target / path.name / f.name) for f in sorted(path.iterdir()) if f.is_file()
            ]
        else:
            pairs.append((path, target / path.name))
    pairs.append((source / item.licence_file, target / licence_name(item)))
    files = []
    for origin, copied in pairs:
        copied.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, copied)
        files.append(
            {
                "path": copied.relative_to(VENDOR).as_posix(),
                "from": origin.relative_to(source).as_posix(),
                "sha256": sha256(copied),
            }
        )
    entry: dict[str, object] = {
        "package": item.package,
        "version": manifest["version"],
        "licence": manifest["license"],
        "folder": item.folder,
        "files": files,
    }
    if item.bundled_in is not None:
        entry["bundled_in"] = f"{item.folder}/{item.bundled_in}"
    return entry


def main() -> None:
    pins = pinned()
    npm_ci()
    for folder in {item.folder for item in PACKAGES}:
        shutil.rmtree(VENDOR / folder, ignore_errors=True)
    entries = [copy(item) for item in PACKAGES]
    for entry in entries:
        pin = pins.get(str(entry["package"]))
        if pin is not None and pin != entry["version"]:
            sys.exit(f"{entry['package']}: installed {entry['version']}, pinned {pin}")
    record = {
        "about": "Copied from the npm packages pinned in assets/package.json by "
        "scripts/vendor_assets.py; do not edit these files by hand.",
        "packages": entries,
    }
    RECORD.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for entry in entries:
        print(
            f"{entry['package']} {entry['version']} ({entry['licence']}) -> vendor/{entry['folder']}"
        )


if __name__ == "__main__":
    main()
