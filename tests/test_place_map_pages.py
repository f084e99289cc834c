"""The small map on landing pages: a record whose event has coordinates shows the place,
in valid HTML5, through the whole app under gunicorn over real S3, and in headless
Chromium without console errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from selenium.webdriver.common.by import By

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from resolver.pids import pid_url
from resolver.renderers.html import render_landing
from tests import records
from tests.test_landing_html import by_class, landing_page, parse, stored, text_of

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must import it first
    from tests.browser import Browser

pytest_plugins = ("tests.browser",)

CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))


def collected_at(lat: Any, lon: Any, locality: str = "Leiden") -> dict[str, Any]:
    return records.specimen(**{"ods:hasEvents": [{
        "@type": "ods:Event", "dwc:eventDate": "1998-07-14",
        "ods:hasLocation": {"@type": "ods:Location", "dwc:locality": locality,
                            "dwc:country": "Netherlands",
                            "ods:hasGeoreference": {"@type": "ods:Georeference",
                                                    "dwc:decimalLatitude": lat,
                                                    "dwc:decimalLongitude": lon}}}]})


def place_maps(tree: Any) -> list[Any]:
    return [svg for svg in tree.iter() if str(svg.tag).endswith("svg")
            and "fdo-place" in (svg.get("class") or "").split()]


def test_a_specimen_with_coordinates_shows_the_place_in_valid_html5() -> None:
    content = stored(collected_at(52.16, 4.49), "digital-specimens", 1)
    tree = parse(render_landing(landing_page(content)))
    [drawing] = place_maps(tree)
    assert drawing.get("aria-label") == "Map of 52.16° N, 4.49° E in Netherlands"
    [section] = by_class(tree, "section", "place")
    assert "52.16° N, 4.49° E" in text_of(section)


@pytest.mark.parametrize(("lat", "lon"), [(None, 4.49), (95, 4.49), ("52°N", "4°E")],
                         ids=["missing", "out of range", "not a number"])
def test_a_specimen_without_valid_coordinates_has_no_map(lat: Any, lon: Any) -> None:
    content = stored(collected_at(lat, lon), "digital-specimens", 1)
    tree = parse(render_landing(landing_page(content)))
    assert place_maps(tree) == [] and by_class(tree, "section", "place") == []


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


@pytest.mark.s3
def test_the_served_landing_page_carries_the_map_and_stays_cacheable(live: FDOService) -> None:
    created = live.create("digital-specimens", collected_at(-1.29, 36.82, "Nairobi"), CURATOR)
    url = pid_url(live.base_url, created.pid)
    first, second = (requests.get(url, headers={"Accept": "text/html"}, timeout=30)
                     for _ in range(2))
    assert first.status_code == 200 and first.text == second.text
    assert first.headers["ETag"] == second.headers["ETag"]
    [drawing] = place_maps(parse(first.text))
    assert drawing.get("aria-label") == "Map of 1.29° S, 36.82° E in Kenya"
    again = requests.get(url, headers={"Accept": "text/html",
                                       "If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304


@pytest.mark.s3
@pytest.mark.browser
def test_chromium_draws_the_place_map_without_console_errors(
        browser: Browser, live: FDOService) -> None:
    created = live.create("digital-specimens", collected_at(52.16, 4.49), CURATOR)
    for size in ("desktop", "phone"):
        getattr(browser, size)()
        browser.open(pid_url(live.base_url, created.pid))
        browser.screenshot(f"place-map-{size}")
        assert browser.severe_console_entries() == []
        drawing = browser.driver.find_element(By.CSS_SELECTOR, "section.place svg.fdo-place")
        assert drawing.is_displayed()
        width, height = drawing.size["width"], drawing.size["height"]
        assert width > 150 and abs(width / height - 1.5) < 0.05  # the viewBox's 3:2
        marker = drawing.find_element(By.CSS_SELECTOR, "circle.marker")
        assert marker.is_displayed()
        scroll_width, viewport = browser.layout_width()
        assert scroll_width <= viewport
