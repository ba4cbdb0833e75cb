"""The vendored browser libraries (scripts/vendor_assets.py) are what their record says: every
file present with its SHA-256, each package at the version pinned in ``assets/package.json``
(and locked in its lock file), each with its licence; and the pages load htmx as agreed. No
network: this reads the committed files only."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "tsk_workflow" / "web" / "static" / "vendor"
RECORD = VENDOR / "VENDORED.json"
ASSETS = ROOT / "assets"

# The paths the pages use (helper-agreed): a page's <script>/<link> names these.
USED = (
    "htmx/htmx.min.js",
    "chartjs/chart.umd.min.js",
    "leaflet/leaflet.js",
    "leaflet/leaflet.css",
    "leaflet/images/marker-icon.png",
)


def _record() -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = json.loads(RECORD.read_text(encoding="utf-8"))["packages"]
    return packages


def _json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("entry", _record(), ids=lambda entry: entry["package"])
def test_every_recorded_file_is_there_with_its_sha256(entry: dict[str, Any]) -> None:
    assert entry["files"], entry["package"]
    for file in entry["files"]:
        path = VENDOR / file["path"]
        assert path.is_file(), f"{file['path']} of {entry['package']} is missing"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == file["sha256"], f"{file['path']} changed since it was vendored"


def test_no_file_in_the_vendor_folder_is_unrecorded() -> None:
    recorded = {file["path"] for entry in _record() for file in entry["files"]}
    present = {
        path.relative_to(VENDOR).as_posix()
        for path in VENDOR.rglob("*")
        if path.is_file() and path != RECORD
    }
    assert present == recorded


def test_the_versions_are_the_pinned_ones() -> None:
    pins = _json(ASSETS / "package.json")["dependencies"]
    locked = _json(ASSETS / "package-lock.json")["packages"]
    assert set(pins) == {"htmx.org", "chart.js", "leaflet"}
    for name, pin in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pin), f"{name} is not pinned exactly: {pin}"
    assert pins["htmx.org"].startswith("2.")
    assert pins["chart.js"].startswith("4.")
    assert pins["leaflet"].startswith("1.9.")
    for entry in _record():
        name = entry["package"]
        assert locked[f"node_modules/{name}"]["version"] == entry["version"], name
        if name in pins:
            assert entry["version"] == pins[name], name
        else:  # bundled inside another's build: a dependency the lock file holds
            assert entry.get("bundled_in") in {f["path"] for e in _record() for f in e["files"]}


def test_every_package_has_its_licence() -> None:
    for entry in _record():
        licences = [f for f in entry["files"] if Path(f["path"]).name.startswith("LICENSE")]
        assert len(licences) == 1, entry["package"]
        assert entry["licence"] in {"0BSD", "MIT", "BSD-2-Clause"}, entry
        text = (VENDOR / licences[0]["path"]).read_text(encoding="utf-8")
        assert "Permission" in text or "Redistribution" in text, entry["package"]


def test_the_paths_the_pages_use_are_vendored() -> None:
    recorded = {file["path"] for entry in _record() for file in entry["files"]}
    assert set(USED) <= recorded


def test_the_base_page_loads_htmx_deferred_without_its_inline_style() -> None:
    base = (ROOT / "tsk_workflow" / "web" / "templates" / "base.html.j2").read_text()
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in base
    # htmx 2 would inject a <style> for its indicators, which style-src 'self' forbids.
    found = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base)
    assert found is not None
    config = json.loads(found.group(1))
    assert config["includeIndicatorStyles"] is False
    # A refused value (422) is shown as the page without JavaScript shows it, not dropped.
    assert any(
        rule["swap"] and re.search(rule["code"], "422") for rule in config["responseHandling"][:3]
    )
    style = (ROOT / "tsk_workflow" / "web" / "static" / "style.css").read_text()
    assert ".htmx-indicator" in style
