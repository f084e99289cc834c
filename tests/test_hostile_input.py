"""Hostile input, sent by hypothesis to the real app under gunicorn on the real SeaweedFS:
odd PID paths, headers, JSON bodies and patches, OAI-PMH arguments and resumption tokens,
feed, sitemap and dump URLs. Whatever a client sends, no answer is a 5xx (but a 503 while
storage is down), no request hangs, every error has its documented shape, and what the
API accepted can be read back in every format.

Each test sends its examples on one keep-alive connection and collects every bad answer
before failing, so one run lists all of them (with the server's tracebacks), not just the
first. Runs are derandomized and keep no example database: CI sends the same requests
every time. Some 4,000 requests in all (about two minutes on two cores).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from repository import build_service
from repository.config import Config
from repository.tokens import create_token
from tests import hostile_strategies as hs
from tests import records
from tests.conftest import ROOT, servers
from tests.hostile import Answer, Client, Findings, Hang

pytestmark = pytest.mark.s3
# Hypothesis caches what it learns under .hypothesis/; not in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fdo-hypothesis")


def examples(count: int) -> settings:
    # No shrinking: a failure is reported with the whole list of bad answers instead.
    return settings(max_examples=count, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


JSON = "application/json"
READ_FORMATS = ["application/ld+json", "text/turtle", "text/html", "application/n-triples",
                "application/rdf+xml", JSON, "application/vnd.datacite.datacite+json",
                "application/x-bibtex", "text/x-bibliography", "application/ld+json;"
                'profile="http://www.w3.org/ns/json-ld#flattened"']


@dataclass
class Site:
    """A running server seeded with real objects, a client and what it found wrong."""

    client: Client
    findings: Findings
    token: str
    pids: dict[str, str] = field(default_factory=dict)
    storage_down: bool = False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, method: str, path: str, headers: dict[str, str] | None = None,
             body: bytes | None = None) -> Answer:
        try:
            answer = self.client.send(method, path, headers, body)
        except Hang as hang:
            # Listed with the rest; past a few, the server is stuck and the run stops.
            self.findings.hung(str(hang))
            return Answer(method, path, headers or {}, 0, "", b"", body)
        return self.findings.check(answer, self.storage_down)

    def write(self, method: str, path: str, document: Any, **headers: str) -> Answer:
        return self.send(method, path, {**self.auth, "Content-Type": JSON, **headers},
                         json.dumps(document).encode())

    def create(self, name: str, kind: str, document: dict[str, Any]) -> dict[str, Any]:
        answer = self.write("POST", f"/api/v1/{kind}", document)
        assert answer.status == 201, answer.body[:500]
        created: dict[str, Any] = json.loads(answer.body)
        self.pids[name] = pid_of(created)
        return created


def pid_of(content: dict[str, Any]) -> str:
    return "/".join(str(content["@id"]).rsplit("/", 2)[-2:])


def seed(site: Site) -> None:
    """Specimens (one updated), media linked to one, an annotation, a tombstone."""
    kept = site.create("specimen", "digital-specimens", records.specimen())
    path = f"/api/v1/digital-specimens/{site.pids['specimen']}"
    changed = {**kept, "ods:specimenName": "Bombus lapidarius"}
    assert site.write("PUT", path, changed, **{"If-Match": "*"}).status == 200
    site.create("other", "digital-specimens", records.specimen())
    site.create("media", "digital-media", linked_media(kept["@id"]))
    site.create("annotation", "annotations", records.annotation(kept["@id"]))
    site.create("tombstone", "digital-specimens", records.specimen())
    gone = f"/api/v1/digital-specimens/{site.pids['tombstone']}"
    assert site.write("DELETE", gone, {"reason": "duplicate"}).status == 200
    # Targets of the writing tests' PUT, PATCH and DELETE.
    site.create("digital-specimens", "digital-specimens", records.specimen())
    site.create("digital-media", "digital-media", linked_media(kept["@id"]))
    site.create("annotations", "annotations", records.annotation(kept["@id"], **{
        "oa:hasBody": {"@type": "oa:TextualBody", "oa:value": ["Another remark"]}}))


def linked_media(specimen_url: str) -> dict[str, Any]:
    return records.media(**{"ods:hasEntityRelationships": [{
        "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
        "dwc:relatedResourceID": specimen_url,
        "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]})


@dataclass
class Running:
    site: Site
    stop: Callable[[], None]


def start_site(s3: servers.S3Server, folder: Path, timeout: float = 20,
               s3_timeout: float | None = None) -> Running:
    """A gunicorn serving its own bucket and SQLite index, its base URL its own address;
    small feed and OAI pages, so paging and resumption tokens have something to do."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    servers.create_bucket(s3, bucket)
    port = servers.free_port()
    config = replace(Config(), base_url=f"http://127.0.0.1:{port}",
                     database_url=f"sqlite:///{folder / 'index.sqlite3'}",
                     s3_endpoint=s3.endpoint, s3_bucket=bucket, s3_access_key=s3.access_key,
                     s3_secret_key=s3.secret_key, s3_region=s3.region, max_body=64 * 1024,
                     feed_page_size=3, oai_page_size=2, ingest_spool=str(folder / "spool"),
                     ingest_max_mb=1)
    if s3_timeout is not None:
        config = replace(config, s3_connect_timeout=s3_timeout, s3_read_timeout=s3_timeout)
    fdo = build_service(config)
    token = create_token(fdo.index, "Ada Curator", "administrator", orcid="0000-0002-1825-0097")
    fdo.index.close()
    log = folder / "gunicorn.log"
    process = servers.start_process(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--log-level", "warning"],
        env={**os.environ, **config.to_environment()}, cwd=ROOT, log=log,
        ready_url=f"http://127.0.0.1:{port}/health")
    client = Client(config.base_url, timeout)
    site = Site(client, Findings(log), token)

    def stop() -> None:
        client.close()
        servers.stop_process(process)

    try:
        seed(site)
    except BaseException:
        stop()
        raise
    return Running(site, stop)


@pytest.fixture(scope="module")
def site(s3_server: servers.S3Server, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    """For the read-only tests: nothing they send changes what is stored."""
    running = start_site(s3_server, tmp_path_factory.mktemp("hostile-read"))
    yield running.site
    running.stop()


@pytest.fixture(scope="module")
def writable(s3_server: servers.S3Server, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Site]:
    """For the tests that write: what they store cannot disturb the read-only tests."""
    running = start_site(s3_server, tmp_path_factory.mktemp("hostile-write"))
    yield running.site
    running.stop()


@pytest.fixture
def findings(site: Site) -> Iterator[Findings]:
    site.findings.seen.clear()
    yield site.findings


# -- paths, headers, feed, OAI-PMH ------------------------------------------------------

def test_hostile_pid_paths_get_no_server_error(site: Site, findings: Findings) -> None:
    @example(f"/doi:{site.pids['specimen']}/²", "text/turtle")
    @example("/10.82621%0d%0a<a> <b> <c> .%0d%0a/ABC-DEF-GHJ", "text/turtle")
    @examples(700)
    @given(path=hs.hostile_path(list(site.pids.values())),
           accept=st.sampled_from(["", *READ_FORMATS]))
    def probe(path: str, accept: str) -> None:
        site.send("GET", path, {"Accept": accept} if accept else {})

    probe()
    findings.assert_none()


def valid_urls(site: Site) -> list[str]:
    specimen, media = site.pids["specimen"], site.pids["media"]
    return [f"/{specimen}", f"/{specimen}/1", f"/{specimen}/2/provenance",
            f"/{specimen}/timemap", f"/{specimen}/linkset", f"/{media}",
            f"/{site.pids['annotation']}", f"/{site.pids['tombstone']}",
            f"/api/v1/digital-specimens/{specimen}", f"/api/v1/digital-specimens/{specimen}"
            "/versions", f"/api/v1/digital-specimens/{specimen}/versions/1/provenance",
            f"/api/handles/{specimen}", "/activity", "/activity/page/0", "/activity/page/1",
            "/activity/2", "/sitemap.xml", "/sitemaps/0.xml", "/dumps/", "/health",
            "/oai?verb=Identify", "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc",
            f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=doi:{specimen}"]


def test_hostile_headers_get_no_server_error(site: Site, findings: Findings) -> None:
    @examples(600)
    @given(url=st.sampled_from(valid_urls(site)), headers=hs.hostile_headers(),
           method=st.sampled_from(["GET", "GET", "GET", "HEAD", "OPTIONS", "POST"]))
    def probe(url: str, headers: dict[str, str], method: str) -> None:
        site.send(method, url, headers)

    probe()
    findings.assert_none()


def test_hostile_feed_sitemap_and_dump_urls_get_no_server_error(site: Site,
                                                               findings: Findings) -> None:
    @examples(400)
    @given(path=hs.FEED_PATHS, accept=st.sampled_from(["", "text/turtle", "text/html",
                                                       "application/n-triples", JSON]))
    def probe(path: str, accept: str) -> None:
        site.send("GET", path, {"Accept": accept} if accept else {})

    probe()
    findings.assert_none()


def test_hostile_oai_pmh_requests_get_protocol_answers(site: Site, findings: Findings) -> None:
    first = site.send("GET", "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc")
    issued = first.body.split(b"<resumptionToken")[1].split(b">")[1].split(b"<")[0].decode()
    assert issued, first.body  # small pages: the seeded objects take more than one

    @examples(600)
    @given(pairs=hs.oai_request(list(site.pids.values())), post=st.booleans(),
           tampered=st.one_of(st.none(), st.integers(0, len(issued) - 1)))
    def probe(pairs: list[tuple[str, str]], post: bool, tampered: int | None) -> None:
        if tampered is not None:  # a real token with one character changed
            flipped = "A" if issued[tampered] != "A" else "B"
            pairs = [("verb", "ListIdentifiers"), ("resumptionToken",
                     issued[:tampered] + flipped + issued[tampered + 1:])]
        query = urlencode(pairs)
        if post or len(query) > 3000:  # gunicorn refuses a longer request line (414)
            site.send("POST", "/oai", {"Content-Type": "application/x-www-form-urlencoded"},
                      query.encode())
        else:
            site.send("GET", f"/oai?{query}")

    probe()
    findings.assert_none()


# -- writes -----------------------------------------------------------------------------

KIND = {"ods:DigitalSpecimen": "digital-specimens", "ods:DigitalMedia": "digital-media",
        "ods:Annotation": "annotations"}


def read_back(site: Site, written: Answer, accept: str) -> None:
    """What the API accepted can be read: the object in a format, in the API, and the
    specimen every seeded link points to (someone else's object)."""
    content = json.loads(written.body)
    site.send("GET", f"/{pid_of(content)}", {"Accept": accept})
    site.send("GET", f"/{pid_of(content)}", {"Accept": "text/turtle"})
    site.send("GET", f"/api/v1/{KIND[content['@type']]}/{pid_of(content)}")
    site.send("GET", f"/{site.pids['specimen']}", {"Accept": accept})


@pytest.fixture
def written(writable: Site) -> Iterator[Site]:
    writable.findings.seen.clear()
    yield writable


def test_records_with_one_hostile_field_are_refused_or_read_back(written: Site) -> None:
    site = written
    specimen_url = f"{site.client.base}/{site.pids['specimen']}"

    # The cases issue 12 lists, whatever the generator draws.
    @example("digital-specimens", "dcterms:license", "https://[ü", False, "text/turtle")
    @example("digital-media", "ac:accessURI", "http://ü:99999999", False, "text/html")
    @example("digital-specimens", "event:dwc:sampleSizeValue", hs.RAW + "1e999", False, JSON)
    @example("digital-specimens", "event:dwc:sampleSizeValue", hs.RAW + "1" * 401, True,
             "application/rdf+xml")
    @examples(400)
    @given(kind=st.sampled_from(hs.KINDS), name=st.sampled_from(hs.FIELDS),
           value=hs.ODD_VALUES, put=st.booleans(), accept=st.sampled_from(READ_FORMATS))
    def probe(kind: str, name: str, value: Any, put: bool, accept: str) -> None:
        body = hs.encode_json(hs.mutated_record(kind, specimen_url, name, value, specimen_url))
        if put:  # a full replacement of an object of the same kind
            answer = site.send("PUT", f"/api/v1/{kind}/{site.pids[kind]}",
                               {**site.auth, "Content-Type": JSON, "If-Match": "*"}, body)
        else:
            answer = site.send("POST", f"/api/v1/{kind}",
                               {**site.auth, "Content-Type": JSON}, body)
        if answer.status in (200, 201):
            read_back(site, answer, accept)

    probe()
    site.findings.assert_none()


def test_hostile_json_bodies_get_client_errors(written: Site) -> None:
    site = written

    @examples(400)
    @given(method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
           kind=st.sampled_from(hs.KINDS),
           content_type=st.sampled_from([JSON, "application/ld+json",
                                         "application/json-patch+json"]),
           body=st.one_of(hs.RAW_JSON.map(str.encode), hs.RAW_BYTES,
                          hs.JSON_VALUES.map(hs.encode_json)))
    def probe(method: str, kind: str, content_type: str, body: bytes) -> None:
        path = f"/api/v1/{kind}" + ("" if method == "POST" else f"/{site.pids[kind]}")
        headers = {**site.auth, "Content-Type": content_type, "If-Match": "*"}
        answer = site.send(method, path, headers, body)
        if answer.status in (200, 201) and method != "DELETE":
            read_back(site, answer, "text/turtle")

    probe()
    site.findings.assert_none()


@pytest.fixture
def patched(s3_server: servers.S3Server, tmp_path: Path) -> Iterator[Site]:
    """A site of its own: a patch that makes the server work for minutes must not take
    the other tests' server with it."""
    running = start_site(s3_server, tmp_path)
    yield running.site
    running.stop()


def test_hostile_json_patches_are_refused_or_read_back(patched: Site) -> None:
    site = patched
    path = f"/api/v1/digital-specimens/{site.pids['digital-specimens']}"
    headers = {**site.auth, "Content-Type": "application/json-patch+json", "If-Match": "*"}

    @examples(300)
    @given(patch=hs.JSON_PATCH, accept=st.sampled_from(READ_FORMATS))
    def probe(patch: Any, accept: str) -> None:
        answer = site.send("PATCH", path, headers, hs.encode_json(patch))
        if answer.status == 200:
            read_back(site, answer, accept)

    probe()
    # Beyond what the generator draws: each copy of the document into itself doubles it.
    for count, failing_test in ((12, True), (16, False), (20, False)):
        site.send("PATCH", path, headers, hs.encode_json(hs.doubling_patch(count, failing_test)))
    site.findings.assert_none()


def test_hostile_ingest_job_uploads_get_client_errors(written: Site) -> None:
    site = written

    @examples(100)
    @given(fields=st.dictionaries(st.sampled_from(["format", "sourceSystem", "organisation",
                                                   "license", "dryRun", "tombstoneMissing",
                                                   "x"]),
                                  st.one_of(st.sampled_from(["dwca", "abcd", "true", "",
                                                             "https://ror.org/0566bfb96"]),
                                            st.text(hs.TEXT, max_size=20)), max_size=5),
           archive=st.one_of(st.none(), st.binary(max_size=300)),
           boundary=st.sampled_from(["b0undary", "", "\"", "a" * 100]))
    def probe(fields: dict[str, str], archive: bytes | None, boundary: str) -> None:
        parts = [f'--b0undary\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n".encode() for name, value in fields.items()]
        if archive is not None:
            parts.append(b'--b0undary\r\nContent-Disposition: form-data; name="archive"; '
                         b'filename="a.zip"\r\nContent-Type: application/zip\r\n\r\n'
                         + archive + b"\r\n")
        body = b"".join(parts) + b"--b0undary--\r\n"
        site.send("POST", "/api/v1/ingest-jobs", {
            **site.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}, body)

    probe()
    site.findings.assert_none()


# -- storage down -----------------------------------------------------------------------

DOWN_TIMEOUT = 15  # generous: what is asserted is an answer instead of a hang


@pytest.fixture
def dedicated(tmp_path: Path) -> Iterator[tuple[servers.S3Server, Site]]:
    """A SeaweedFS of its own, so stopping it disturbs no other test, and a site on it."""
    s3 = servers.start_seaweedfs(tmp_path / "s3")
    try:
        # Short S3 timeouts (they are configuration): a frozen store costs each request
        # one timeout, and a few hundred requests at the 5 s default would take half an
        # hour. Failing fast rather than hanging is the same behaviour at any timeout.
        running = start_site(s3, tmp_path, timeout=DOWN_TIMEOUT, s3_timeout=0.5)
        try:
            yield s3, running.site
        finally:
            running.stop()
    finally:
        s3.stop()


def send_while_down(site: Site) -> None:
    """Valid and hostile requests of every kind; each gets a 4xx, a 503 or what it would
    get anyway (reads served from the resolver's cache, index-only pages), and no hang."""
    site.storage_down = True
    specimen = site.pids["specimen"]
    for accept in READ_FORMATS:
        for url in valid_urls(site):
            site.send("GET", url, {"Accept": accept})
    site.write("POST", "/api/v1/digital-specimens", records.specimen())
    site.write("PUT", f"/api/v1/digital-specimens/{specimen}", records.specimen(),
               **{"If-Match": "*"})
    site.send("PATCH", f"/api/v1/digital-specimens/{specimen}", {
        **site.auth, "Content-Type": "application/json-patch+json", "If-Match": "*"},
        b'[{"op": "add", "path": "/dwc:preparations", "value": "pinned"}]')
    site.write("DELETE", f"/api/v1/digital-media/{site.pids['media']}", {"reason": "test"})
    site.send("GET", "/oai?verb=ListRecords&metadataPrefix=ods_jsonld")

    @examples(100)
    @given(path=hs.hostile_path(list(site.pids.values())), headers=hs.hostile_headers())
    def probe(path: str, headers: dict[str, str]) -> None:
        site.send("GET", path, headers)

    probe()
    site.findings.assert_none()


def test_while_storage_is_stopped_requests_get_4xx_or_503(dedicated) -> None:
    s3, site = dedicated
    s3.stop()
    send_while_down(site)


def test_while_storage_is_frozen_requests_get_4xx_or_503_without_hanging(dedicated) -> None:
    s3, site = dedicated
    [weed] = s3.processes
    weed.send_signal(signal.SIGSTOP)
    try:
        send_while_down(site)
    finally:
        weed.send_signal(signal.SIGCONT)
