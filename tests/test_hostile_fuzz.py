"""Thousands of hostile requests, drawn from a seeded generator, across the API, the
resolver, OAI-PMH and the change feed: none may answer 5xx. Each failure names its seed
and request, so it can be replayed."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from repository.access import trusted
from repository.provenance import Agent
from tests.records import media, specimen

pytestmark = pytest.mark.s3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
REQUESTS = 2500
TEXTS = ["", " ", ";", "\u00b2", "\u0663", "\uff11", "%00", "%0D%0A", "%ff", "..", "/", "*",
         "A" * 300, "https://[\u00fc", "http://\u00fc:99999999", "1e999", "-1", "0", "2",
         "99999999999999999999", "doi:", "hdl:", "10.82621", "\u202e", "<x>", '"', "\\"]
VALUES: list[Any] = [1e308, -(2**53 - 1), 2**53, 10**400, float("inf"), None, True, [], {},
                     "https://[\u00fc", "http://\u00fc:abc", "x\r\ny", "\ud800", "\u0000",
                     "A" * 5000, [[[[[[[[]]]]]]]], {"@id": "http://[::1\u00fc]/"}]
TERMS = ["dcterms:license", "ac:accessURI", "dwc:preparations", "ods:hasEvents",
         "ods:specimenName", "@id", "ods:version", "dwciri:measurementType", "x", ""]
ACCEPTS = [None, ";", "text/html, ;", "*/*", "text/turtle;q=x", "a/b/c", "/", '"',
           "application/ld+json;profile=\"", "text/x-bibliography; style=nope",
           "application/rdf+xml", "application/n-triples", "image/png"]


class Hostile:
    """Requests drawn from a seeded generator, around the objects a test made."""

    def __init__(self, seed: int, pids: list[str]) -> None:
        self.draw = random.Random(seed)
        self.pids = pids

    def text(self) -> str:
        return "".join(self.draw.choice(TEXTS) for _ in range(self.draw.randint(0, 3)))

    def pid_path(self) -> str:
        pid = self.draw.choice([*self.pids, "10.82621/ZZZ-ZZZ-ZZZ", "20.500.14920/X"])
        shape = self.draw.choice(["{p}", "{p}/{t}", "doi:{p}/{t}", "hdl/{p}", "{p}/{t}/provenance",
                                  "{p}/timemap", "{p}/linkset", "https://doi.org/{p}/{t}",
                                  "{t}/{p}", "api/handles/{p}{t}", "{p}?format={t}",
                                  "{p}?locatt={t}", "{p}?noredirect", "{p}?style={t}"])
        # One leading slash: the test client would read '//x' as a host, not a path.
        return "/" + shape.format(p=pid, t=self.text()).lstrip("/")

    def value(self) -> Any:
        return self.draw.choice(VALUES) if self.draw.random() < 0.8 else self.text()

    def document(self) -> dict[str, Any]:
        document = self.draw.choice([specimen, media])()
        for _ in range(self.draw.randint(1, 3)):
            document[self.draw.choice(TERMS)] = self.value()
        return document

    def patch(self) -> list[Any]:
        ops = ["add", "copy", "move", "replace", "remove", "test", "nope"]
        return [{"op": self.draw.choice(ops), "path": self.draw.choice(["", "/", "/x", "/-",
                                                                        "/ods:hasEvents/0"]),
                 "from": self.draw.choice(["", "/ods:specimenName", "/x"]),
                 "value": self.value()} for _ in range(self.draw.randint(0, 5))]

    def oai(self) -> dict[str, str]:
        names = ["verb", "metadataPrefix", "identifier", "resumptionToken", "from", "until",
                 "set"]
        verbs = ["GetRecord", "ListRecords", "ListIdentifiers", "ListSets", "Identify",
                 "ListMetadataFormats", self.text()]
        arguments = {"verb": self.draw.choice(verbs)}
        for name in self.draw.sample(names[1:], self.draw.randint(0, 3)):
            arguments[name] = self.draw.choice([self.text(), "oai_dc", "[" * 1500,
                                                f"doi:{self.draw.choice(self.pids)}/\u00b2"])
        return arguments


def send(client: Any, auth: dict[str, str], hostile: Hostile) -> Any:
    draw = hostile.draw
    accept = draw.choice(ACCEPTS)
    headers = {"Accept": accept} if accept else {}
    if draw.random() < 0.2:
        headers["Accept-Datetime"] = hostile.text() or "Thu, 31 Dec 99999 23:59:59 GMT"
    kind = draw.randrange(6)
    if kind == 0:
        return client.get(hostile.pid_path(), headers=headers)
    if kind == 1:
        return client.get("/oai", query_string=hostile.oai(), headers=headers)
    if kind == 2:
        return client.get(draw.choice(["/activity", "/activity/page/", "/sitemap.xml",
                                       "/api/v1/digital-specimens/"]) + hostile.text(),
                          headers=headers)
    pid = draw.choice(hostile.pids)
    path = f"/api/v1/{draw.choice(['digital-specimens', 'digital-media'])}/{pid}"
    write = {**auth, **headers, "If-Match": draw.choice(["*", '"x"'])}
    if kind == 3:
        body = json.dumps(hostile.document()).replace("Infinity", "1e999")
        return client.post(path.rsplit("/", 2)[0], data=body,
                           headers={**write, "Content-Type": "application/json"})
    if kind == 4:
        return client.patch(path, data=json.dumps(hostile.patch()).replace("Infinity", "1e999"),
                            headers={**write, "Content-Type": "application/json-patch+json"})
    return client.put(path, data=json.dumps(hostile.document()).replace("Infinity", "1e999"),
                      headers={**write, "Content-Type": "application/json"})


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what a client controls reaches PostgreSQL the same way."""
    return f"sqlite:///{tmp_path / 'index.sqlite3'}"


@pytest.mark.parametrize("seed", [12, 2026])
def test_thousands_of_hostile_requests_get_no_5xx(client, auth, service, seed):
    made = [service.create("digital-specimens", specimen(), AGENT) for _ in range(2)]
    made.append(service.create("digital-media", media(), AGENT))
    hostile = Hostile(seed, [record.pid for record in made])
    for number in range(REQUESTS):
        response = send(client, auth, hostile)
        assert response.status_code < 500, (seed, number, response.request.path,
                                             response.data[:300])
