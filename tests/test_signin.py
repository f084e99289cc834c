"""Browser sign-in through the real parts: the local OpenID provider (oidc/provider.mjs),
the app under gunicorn with two workers, and headless Chromium clicking through the real
redirects; `requests` plays the browser where a test needs to forge or replay something.

The provider must know the app's callback URL before it starts, so each site picks the
app's port first, starts the provider with that redirect, then gunicorn on the port.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
import requests
import servers  # scripts/ is on sys.path (conftest)
from flask import Flask
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from repository.config import Config
from repository.signin import current_session_agent
from repository.web_sessions import session_hash
from storage.index import Index
from storage.models import GrantRow, WebSessionRow, timestamp
from tests.conftest import serve_app
from tests.oidc import USERS, start_test_provider

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must import it first
    from werkzeug.test import TestResponse

    from tests.browser import Browser

pytest_plugins = ("tests.browser", "tests.oidc")

ADA = USERS["ada"]
TIMEOUT = 10


@dataclass
class Site:
    url: str
    provider: servers.OidcServer

    def account(self, web: requests.Session | None = None, **cookies: str) -> str:
        getter = web.get if web else requests.get
        response = getter(f"{self.url}/account", cookies=cookies or None, timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        return response.text


def signin_config(config: Config, url: str, provider: servers.OidcServer) -> Config:
    # The API takes the provider's access tokens for the resource it issues them for.
    return replace(config, base_url=url, oidc_issuer=provider.issuer,
                   oidc_audience=f"{url}/api/v1", oidc_client_id=provider.client_id,
                   oidc_client_secret=provider.client_secret, oidc_roles_claim="roles")


@pytest.fixture
def site(config: Config, tmp_path: Path) -> Iterator[Site]:
    """The app under gunicorn (two workers) with sign-in against a provider of its own."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    provider = start_test_provider(tmp_path / "oidc", redirects=(f"{url}/auth/callback",),
                                   resource=f"{url}/api/v1")
    try:
        process = serve_app(signin_config(config, url, provider), port)
        try:
            yield Site(url, provider)
        finally:
            servers.stop_process(process)
    finally:
        provider.stop()


def follow(web: requests.Session, response: requests.Response,
           stop_at: str = "") -> requests.Response:
    """Follow redirects until a page, or until the next one would lead to `stop_at`."""
    for _ in range(10):
        location = response.headers.get("Location")
        if location is None or (stop_at and urljoin(response.url, location).startswith(stop_at)):
            return response
        response = web.get(urljoin(response.url, location), allow_redirects=False,
                           timeout=TIMEOUT)
    raise AssertionError("too many redirects")


def provider_login(web: requests.Session, start: str, provider: servers.OidcServer,
                   callback: str, user: str = "ada", password: str = ADA["password"]) -> str:
    """From `start` (a sign-in URL of the app, or the provider's authorization URL it led
    to) through the provider's login form: the URL of the redirect back to `callback`,
    not followed. A browser already signed in at the provider goes straight back."""
    form = follow(web, web.get(start, allow_redirects=False, timeout=TIMEOUT), callback)
    if "Location" in form.headers:
        return urljoin(form.url, form.headers["Location"])
    assert form.url.startswith(provider.issuer) and 'name="password"' in form.text
    submitted = web.post(f"{form.url}/login", data={"login": user, "password": password},
                         allow_redirects=False, timeout=TIMEOUT)
    back = follow(web, submitted, stop_at=callback)
    return urljoin(back.url, back.headers["Location"])


def sign_in(site: Site, user: str = "ada", next_path: str | None = None,
            web: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """A signed-in `requests` session (`web`, or a new one) and the app's answer to the
    callback."""
    web = web or requests.Session()
    start = f"{site.url}/auth/login" + (f"?next={next_path}" if next_path else "")
    back = provider_login(web, start, site.provider, f"{site.url}/auth/callback", user,
                          USERS[user]["password"])
    return web, web.get(back, allow_redirects=False, timeout=TIMEOUT)


def csrf_token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, "the account page has no sign-out form"
    return found.group(1)


def wait_for(browser: Browser, condition: Any) -> None:
    WebDriverWait(browser.driver, TIMEOUT).until(condition)


# -- in the browser -------------------------------------------------------------------


def start_browser_sign_in(browser: Browser, site: Site, user: str, password: str) -> None:
    """/account, its Sign in link, the provider's form filled in and sent."""
    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.open(f"{site.url}/account")
    assert browser.driver.find_element(By.ID, "signed-out").text == "You are not signed in."
    browser.driver.find_element(By.ID, "sign-in").click()
    wait_for(browser, lambda d: d.current_url.startswith(site.provider.issuer))
    browser.driver.find_element(By.ID, "login").send_keys(user)
    browser.driver.find_element(By.ID, "password").send_keys(password)
    browser.driver.find_element(By.ID, "submit").click()


def test_a_person_signs_in_in_the_browser_sees_who_they_are_and_signs_out(
        site: Site, browser: Browser, config: Config) -> None:
    index = Index(config.database_url)  # a grant held here, besides the provider's roles
    index.access.add_grant(GrantRow(agent=ADA["orcid"], role="curator",
                                    organisation_id="https://ror.org/039zvsn29",
                                    source_system="", created=timestamp(), created_by="test"))
    index.close()
    start_browser_sign_in(browser, site, "ada", ADA["password"])
    wait_for(browser, lambda d: d.current_url == f"{site.url}/account")
    driver = browser.driver
    assert driver.find_element(By.ID, "name").text == ADA["name"]
    orcid = driver.find_element(By.ID, "orcid")
    assert (orcid.text, orcid.get_attribute("href")) == (ADA["orcid"], ADA["orcid"])
    assert driver.find_element(By.ID, "roles").text == ADA["roles"][0]
    assert driver.find_element(By.ID, "grant-list").text == \
        "curator of https://ror.org/039zvsn29"
    browser.screenshot("account-signed-in")
    ours = [entry for entry in browser.severe_console_entries()
            if not str(entry["message"]).startswith(site.provider.issuer)]  # its favicon
    assert ours == []

    cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
    session = cookies["fdo_session"]
    assert (session["httpOnly"], session["sameSite"], session["secure"]) == (True, "Lax", False)
    assert "fdo_login" not in cookies  # the login transaction ended at the callback
    assert ADA["name"] in site.account(fdo_session=session["value"])

    driver.find_element(By.ID, "sign-out").click()
    # On to the provider, which asks whether to end its own session too.
    wait_for(browser, lambda d: d.current_url.startswith(site.provider.issuer))
    assert "fdo_session" not in {cookie["name"] for cookie in driver.get_cookies()}
    for _ in range(4):  # both workers: the row is ended, a copy of the cookie is nothing
        replayed = site.account(fdo_session=session["value"])
        assert "You are not signed in." in replayed and ADA["name"] not in replayed
    browser.open(f"{site.url}/account")
    assert driver.find_element(By.ID, "signed-out").is_displayed()


def test_a_wrong_password_stays_at_the_provider_and_signs_nobody_in(
        site: Site, browser: Browser) -> None:
    start_browser_sign_in(browser, site, "ada", "not-the-password")
    wait_for(browser, lambda d: d.find_elements(By.ID, "error"))
    driver = browser.driver
    assert driver.current_url.startswith(site.provider.issuer)
    assert driver.find_element(By.ID, "error").text == "Wrong user or password"
    assert "fdo_session" not in {cookie["name"] for cookie in driver.get_cookies()}


# -- forged and replayed requests -----------------------------------------------------


def test_a_session_cookie_is_httponly_and_lax_and_the_login_cookie_goes_at_the_callback(
        site: Site) -> None:
    web, callback = sign_in(site)
    assert callback.status_code == 302
    assert callback.headers["Location"] == f"{site.url}/account"
    set_cookies = callback.raw.headers.getlist("Set-Cookie")
    session = next(value for value in set_cookies if value.startswith("fdo_session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session
    login = next(value for value in set_cookies if value.startswith("fdo_login="))
    assert "Expires=Thu, 01 Jan 1970" in login  # deleted
    page = site.account(web)
    assert ADA["name"] in page and ADA["orcid"] in page
    # Signing in again in the same browser (the provider remembers it): a new value, and
    # the one before is ended.
    first = web.cookies["fdo_session"]
    sign_in(site, web=web)
    assert web.cookies["fdo_session"] != first
    assert ADA["name"] in site.account(web)
    assert "You are not signed in." in site.account(fdo_session=first)


def test_a_callback_with_a_forged_state_is_refused_with_400_and_signs_nobody_in(
        site: Site) -> None:
    web = requests.Session()
    real = provider_login(web, f"{site.url}/auth/login", site.provider,
                          f"{site.url}/auth/callback")
    forged = re.sub(r"state=[^&]+", "state=forged", real)
    answer = web.get(forged, allow_redirects=False, timeout=TIMEOUT,
                     headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "sign_in_failed"
    assert "mismatching_state" in answer.json()["message"]
    assert "fdo_session" not in answer.cookies
    page = web.get(forged, timeout=TIMEOUT, headers={"Accept": "text/html"})
    assert page.status_code == 400 and "text/html" in page.headers["Content-Type"]
    # With no login under way at all, and with the provider's refusal, the same.
    for query in ("code=x&state=y", "error=access_denied&state=y"):
        refused = requests.get(f"{site.url}/auth/callback?{query}", timeout=TIMEOUT)
        assert refused.status_code == 400


def test_a_person_without_an_orcid_id_is_not_signed_in(site: Site) -> None:
    _, callback = sign_in(site, "nemo")
    assert callback.status_code == 400
    assert "no ORCID iD in the 'orcid' claim" in callback.text
    assert "fdo_session" not in callback.cookies


def test_next_is_followed_only_to_a_path_on_the_site(site: Site) -> None:
    _, callback = sign_in(site, next_path="/sitemap.xml")
    assert callback.headers["Location"] == f"{site.url}/sitemap.xml"
    for target in ("https://elsewhere.example/", "//elsewhere.example/x",
                   "/\\elsewhere.example", "javascript:alert(1)"):
        _, callback = sign_in(site, next_path=requests.utils.quote(target, safe=""))
        assert callback.headers["Location"] == f"{site.url}/account", target


def test_sign_out_without_the_csrf_token_or_from_another_origin_is_403_and_keeps_the_session(
        site: Site) -> None:
    web, _ = sign_in(site)
    token = csrf_token_of(site.account(web))
    logout = f"{site.url}/auth/logout"
    refusals = [
        ({"Origin": site.url}, {}, "has no csrf_token"),
        ({"Origin": site.url}, {"csrf_token": "0" * 64}, "not this session's"),
        ({"Origin": "http://elsewhere.example"}, {"csrf_token": token}, "comes from"),
        ({"Referer": "http://elsewhere.example/form"}, {"csrf_token": token}, "comes from"),
        ({}, {"csrf_token": token}, "neither Origin nor Referer"),
    ]
    for headers, form, reason in refusals:
        answer = web.post(logout, data=form, headers={"Accept": "application/json", **headers},
                          allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 403, (headers, form)
        assert reason in answer.json()["message"]
        assert ADA["name"] in site.account(web)
    # Another session's token does not end this one either.
    other, _ = sign_in(site, "ben")
    answer = web.post(logout, data={"csrf_token": csrf_token_of(site.account(other))},
                      headers={"Origin": site.url}, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 403 and ADA["name"] in site.account(web)

    ended = web.post(logout, data={"csrf_token": token}, headers={"Referer": f"{site.url}/x"},
                     allow_redirects=False, timeout=TIMEOUT)
    assert ended.status_code == 302
    assert ended.headers["Location"].startswith(site.provider.issuer)
    assert "You are not signed in." in site.account(web)
    assert USERS["ben"]["name"] in site.account(other)


def test_sign_in_answers_503_while_the_provider_cannot_be_reached(site: Site) -> None:
    site.provider.stop()
    answer = requests.get(f"{site.url}/auth/login", allow_redirects=False, timeout=TIMEOUT,
                          headers={"Accept": "application/json"})
    assert answer.status_code == 503
    assert answer.json()["code"] == "identity_provider_unavailable"


# -- without a server -----------------------------------------------------------------


HTTPS = "https://fdo.test"


@dataclass
class HttpsApp:
    """The app in the test client at an https base URL, with a provider of its own."""

    app: Flask
    client: FlaskClient
    provider: servers.OidcServer

    def callback_url(self, login: TestResponse) -> str:
        """Sign in at the provider that `login` (the app's answer to /auth/login) sent
        the browser to: the callback URL, with its code and state."""
        return provider_login(requests.Session(), login.headers["Location"], self.provider,
                              f"{HTTPS}/auth/callback")


@pytest.fixture
def https_app(config: Config, make_app: Any, tmp_path: Path) -> Iterator[HttpsApp]:
    provider = start_test_provider(tmp_path / "oidc", redirects=(f"{HTTPS}/auth/callback",))
    try:
        app: Flask = make_app(signin_config(config, HTTPS, provider))
        yield HttpsApp(app, app.test_client(), provider)
    finally:
        provider.stop()


def test_the_cookies_are_secure_when_the_base_url_is_https(https_app: HttpsApp) -> None:
    login = https_app.client.get("/auth/login", base_url=HTTPS)
    assert "Secure" in login.headers["Set-Cookie"]
    assert login.headers["Set-Cookie"].startswith("fdo_login=")
    callback = https_app.client.get(https_app.callback_url(login), base_url=HTTPS)
    assert callback.status_code == 302
    session = next(value for value in callback.headers.getlist("Set-Cookie")
                   if value.startswith("fdo_session="))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session


def test_an_id_token_for_another_nonce_is_refused_with_400(https_app: HttpsApp) -> None:
    """The login cookie is re-signed with the app's own key and another nonce: what the
    provider then signs no longer matches it."""
    client = https_app.client
    login = client.get("/auth/login", base_url=HTTPS)
    signer = https_app.app.session_interface.get_signing_serializer(  # type: ignore[attr-defined]
        https_app.app)
    cookie = client.get_cookie("fdo_login", domain="fdo.test")
    assert cookie is not None
    pending = signer.loads(cookie.value)
    for value in pending.values():
        value["data"]["nonce"] = "another-nonce"
    client.set_cookie("fdo_login", signer.dumps(pending), domain="fdo.test")
    callback = client.get(https_app.callback_url(login), base_url=HTTPS,
                          headers={"Accept": "application/json"})
    assert callback.status_code == 400
    assert "nonce" in callback.get_json()["message"]
    assert client.get_cookie("fdo_session", domain="fdo.test") is None


def test_an_expired_session_is_not_signed_in(https_app: HttpsApp) -> None:
    sessions = https_app.app.extensions["web_sessions"]
    for value, expires, signed_in in (("live", timestamp(-60), True),
                                      ("expired", timestamp(60), False)):
        sessions.table.add(WebSessionRow(
            id_hash=session_hash(value), agent=ADA["orcid"], name=ADA["name"],
            idp_roles=ADA["roles"], created=timestamp(120), expires=expires, ended=None))
        https_app.client.set_cookie("fdo_session", value, domain="fdo.test")
        page = https_app.client.get("/account", base_url=HTTPS).get_data(as_text=True)
        assert (ADA["name"] in page) is signed_in
        assert ("You are not signed in." in page) is not signed_in
        with https_app.app.test_request_context(
                "/account", base_url=HTTPS, headers={"Cookie": f"fdo_session={value}"}):
            expected = (ADA["orcid"], ADA["name"], ADA["roles"]) if signed_in else None
            assert current_session_agent() == expected


def test_without_an_issuer_auth_answers_404_and_the_account_page_says_so(
        client: Any) -> None:
    answer = client.get("/auth/login")
    assert answer.status_code == 404
    assert "sign-in is not configured" in answer.get_json()["message"]
    page = client.get("/account").get_data(as_text=True)
    assert "Sign-in is not configured" in page
    assert 'href="http://fdo.test/account">Sign in / Account</a>' in page
