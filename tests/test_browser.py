"""The landing pages in a real browser (headless Chromium): they render without console
errors, fit a phone's width, and their version links navigate.

The pages come from the whole app under a real gunicorn (`live`), over real S3 and a real
index: one specimen with two versions, a media object and an annotation linked to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from repository.access import trusted
from repository.provenance import Agent
from repository.services import FDOService
from resolver.pids import pid_url
from tests import records

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must import it first
    from tests.browser import Browser

pytest_plugins = ("tests.browser",)
pytestmark = [pytest.mark.browser, pytest.mark.s3]

CURATOR = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                        role="curator"))
THUMBNAIL = "https://images.example.org/bombus-terrestris-dorsal.jpg"
LONG_LOCALITY = "Wageningen, Binnenhaven, along the canal near the Rijnkade " * 3


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


@dataclass(frozen=True)
class Site:
    base_url: str
    pid: str
    broken_media_pid: str  # a media object whose image is missing from our own server
    remote_images: tuple[str, ...]  # remote URLs the pages show; unreachable from tests

    def url(self, version: int | None = None) -> str:
        return pid_url(self.base_url, self.pid, version)


def linked_media(specimen_id: str, access_uri: str) -> dict[str, object]:
    return records.media(**{
        "ac:accessURI": access_uri, "dcterms:title": "Dorsal", "dcterms:format": "image/jpeg",
        "ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": specimen_id,
            "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]})


@pytest.fixture
def site(live: FDOService) -> Site:
    """Version 1 and 2 of one specimen, each linking to the other through its history,
    with a media object and an annotation on it."""
    first = live.create("digital-specimens", records.specimen(**{
        "ods:organisationName": "Naturalis Biodiversity Center"}), CURATOR)
    prefix, suffix = first.pid.split("/")
    live.patch("digital-specimens", prefix, suffix, [
        {"op": "replace", "path": "/ods:specimenName", "value": "Bombus lapidarius"},
        {"op": "add", "path": "/ods:hasEvents", "value": [{
            "@type": "ods:Event", "dwc:eventDate": "1998-07-14",
            "ods:hasLocation": {"@type": "ods:Location", "dwc:locality": LONG_LOCALITY,
                                "dwc:country": "Netherlands"}}]}], first.digest, CURATOR)
    live.create("digital-media", linked_media(first.content["@id"], THUMBNAIL), CURATOR)
    live.create("annotations", records.annotation(first.content["@id"]), CURATOR)
    broken = live.create("digital-media", records.media(**{
        "ac:accessURI": f"{live.base_url}/missing.png"}), CURATOR)
    return Site(live.base_url, first.pid, broken.pid, (THUMBNAIL,))


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
    browser.open(pid_url(site.base_url, site.broken_media_pid))
    messages = [entry["message"] for entry in browser.severe_console_entries(site.remote_images)]
    assert any(message.startswith(f"{site.base_url}/missing.png") for message in messages)
