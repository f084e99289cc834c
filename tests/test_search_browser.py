"""The home page and the search page in a real browser (headless Chromium) over the whole
app under gunicorn: type a name, pick a suggestion, click a facet, page forward, open a
hit; screenshots of each step in the test's tmp dir, and no console error anywhere.

The specimens' pictures are served by a loopback server of the test (`pictures`): media
files live on institutions' servers, which the browser cannot reach here, and a failed
fetch would be a console error. Pages without JavaScript are tests/test_pages.py."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from tests import records
from tests.test_browser import assert_fits_phone, linked_media

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must import it first
    from tests.browser import Browser

pytest_plugins = ("tests.browser",)
pytestmark = [pytest.mark.browser, pytest.mark.s3]

CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
TIMEOUT = 10
BOMBUS = 30  # more than a page of 20 after the facet click
DISCIPLINES = ("Zoology", "Botany")
PLACES = (("NL", 52.16, 4.49), ("BE", 50.85, 4.35), ("BR", -15.8, -47.9), ("KE", -1.3, 36.8))


def png() -> bytes:
    """A 1 x 1 PNG, written out: a picture the page can load."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x2a\x7a\x3c")) + chunk(b"IEND", b""))


class PictureHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = png()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the test's output is the pages'


@pytest.fixture
def pictures() -> Iterator[str]:
    """An institution's image server, on loopback: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PictureHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


def bombus(number: int) -> dict[str, object]:
    country, lat, lon = PLACES[number % len(PLACES)]
    return records.specimen(**{
        "ods:specimenName": "Bombus terrestris",
        "ods:topicDiscipline": DISCIPLINES[number % 5 == 0],
        "ods:organisationName": "Naturalis Biodiversity Center",
        "ods:hasEvents": [{"@type": "ods:Event", "dwc:eventDate": f"{1960 + number}-05-01",
                           "ods:hasLocation": {
                               "@type": "ods:Location", "dwc:countryCode": country,
                               "ods:hasGeoreference": {
                                   "@type": "ods:Georeference", "dwc:decimalLatitude": lat,
                                   "dwc:decimalLongitude": lon}}}]})


@pytest.fixture
def site(live: FDOService, pictures: str) -> str:
    """Bumblebees over four countries and 30 years, every third with a picture; a beetle."""
    for number in range(BOMBUS):
        created = live.create("digital-specimens", bombus(number), CURATOR)
        if number % 3 == 1:
            live.create("digital-media", linked_media(
                created.content["@id"], f"{pictures}/bombus-{number}.png"), CURATOR)
    live.create("digital-specimens", records.specimen(**{"ods:specimenName": "Carabus auratus"}),
                CURATOR)
    return live.base_url  # the app's own address


def arrived(driver: WebDriver, path: str) -> bool:
    return bool(urlsplit(driver.current_url).path == path)


def query(driver: WebDriver) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(driver.current_url).query)


def clean(browser: Browser, step: str) -> None:
    browser.wait_for_images()
    browser.screenshot(step)
    assert browser.severe_console_entries() == [], step


def test_type_pick_a_suggestion_click_a_facet_page_forward_open_a_hit(
        browser: Browser, site: str) -> None:
    driver = browser.driver
    browser.open(f"{site}/")
    clean(browser, "1-home")
    driver.find_element(By.ID, "q").send_keys("bomb")
    suggestion = WebDriverWait(driver, TIMEOUT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#suggestions a"))
    assert suggestion.text.startswith("Bombus terrestris")
    browser.screenshot("2-suggestions")
    suggestion.click()
    WebDriverWait(driver, TIMEOUT).until(lambda d: arrived(d, "/search"))
    assert query(driver) == [("specimenName", "Bombus terrestris")]
    assert driver.find_element(By.ID, "total").text == str(BOMBUS)
    clean(browser, "3-picked")
    facet = driver.find_element(By.CSS_SELECTOR, '[data-facet="topicDiscipline"] a')
    chosen = facet.text
    facet.click()
    WebDriverWait(driver, TIMEOUT).until(lambda d: ("topicDiscipline", chosen) in query(d))
    chips = driver.find_element(By.ID, "filters").text
    assert f"Discipline: {chosen}" in chips and "Name: Bombus terrestris" in chips
    total = int(driver.find_element(By.ID, "total").text)
    assert total == sum(DISCIPLINES[n % 5 == 0] == chosen for n in range(BOMBUS))
    clean(browser, "4-facet")
    first = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a.name")]
    driver.find_element(By.ID, "next-page").click()
    WebDriverWait(driver, TIMEOUT).until(lambda d: any(n == "cursor" for n, _ in query(d)))
    second = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a.name")]
    assert len(first) == 20 and len(first) + len(second) == total
    assert not set(first) & set(second)
    clean(browser, "5-next-page")
    hit = driver.find_element(By.CSS_SELECTOR, "a.name")
    target = hit.get_attribute("href")
    hit.click()
    WebDriverWait(driver, TIMEOUT).until(lambda d: d.current_url == target)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Bombus terrestris"
    clean(browser, "6-hit")


def test_the_search_page_shows_thumbnails_a_map_and_fits_a_phone(
        browser: Browser, site: str) -> None:
    driver = browser.driver
    browser.open(f"{site}/search?q=bombus&view=map")
    api = requests.get(f"{site}/api/v1/search?q=bombus", timeout=TIMEOUT).json()
    pictures = driver.find_elements(By.CSS_SELECTOR, "ol.hits img")
    assert len(pictures) == sum(1 for hit in api["hits"] if hit["thumbnail"]) > 0
    for picture in pictures:  # lazy: each loads when scrolled near
        driver.execute_script("arguments[0].scrollIntoView()", picture)
    WebDriverWait(driver, TIMEOUT).until(lambda d: all(
        d.execute_script("return arguments[0].complete", img) for img in pictures))
    assert all(driver.execute_script("return arguments[0].naturalWidth", img) == 1
               for img in pictures)
    assert driver.find_elements(By.CSS_SELECTOR, "#hits-map svg circle")
    clean(browser, "map-desktop")
    browser.phone()
    browser.open(f"{site}/search?q=bombus")
    assert_fits_phone(browser)
    clean(browser, "list-phone")
    browser.open(f"{site}/")
    assert_fits_phone(browser)
    clean(browser, "home-phone")


def test_the_search_form_works_with_the_keyboard_alone(browser: Browser, site: str) -> None:
    driver = browser.driver
    browser.open(f"{site}/search")
    box = driver.find_element(By.ID, "q")
    box.send_keys("carab")
    WebDriverWait(driver, TIMEOUT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions a"))
    box.send_keys(Keys.ARROW_DOWN)
    assert driver.switch_to.active_element.text.startswith("Carabus auratus")
    box = driver.find_element(By.ID, "q")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert driver.switch_to.active_element == box
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, TIMEOUT).until(lambda d: ("q", "carab") in query(d))
    assert driver.find_element(By.ID, "total").text == "1"
    assert "<mark>Carab" in driver.find_element(By.CSS_SELECTOR, ".snippet") \
        .get_attribute("innerHTML")
    clean(browser, "keyboard")
