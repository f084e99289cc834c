"""The whole curation cycle through the real parts: gunicorn (two workers), SeaweedFS,
SQLite or PostgreSQL, the local OpenID provider and headless Chromium. A dataset is
ingested; an annotator proposes a change over the API with the provider's access token;
a curator signs in in the browser, approves it in the curation queue and lands on the
specimen's new version; a re-check of the unchanged dataset keeps the approved value."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from selenium.webdriver.common.by import By

from repository import build_service
from repository.config import Config
from tests.oidc import USERS, sign_in_tokens
from tests.test_ingest import ROWS, archive, ingest, source
from tests.test_signin import Site, start_browser_sign_in, wait_for
from tests.test_signin import site as site  # noqa: F401 - the fixture, used by name

if TYPE_CHECKING:
    from tests.browser import Browser

pytest_plugins = ("tests.browser", "tests.oidc")
pytestmark = pytest.mark.s3
LOCALITY = "$['ods:hasEvents'][0]['ods:hasLocation']['dwc:locality']"
TIMEOUT = 10


def test_propose_approve_in_the_browser_and_a_re_check_keeps_the_approved_value(
        site: Site, browser: Browser, config: Config, tmp_path: Path) -> None:
    service = build_service(replace(config, base_url=site.url))  # the site's bucket and index
    try:
        ingest(service, archive(tmp_path / "v1.zip", ROWS))
        suffix = source(service).system_id.rsplit("/", 1)[-1]
        pid = service.index.pid_for_physical_id(f"{ROWS[0][1]}:{suffix}")
        assert pid is not None
        specimen_url = f"{site.url}/{pid}"

        # Ben proposes a change with the provider's access token for this API.
        token, _ = sign_in_tokens(site.provider, "ben", USERS["ben"]["password"],
                                  resource=f"{site.url}/api/v1",
                                  redirect_uri=f"{site.url}/auth/callback")
        proposed = requests.post(f"{site.url}/api/v1/annotations", timeout=TIMEOUT, json={
            "oa:motivation": "oa:editing",
            "oa:hasTarget": {"@id": specimen_url, "oa:hasSelector": {
                "@type": "ods:TermSelector", "ods:term": LOCALITY}},
            "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Hortus botanicus Leiden"]}},
            headers={"Authorization": f"Bearer {token}"})
        assert proposed.status_code == 201, proposed.text
        annotation = proposed.json()
        assert annotation["ods:mergingDecisionStatus"] == "Pending"
        assert annotation["dcterms:creator"]["@id"] == USERS["ben"]["orcid"]

        # Ada signs in at the provider and decides in her queue.
        start_browser_sign_in(browser, site, "ada", USERS["ada"]["password"])
        wait_for(browser, lambda d: d.current_url == f"{site.url}/account")
        browser.open(f"{site.url}/curation")
        driver = browser.driver
        row = driver.find_element(By.ID, "proposal-" + annotation["@id"].removeprefix(
            site.url + "/").replace("/", "-"))
        assert "Leiden" in row.text and "Hortus botanicus Leiden" in row.text
        browser.screenshot("curation-queue")
        row.find_element(By.NAME, "comment").send_keys("checked against the label")
        row.find_element(By.CSS_SELECTOR, "button.approve").click()
        wait_for(browser, lambda d: d.current_url == specimen_url)
        history = driver.find_element(By.ID, "history").text
        assert "approved annotation" in history
        browser.screenshot("specimen-after-approval")
        assert [entry for entry in browser.severe_console_entries()] == []

        # The new version: exactly the change, and where it came from.
        event = requests.get(f"{site.url}/api/v1/digital-specimens/{pid}/versions/2/provenance",
                             timeout=TIMEOUT).json()
        assert event["prov:Activity"]["ods:changeValue"] == [{
            "op": "replace", "path": "/ods:hasEvents/0/ods:hasLocation/dwc:locality",
            "value": "Hortus botanicus Leiden"}]
        assert event["prov:Entity"]["prov:wasDerivedFrom"] == [annotation["@id"] + "/1"]
        assert event["prov:Entity"]["prov:wasAttributedTo"] == [USERS["ben"]["orcid"]]
        assert {"@id": USERS["ada"]["orcid"], "prov:hadRole": "Requestor"} in \
            event["prov:Activity"]["prov:wasAssociatedWith"]
        decided = requests.get(annotation["@id"], timeout=TIMEOUT,
                               headers={"Accept": "application/json"}).json()
        assert decided["ods:mergingDecisionStatus"] == "Approved"
        assert decided["ods:hasMergingStateChangedBy"]["@id"] == USERS["ada"]["orcid"]

        # The source sends its old record again: the approved value stays, no version.
        report, _ = ingest(service, archive(tmp_path / "v1-again.zip", ROWS))
        assert report.curation == {"reapplied": 1}
        browser.open(specimen_url)
        assert "Hortus botanicus Leiden" in driver.find_element(By.TAG_NAME, "main").text
        assert "Version 2 of 2" in driver.find_element(By.CLASS_NAME, "ids").text
        browser.screenshot("specimen-after-re-check")
        assert browser.severe_console_entries() == []
    finally:
        service.close()


def test_the_queue_asks_to_sign_in_and_a_decision_without_a_session_is_refused(
        site: Site) -> None:
    page = requests.get(f"{site.url}/curation", timeout=TIMEOUT)
    assert page.status_code == 200 and 'id="signed-out"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    refused = requests.post(f"{site.url}/curation/decision", timeout=TIMEOUT,
                            data={"decision": "Approved", "annotation": "20.5000/AAA-AAA-AAA"},
                            headers={"Origin": site.url})
    assert refused.status_code == 401
