"""The map picker of the page ``/report`` (issue 18, item 4), on the server's side: its
settings in a JSON data island (the tiles, where the organisation's maps start), one picker per
event block, none without tiles; the organisation's ``map:`` setting checked by the validator.
What the script does in a browser is the browser harness's to test."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.enginekit import Clock, local, shared_catalog
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow.catalog import load_organisation, resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import setup
from tsk_workflow.engine.service import Engine
from tsk_workflow.organisation.model import MapSettings
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 3, 20, 12)
STAFF = "ida.wikstrom"
TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
HERRLJUNGA_MAP = "map:\n  centre: [58.078, 13.025]\n  zoom: 12\n"


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


def island(page: str) -> dict[str, object]:
    found = re.search(
        r'<script type="application/json" id="report-map-data">([^<]*)</script>', page
    )
    assert found, "the page has no map data island"
    data: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return data


def report_page(client: TestClient) -> str:
    demo_sign_in(client, STAFF)
    page = client.get("/report", params={"lang": "en"})
    assert page.status_code == 200, page.text
    return page.text


def test_the_island_carries_the_tiles_and_the_organisations_centre(
    engine: Engine, clock: Clock
) -> None:
    environ = {"TSK_MAP_TILES": TILES, "TSK_MAP_ATTRIBUTION": "© Exempel <b>"}
    with service_client(engine.store, clock, environ) as client:
        page = report_page(client)
    assert island(page) == {
        "tiles": TILES,
        "attribution": "© Exempel <b>",
        "centre": [58.078, 13.025],
        "zoom": 12,
    }
    assert "© Exempel <b>" not in page  # the island's text cannot end the element
    assert '<script src="/static/vendor/leaflet/leaflet.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">' in page
    assert '<script src="/static/report-map.js" defer></script>' in page
    # The picker is hidden until the script shows it; it has a name and says what it is for.
    picker = re.search(r'<div class="map-picker" id="e0-map-picker" data-event="0" hidden>', page)
    assert picker, page
    assert 'role="region" aria-label="Map for the point of event 1"' in page
    assert "instead of typing the two fields, click or tap the map" in page
    assert ">Remove the point</button>" in page
    # The fields stay as they are, the way to give a point without the map.
    assert 'id="e0-latitude" name="e0.latitude" type="number"' in page
    assert 'id="e0-longitude" name="e0.longitude" type="number"' in page


def test_the_map_is_in_swedish_by_default(engine: Engine, clock: Clock) -> None:
    with service_client(engine.store, clock, {"TSK_MAP_TILES": TILES}) as client:
        demo_sign_in(client, STAFF)
        page = client.get("/report").text
    assert "Ta bort punkten" in page
    assert 'aria-label="Karta för punkten för händelse 1"' in page


def test_another_event_block_gets_its_map_too(engine: Engine, clock: Clock) -> None:
    with service_client(engine.store, clock, {"TSK_MAP_TILES": TILES}) as client:
        page = report_page(client)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        form_id = re.search(r'name="form_id" value="([^"]+)"', page)
        assert token
        assert form_id
        again = client.post(
            "/report",
            data={
                "csrf_token": token.group(1),
                "form_id": form_id.group(1),
                "e0.category": "klotter",
                "e0.latitude": "58.08",
                "e0.longitude": "13.02",
                "add": "1",
            },
        )
    assert again.status_code == 200, again.text
    assert 'id="e0-map-picker" data-event="0"' in again.text
    assert 'id="e1-map-picker" data-event="1"' in again.text
    assert 'value="58.08"' in again.text
    assert again.text.count('id="report-map-data"') == 1


def test_without_tiles_there_is_no_map(engine: Engine, clock: Clock) -> None:
    with service_client(engine.store, clock, {"TSK_MAP_TILES": ""}) as client:
        page = report_page(client)
    assert "report-map-data" not in page
    assert "report-map.js" not in page
    assert "leaflet" not in page
    assert "map-picker" not in page
    assert 'id="e0-latitude" name="e0.latitude" type="number"' in page


def test_without_the_setting_the_map_starts_over_sweden(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    source = resolve_organisation_path("herrljunga")
    text = source.read_text(encoding="utf-8")
    changed = text.replace(HERRLJUNGA_MAP, "")
    assert changed != text
    path = tmp_path / "herrljunga.yaml"
    path.write_text(changed, encoding="utf-8")
    new = load_organisation(str(path), shared_catalog())
    assert new.map is None
    file = setup.OrganisationFile.of(path.read_bytes(), path.name)
    setup.load(engine.store, engine.catalog, engine.org, file, new, "marie.lind", clock)
    with service_client(engine.store, clock, {"TSK_MAP_TILES": TILES}) as client:
        page = report_page(client)
    data = island(page)
    assert (data["centre"], data["zoom"]) == ([62.0, 15.0], 5)


# ---------------------------------------------------------------- the organisation's setting


@pytest.mark.parametrize(
    ("centre", "message"),
    [
        ("[95.5, 13.025]", "{line}:12: map.centre[0]: 95.5 är ingen latitud: en latitud ligger"),
        ("[58.078, 200]", "{line}:20: map.centre[1]: 200.0 är ingen longitud: en longitud ligger"),
        ("[.nan, 13.025]", "map.centre[0]: nan är ingen latitud"),
        ("[58.078]", "map.centre"),
    ],
)
def test_a_centre_off_the_earth_is_refused_with_a_sentence(
    tmp_path: Path, centre: str, message: str
) -> None:
    """``tsk process validate`` (in Swedish, as by default) names the place and says why."""
    text = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    line = text.splitlines().index("  centre: [58.078, 13.025]") + 1
    message = message.format(line=line)
    changed = text.replace("centre: [58.078, 13.025]", f"centre: {centre}")
    assert changed != text
    path = tmp_path / "herrljunga.yaml"
    path.write_text(changed, encoding="utf-8")
    result = CliRunner().invoke(cli, ["process", "validate", str(path)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_zoom_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="less than or equal to 18"):
        MapSettings.model_validate({"centre": [58.0, 13.0], "zoom": 25})
    assert MapSettings.model_validate({"centre": [58.0, 13.0]}).zoom == 11
