"""Every write needs a token, whatever its method; every resolver response can be read by
a script on another origin (CORS), errors included."""

from __future__ import annotations

import pytest
import requests

from repository.access import trusted
from repository.provenance import Agent
from tests.records import specimen

pytestmark = pytest.mark.s3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
NO_TOKEN = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic Zm9vOmJhcg=="}]
PATCH = "application/json-patch+json"


@pytest.fixture
def stored(service):
    return service.create("digital-specimens", specimen(), AGENT)


@pytest.mark.parametrize("headers", NO_TOKEN)
def test_put_patch_and_delete_need_a_valid_token_and_change_nothing(client, stored, headers):
    path = f"/api/v1/digital-specimens/{stored.pid}"
    match = {"If-Match": f'"{stored.digest}"'}
    for response in (
            client.put(path, json=specimen(), headers={**headers, **match}),
            client.patch(path, json=[{"op": "add", "path": "/dwc:preparations", "value": "x"}],
                         headers={**headers, **match, "Content-Type": PATCH}),
            client.delete(path, json={"reason": "gone"}, headers={**headers, **match})):
        assert response.status_code == 401, response.json
        refused = "invalid_token" if headers.get("Authorization", "").startswith(
            "Bearer ") else "unauthorized"
        assert response.json["code"] == refused
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(path).headers["ETag"] == f'"{stored.digest}"'


def resolver_urls(pid: str) -> list[tuple[str, int]]:
    return [(f"/{pid}", 200), (f"/{pid}/1", 200), (f"/doi:{pid}", 200),
            (f"/{pid}/1/provenance", 200), (f"/{pid}/timemap", 200), (f"/{pid}/linkset", 200),
            (f"/api/handles/{pid}", 200), ("/10.82621/ZZZ-ZZZ-ZZZ", 404),
            ("/10.82621/ZZZ-ZZZ-ZZZ/9", 404), (f"/{pid}/7", 404), ("/10.82621/nope", 400),
            ("/api/handles/10.82621/ZZZ-ZZZ-ZZZ", 404), ("/api/handles/10.82621/nope", 400),
            (f"/{pid}?format=nope", 400)]


@pytest.mark.parametrize("accept", [None, "text/turtle", "text/html", "image/png"])
def test_resolver_responses_and_errors_carry_cors_headers(client, stored, accept):
    for url, status in resolver_urls(stored.pid):
        response = client.get(url, headers={"Accept": accept} if accept else {})
        if accept:  # an offer this URL does not make is 406, and still readable
            assert response.status_code in (status, 406), (url, accept, response.data[:200])
        else:
            assert response.status_code == status, (url, response.data[:200])
        assert response.headers.get("Access-Control-Allow-Origin") == "*", (url, accept)
        if "handles" not in url:
            assert "Link" in response.headers.get("Access-Control-Expose-Headers", ""), url


def test_cors_headers_through_gunicorn(gunicorn, service):
    record = service.create("digital-specimens", specimen(), AGENT)
    with requests.Session() as http:
        for url, status in resolver_urls(record.pid):
            response = http.get(gunicorn + url, timeout=30,
                                headers={"Origin": "https://elsewhere.example"})
            assert response.status_code == status, url
            assert response.headers.get("Access-Control-Allow-Origin") == "*", url
        for method in ("PUT", "PATCH", "DELETE"):
            response = http.request(method, f"{gunicorn}/api/v1/digital-specimens/{record.pid}",
                                    json={"reason": "x"}, timeout=30)
            assert response.status_code == 401, method
