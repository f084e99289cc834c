"""The landing pages in a real browser (headless Chromium): they render without console
errors, fit a phone's width, and their version links navigate.

The pages come from a stub server (`site`) rendering `render_landing` for two versions of
one specimen; it is the one fixture to replace when the test runs against the full app.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask, abort
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from werkzeug.serving import make_server

from resolver.pids import pid_url
from resolver.renderers.html import Related, render_landing
from tests import records
from tests.test_landing_html import PID, landing_page, stored

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must import it first
    from tests.browser import Browser

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser

THUMBNAIL = "https://images.example.org/bombus-terrestris-dorsal.jpg"
LONG_LOCALITY = "Wageningen, Binnenhaven, along the canal near the Rijnkade " * 3


@dataclass(frozen=True)
class Site:
    base_url: str
    remote_images: tuple[str, ...]  # remote URLs the pages show; unreachable from tests

    def url(self, version: int | None = None) -> str:
        return pid_url(self.base_url, PID, version)


def specimen_versions() -> dict[int, dict[str, Any]]:
    first = records.specimen(**{"ods:organisationName": "Naturalis Biodiversity Center"})
    second = {**first, "ods:specimenName": "Bombus lapidarius", "ods:hasEvents": [{
        "@type": "ods:Event", "dwc:eventDate": "1998-07-14",
        "ods:hasLocation": {"@type": "ods:Location", "dwc:locality": LONG_LOCALITY,
                            "dwc:country": "Netherlands"}}]}
    return {1: stored(first, "digital-specimens", 1), 2: stored(second, "digital-specimens", 2)}


def stub_app(base_url: str) -> Flask:
    """Version 1 and 2 of one specimen, each linking to the other through its history,
    and a media page whose image is missing from our own server (a real console error)."""
    versions = specimen_versions()
    media = stored(records.media(**{"ac:accessURI": THUMBNAIL, "dcterms:title": "Dorsal"}),
                   "digital-media", 1, "10.82621/MED-IAA-AAA")
    related = [Related(pid_url(base_url, "10.82621/MED-IAA-AAA"), "digital-media", media)]
    app = Flask(__name__)

    @app.get("/<path:path>")
    def page(path: str) -> str:
        if path == "missing-image":
            broken = {**media, "ac:accessURI": f"{base_url}/missing.png"}
            return render_landing(landing_page(broken, "digital-media", base_url=base_url))
        number = {PID: 2, f"{PID}/1": 1, f"{PID}/2": 2}.get(path) or abort(404)
        return render_landing(landing_page(versions[number], version=number, latest=2,
                                           related=related, base_url=base_url))

    return app


@pytest.fixture
def site() -> Iterator[Site]:
    """The pages under test over HTTP on 127.0.0.1, served from a thread."""
    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    server.app = stub_app(base_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(base_url, (THUMBNAIL,))
    server.shutdown()
    server.server_close()
    thread.join()


def assert_fits_phone(browser: Browser) -> None:
    width, viewport = browser.layout_width()
    assert viewport == 390, "the page ignores the phone's width (viewport meta?)"
    assert width <= viewport, f"the page scrolls sideways on a phone: {width} > {viewport}"


def test_version_page_renders_cleanly_on_phone_and_desktop(browser: Browser, site: Site) -> None:
    for size in ("phone", "desktop"):
        getattr(browser, size)()
        for version in (1, 2):
            browser.open(site.url(version))
            browser.screenshot(f"version-{version}-{size}")
            assert browser.severe_console_entries(site.remote_images) == []
            assert browser.driver.title.startswith("Bombus")
            if size == "phone":
                assert_fits_phone(browser)


def test_version_link_navigates_to_that_version(browser: Browser, site: Site) -> None:
    browser.open(site.url(1))
    assert "an earlier version" in browser.driver.find_element(By.CSS_SELECTOR, ".notice").text
    link = browser.driver.find_element(By.CSS_SELECTOR, f'ol.history a[href="{site.url(2)}"]')
    link.click()
    WebDriverWait(browser.driver, 10).until(lambda d: d.current_url == site.url(2))
    assert browser.driver.find_element(By.TAG_NAME, "h1").text == "Bombus lapidarius"
    shown = browser.driver.find_element(By.CSS_SELECTOR, 'ol.history a[aria-current="page"]')
    assert shown.get_attribute("href") == site.url(2)
    assert "1998-07-14" in browser.driver.find_element(By.TAG_NAME, "main").text
    assert browser.driver.find_elements(By.CSS_SELECTOR, ".notice.old") == []


def test_console_errors_other_than_remote_thumbnails_are_reported(
        browser: Browser, site: Site) -> None:
    browser.open(f"{site.base_url}/missing-image")
    messages = [entry["message"] for entry in browser.severe_console_entries(site.remote_images)]
    assert any(message.startswith(f"{site.base_url}/missing.png") for message in messages)
