"""A real browser for the HTML tests: Debian's Chromium, headless, through ChromeDriver.

Use it with `pytest_plugins = ("tests.browser",)` in a test module and the `browser`
fixture. Programs: /usr/bin/chromium and /usr/bin/chromedriver (Debian `chromium
chromium-driver`; `make chromium` installs them). With CI=true a missing program fails the
test; elsewhere the test is skipped with the reason.

The browser never reaches the network: every host but 127.0.0.1 resolves to nothing
(--host-resolver-rules), so tests behave the same on a laptop and in CI, and nothing
remote is fetched. The only remote URLs our pages reference are media thumbnails (the
media objects' own `ac:accessURI`); their failed loads are the one kind of console error
that `severe_console_entries` ignores, and only for the URLs the test names.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

from tests.needs import require

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHONE = (390, 844)
DESKTOP = (1366, 900)
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--no-default-browser-check",
    # No DNS for any host but the test server: nothing remote can be fetched.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def missing_programs() -> list[str]:
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def start_driver(profile: Path) -> Chrome:
    """Chromium with a fresh profile directory and every console message logged."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A path for the driver keeps Selenium Manager (which downloads drivers) out of it.
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@dataclass
class Browser:
    driver: Chrome
    screenshots: Path

    def open(self, url: str) -> None:
        """Load `url`; console entries from earlier pages are dropped first."""
        self.driver.get_log("browser")
        self.driver.get(url)
        self.wait_for_images()

    def phone(self) -> None:
        """A phone's viewport, as a mobile device: the page's viewport meta applies."""
        width, height = PHONE
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})

    def desktop(self) -> None:
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.set_window_size(*DESKTOP)

    def wait_for_images(self, timeout: float = 10) -> None:
        """Until every image started has loaded or failed, so its console entry exists. A
        lazy image below the viewport may not have started (no currentSrc yet)."""
        script = ("return Array.from(document.images).every(i => i.complete || ("
                  "i.loading === 'lazy' && !i.currentSrc"
                  " && i.getBoundingClientRect().top > window.innerHeight))")
        WebDriverWait(self.driver, timeout).until(lambda d: d.execute_script(script))

    def screenshot(self, name: str) -> Path:
        """The whole page (not only the viewport) as PNG under the test's tmp dir."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        path = self.screenshots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}")
        return path

    def severe_console_entries(self, remote_images: Iterable[str] = ()) -> list[dict[str, Any]]:
        """SEVERE console entries since the page was opened, except failed loads of the
        given remote image URLs: the browser cannot reach them (see the module doc), and
        a broken thumbnail is expected there. Anything else, a failed load of one of our
        own URLs included, is returned."""
        expected = tuple(f"{url} - Failed to load resource" for url in remote_images)
        return [entry for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and not str(entry["message"]).startswith(expected)]

    def layout_width(self) -> tuple[int, int]:
        """(document scroll width, viewport width): equal unless the page scrolls sideways."""
        width, viewport = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        return int(width), int(viewport)


@pytest.fixture(scope="session")
def browser_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    missing = missing_programs()
    require(not missing, ", ".join(missing), "run `make chromium` as root")
    driver = start_driver(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def browser(browser_driver: Chrome, tmp_path: Path) -> Browser:
    """The session's browser at desktop size, screenshots going to this test's tmp dir."""
    shown = Browser(browser_driver, tmp_path)
    shown.desktop()
    return shown
