"""OAI-PMH 2.0 through the whole app, over real S3 and a real index (SQLite and
PostgreSQL): every response validated with lxml against the OAI-PMH 2.0 XSD, and every
record's metadata against its own format's schema (tests/xsd/README.md); a harvest with
a real OAI-PMH client (sickle) over a real gunicorn."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch
from sqlalchemy import text

from repository.access import trusted
from repository.keys import secret_key
from repository.provenance import Agent
from resolver.oai import item_filter
from resolver.renderers.oai_formats import DATACITE, DC, OAI_DC, ODS_JSONLD
from storage.harvest import items_query
from storage.index import Index
from tests.records import annotation, media, specimen

pytestmark = pytest.mark.s3
BASE = "http://fdo.test"
PAGE = 3
AGENT = trusted(Agent(id="https://orcid.org/0000-0002-1825-0097", name="Ada Curator",
                      role="curator"))
OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {"o": OAI, "oai_dc": OAI_DC, "dc": DC, "d": DATACITE, "ods": ODS_JSONLD}
XSD = Path(__file__).parent / "xsd"
NATURALIS = "https://ror.org/0566bfb96"


@cache
def schema(name: str) -> etree.XMLSchema:
    if name == "ods_jsonld":
        return etree.XMLSchema(etree.XML((files("schemas") / "oai-ods-jsonld.xsd").read_bytes()))
    return etree.XMLSchema(etree.parse(str(XSD / name)))


METADATA_SCHEMAS = {OAI_DC: "oai_dc.xsd", DATACITE: "datacite-kernel-4.6/metadata.xsd",
                    ODS_JSONLD: "ods_jsonld"}


@pytest.fixture
def config(config):
    return replace(config, oai_page_size=PAGE)


def valid(document: bytes) -> etree._Element:
    """The response parsed, once it validates: the envelope against the OAI-PMH XSD, each
    record's metadata against its format's schema."""
    root = etree.fromstring(document)
    envelope = schema("OAI-PMH.xsd")
    assert envelope.validate(root), envelope.error_log
    for metadata in root.iterfind(".//o:metadata", NS):
        (element,) = metadata
        checker = schema(METADATA_SCHEMAS[etree.QName(element).namespace])
        assert checker.validate(element), checker.error_log
    return root


def oai(client, **arguments: str) -> etree._Element:
    response = client.get("/oai", query_string=arguments)
    assert response.status_code == 200
    assert response.content_type == "text/xml; charset=utf-8"
    return valid(response.data)


def error_code(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def identifier(pid: str) -> str:
    return ("doi:" if pid.startswith("10.") else "hdl:") + pid


def harvest(client, verb: str = "ListIdentifiers", **arguments: str) -> list[etree._Element]:
    """Every header (or record) of a list, following resumption tokens to the end."""
    root = oai(client, verb=verb, **arguments)
    found, cursors = [], []
    while True:
        assert error_code(root) is None, etree.tostring(root)
        listing = root.find(f"o:{verb}", NS)
        found += listing.findall("o:header" if verb == "ListIdentifiers" else "o:record", NS)
        token = listing.find("o:resumptionToken", NS)
        if token is None or not token.text:
            break
        cursors.append(int(token.get("cursor")))
        root = oai(client, verb=verb, resumptionToken=token.text)
    assert cursors == [PAGE * n for n in range(len(cursors))]
    return found


def header_of(found: etree._Element) -> etree._Element:
    return found if etree.QName(found).localname == "header" else found.find("o:header", NS)


def identifiers(found: list[etree._Element]) -> list[str]:
    return [header_of(item).findtext("o:identifier", namespaces=NS) for item in found]


def populate(service) -> dict[str, Any]:
    """Two specimens (one updated, one tombstoned), a media object of another institution,
    an annotation."""
    kept = service.create("digital-specimens", specimen(), AGENT)
    gone = service.create("digital-specimens", specimen(), AGENT)
    image = service.create("digital-media", media(**{
        "ods:organisationID": "https://ror.org/040ck2b86",
        "ods:organisationName": "Royal Botanic Garden Edinburgh"}), AGENT)
    note = service.create("annotations", annotation(f"{service.base_url}/{kept.pid}"), AGENT)
    prefix, suffix = kept.pid.split("/")
    kept, _ = service.replace("digital-specimens", prefix, suffix,
                              {**kept.content, "ods:specimenName": "Bombus lucorum"},
                              kept.digest, AGENT)
    prefix, suffix = gone.pid.split("/")
    service.tombstone("digital-specimens", prefix, suffix, "duplicate", None, None, AGENT)
    return {"kept": kept, "gone": gone, "image": image, "note": note}


# -- Identify, ListMetadataFormats, ListSets -------------------------------------------

def test_identify_says_deletions_persist_at_second_granularity(client, service):
    populate(service)
    root = oai(client, verb="Identify")
    found = root.find("o:Identify", NS)
    assert found.findtext("o:baseURL", namespaces=NS) == f"{BASE}/oai"
    assert found.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert found.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert found.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    earliest = found.findtext("o:earliestDatestamp", namespaces=NS)
    stamps = [header.findtext("o:datestamp", namespaces=NS) for header in harvest(client,
              metadataPrefix="oai_dc")]
    assert earliest <= min(stamps)
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}


def test_list_metadata_formats_offers_datacite_for_doi_kinds_only(client, service):
    made = populate(service)

    def prefixes(**arguments: str) -> list[str]:
        root = oai(client, verb="ListMetadataFormats", **arguments)
        return root.xpath("//o:metadataPrefix/text()", namespaces=NS)

    assert prefixes() == ["oai_dc", "oai_datacite", "ods_jsonld"]
    assert prefixes(identifier=identifier(made["image"].pid)) == [
        "oai_dc", "oai_datacite", "ods_jsonld"]
    assert prefixes(identifier=identifier(made["note"].pid)) == ["oai_dc", "ods_jsonld"]
    schema_url = oai(client, verb="ListMetadataFormats").xpath(
        "//o:metadataFormat[o:metadataPrefix='ods_jsonld']/o:schema/text()", namespaces=NS)[0]
    served = client.get(schema_url.removeprefix(BASE))
    assert served.status_code == 200
    assert etree.XMLSchema(etree.XML(served.data)) is not None


def test_list_sets_names_kinds_and_institutions(client, service):
    populate(service)
    root = oai(client, verb="ListSets")
    sets = dict(zip(root.xpath("//o:setSpec/text()", namespaces=NS),
                    root.xpath("//o:setName/text()", namespaces=NS), strict=True))
    assert {"kind", "institution", "kind:digital-specimens", "kind:digital-media",
            "kind:annotations"} <= set(sets)
    assert sets["institution:ror-040ck2b86"] == "Royal Botanic Garden Edinburgh"
    assert "institution:ror-0566bfb96" in sets


# -- GetRecord ---------------------------------------------------------------------------

def test_get_record_in_every_format(client, service):
    made = populate(service)
    pid = made["kept"].pid
    record = oai(client, verb="GetRecord", identifier=identifier(pid),
                 metadataPrefix="oai_dc").find("o:GetRecord/o:record", NS)
    assert record.findtext("o:header/o:identifier", namespaces=NS) == f"doi:{pid}"
    assert record.xpath("o:header/o:setSpec/text()", namespaces=NS) == [
        "kind:digital-specimens", "institution:ror-0566bfb96"]
    dc = record.find("o:metadata/oai_dc:dc", NS)
    assert f"{BASE}/{pid}" in dc.xpath("dc:identifier/text()", namespaces=NS)
    assert "Bombus lucorum" in dc.findtext("dc:title", namespaces=NS)

    datacite = oai(client, verb="GetRecord", identifier=identifier(pid),
                   metadataPrefix="oai_datacite").find(".//d:resource", NS)
    assert datacite.findtext("d:identifier", namespaces=NS) == pid
    assert datacite.find("d:identifier", NS).get("identifierType") == "DOI"
    assert datacite.findtext("d:version", namespaces=NS) == "2"

    text = oai(client, verb="GetRecord", identifier=identifier(pid),
               metadataPrefix="ods_jsonld").findtext(".//ods:jsonld", namespaces=NS)
    served = client.get(f"/{pid}", headers={"Accept": "application/ld+json"})
    assert json.loads(text) == served.json


def test_a_tombstoned_object_is_a_deleted_record_without_metadata(client, service):
    made = populate(service)
    for prefix in ("oai_dc", "oai_datacite", "ods_jsonld"):
        record = oai(client, verb="GetRecord", identifier=identifier(made["gone"].pid),
                     metadataPrefix=prefix).find("o:GetRecord/o:record", NS)
        assert record.find("o:header", NS).get("status") == "deleted"
        assert record.find("o:metadata", NS) is None


def test_get_record_refuses_what_it_cannot_give(client, service):
    made = populate(service)
    cases = [
        ({"identifier": identifier(made["note"].pid), "metadataPrefix": "oai_datacite"},
         "cannotDisseminateFormat"),
        ({"identifier": identifier(made["kept"].pid), "metadataPrefix": "marc21"},
         "cannotDisseminateFormat"),
        ({"identifier": "doi:10.82621/AAA-BBB-CCC", "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),
        ({"identifier": f"hdl:{made['kept'].pid}", "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),  # a DOI is not a Handle
        ({"identifier": f"doi:{made['kept'].pid}/1", "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),  # records are objects, not versions
        ({"identifier": "not a pid at all", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ]
    for arguments, code in cases:
        assert error_code(oai(client, verb="GetRecord", **arguments)) == code, arguments


# -- lists -----------------------------------------------------------------------------

def test_a_harvest_across_pages_gets_every_record_once_deletions_included(client, service):
    made = populate(service)
    more = [service.create("digital-specimens", specimen(), AGENT) for _ in range(4)]
    records = harvest(client, "ListRecords", metadataPrefix="oai_dc")
    expected = [made["image"].pid, made["note"].pid, made["kept"].pid, made["gone"].pid,
                *(record.pid for record in more)]  # in order of each one's latest change
    assert identifiers(records) == [identifier(pid) for pid in expected]
    deleted = [header_of(record).get("status") for record in records]
    assert deleted == [None, None, None, "deleted", None, None, None, None]
    assert identifiers(harvest(client, metadataPrefix="oai_dc")) == identifiers(records)


def test_resumption_tokens_survive_a_restart_and_never_expire(config, make_app, service):
    for _ in range(7):
        service.create("digital-specimens", specimen(), AGENT)
    first = make_app(config).test_client()
    token = oai(first, verb="ListIdentifiers", metadataPrefix="oai_dc").findtext(
        ".//o:resumptionToken", namespaces=NS)
    restarted = make_app(config).test_client()  # a new process would hold no state either
    later = oai(restarted, verb="ListIdentifiers", resumptionToken=token)
    assert len(later.findall(".//o:header", NS)) == PAGE
    assert later.find(".//o:resumptionToken", NS).get("cursor") == str(PAGE)
    assert later.find(".//o:resumptionToken", NS).get("expirationDate") is None


def test_an_object_updated_during_a_harvest_comes_again_at_the_end(client, service):
    made = [service.create("digital-specimens", specimen(), AGENT) for _ in range(5)]
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    seen = identifiers(root.findall(".//o:header", NS))
    token = root.findtext(".//o:resumptionToken", namespaces=NS)
    prefix, suffix = made[0].pid.split("/")
    service.replace("digital-specimens", prefix, suffix,
                    {**made[0].content, "ods:specimenName": "Bombus sp."}, made[0].digest, AGENT)
    rest = oai(client, verb="ListIdentifiers", resumptionToken=token)
    seen += identifiers(rest.findall(".//o:header", NS))
    assert seen == [identifier(record.pid) for record in made] + [identifier(made[0].pid)]
    assert rest.findtext(".//o:resumptionToken", namespaces=NS) in (None, "")


def test_sets_select_kinds_and_institutions(client, service):
    made = populate(service)

    def listed(**arguments: str) -> list[str]:
        return identifiers(harvest(client, metadataPrefix="oai_dc", **arguments))

    assert listed(set="kind:annotations") == [identifier(made["note"].pid)]
    assert listed(set="kind:digital-media") == [identifier(made["image"].pid)]
    assert listed(set="institution:ror-040ck2b86") == [identifier(made["image"].pid)]
    assert listed(set="institution:ror-0566bfb96") == [
        identifier(made["kept"].pid), identifier(made["gone"].pid)]  # the tombstone too
    assert len(listed(set="institution")) == 3 and len(listed(set="kind")) == 4
    datacite = identifiers(harvest(client, metadataPrefix="oai_datacite"))
    assert identifier(made["note"].pid) not in datacite and len(datacite) == 3
    assert error_code(oai(client, verb="ListRecords", metadataPrefix="oai_datacite",
                          set="kind:annotations")) == "noRecordsMatch"


def test_from_and_until_select_by_the_latest_version_at_second_granularity(client, service):
    first = service.create("digital-specimens", specimen(), AGENT)
    time.sleep(1.1)
    second = service.create("digital-specimens", specimen(), AGENT)

    def stamp(pid: str) -> str:
        header = oai(client, verb="GetRecord", identifier=identifier(pid),
                     metadataPrefix="oai_dc").find(".//o:header", NS)
        return header.findtext("o:datestamp", namespaces=NS)

    def listed(**arguments: str) -> list[str]:
        root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **arguments)
        return [] if error_code(root) == "noRecordsMatch" else identifiers(
            root.findall(".//o:header", NS))

    one, two = stamp(first.pid), stamp(second.pid)
    assert one < two
    assert listed(**{"from": two}) == [identifier(second.pid)]
    assert listed(until=one) == [identifier(first.pid)]
    assert listed(**{"from": one, "until": one}) == [identifier(first.pid)]
    time.sleep(1.1)
    prefix, suffix = first.pid.split("/")
    service.replace("digital-specimens", prefix, suffix,
                    {**first.content, "ods:specimenName": "Bombus sp."}, first.digest, AGENT)
    three = stamp(first.pid)
    assert three > two
    # The record is the latest version: it has left `until=one` and joined `from=three`.
    assert listed(until=one) == []
    assert listed(**{"from": three}) == [identifier(first.pid)]
    today = datetime.now(UTC).date()
    assert len(listed(**{"from": today.isoformat()})) == 2
    assert listed(until=(today - timedelta(days=1)).isoformat()) == []


def test_post_is_answered_as_get(client, service):
    populate(service)
    response = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert response.status_code == 200
    root = valid(response.data)
    assert len(root.findall(".//o:header", NS)) == PAGE


# -- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize(("arguments", "code"), [
    ({}, "badVerb"),
    ({"verb": "ListEverything"}, "badVerb"),
    ({"verb": "ListRecords"}, "badArgument"),  # no metadataPrefix
    ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-02-30"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01",
      "until": "2026-12-31T00:00:00Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "colour:blue"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "institution:ror-A!"},
     "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2999-01-01"},
     "noRecordsMatch"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "institution:ror-000000000"},
     "noRecordsMatch"),
    ({"verb": "ListRecords", "resumptionToken": "bm90IGEgdG9rZW4"}, "badResumptionToken"),
    ({"verb": "ListRecords", "resumptionToken": "%%%"}, "badResumptionToken"),
    ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
    ({"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"},
     "badArgument"),
])
def test_protocol_errors(client, service, arguments, code):
    service.create("digital-specimens", specimen(), AGENT)
    root = oai(client, **arguments)
    assert error_code(root) == code
    assert root.findtext("o:error", namespaces=NS)  # says what is wrong
    request = root.find("o:request", NS)
    assert request.text == f"{BASE}/oai"
    if code in ("badVerb", "badArgument"):
        assert request.attrib == {}


def test_arguments_xml_cannot_carry_are_echoed_without_them(client, service):
    service.create("digital-specimens", specimen(), AGENT)
    for arguments in ({"verb": "ListRecords", "metadataPrefix": "oai\x01dc"},
                      {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "\x02\ufffe"},
                      {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "\x1b"}):
        root = oai(client, **arguments)  # well-formed and valid
        assert error_code(root) in ("cannotDisseminateFormat", "badArgument", "idDoesNotExist")


def test_a_repeated_argument_is_a_bad_argument(client):
    root = valid(client.get("/oai?verb=Identify&verb=Identify").data)
    assert error_code(root) == "badArgument"


def test_a_token_is_for_its_own_list_and_cannot_be_tampered_with(client, service):
    for _ in range(5):
        service.create("digital-specimens", specimen(), AGENT)
    token = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc").findtext(
        ".//o:resumptionToken", namespaces=NS)
    assert error_code(oai(client, verb="ListRecords", resumptionToken=token)) == (
        "badResumptionToken")
    payload, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for field, value in ((2, "marc21"), (3, "kind:nothing"), (4, "never"), (6, -1),
                         (6, 0), (6, 2**70), (7, "3")):
        changed = list(fields)
        changed[field] = value
        forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).decode()
        for attempt in (forged, f"{forged.rstrip('=')}.{signature}"):
            assert error_code(oai(client, verb="ListIdentifiers", resumptionToken=attempt)) \
                == "badResumptionToken", (field, value)


def deep_token(signature: str = "") -> str:
    deep = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")
    return f"{deep}.{signature}" if signature else deep


@pytest.mark.parametrize("token", [deep_token(), deep_token("AAAAAAAAAAAAAAAAAAAAAA"), ".",
                                   "..", "\u00e9.\u00e9", "x" * 5000])
def test_odd_tokens_are_bad_resumption_tokens(client, token):
    root = valid(client.get("/oai", query_string={"verb": "ListRecords",
                                                  "resumptionToken": token}).data)
    assert error_code(root) == "badResumptionToken"


def test_a_token_is_taken_by_every_app_with_its_key_and_no_other(config, make_app, service):
    for _ in range(5):
        service.create("digital-specimens", specimen(), AGENT)
    token = oai(make_app(config).test_client(), verb="ListIdentifiers",
                metadataPrefix="oai_dc").findtext(".//o:resumptionToken", namespaces=NS)
    same_key = make_app(replace(config)).test_client()
    assert error_code(oai(same_key, verb="ListIdentifiers", resumptionToken=token)) is None
    other_key = make_app(replace(config, secret_key="another key")).test_client()
    assert error_code(oai(other_key, verb="ListIdentifiers", resumptionToken=token)) == (
        "badResumptionToken")


def test_without_a_configured_key_one_is_made_once_and_kept(tmp_path):
    path = tmp_path / "var" / "secret-key"
    first = secret_key("", path)
    assert len(first) == 64 and secret_key("", path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert secret_key("configured", path) == b"configured"


def test_deep_and_forged_tokens_through_gunicorn(gunicorn, service):
    for _ in range(5):
        service.create("digital-specimens", specimen(), AGENT)
    listed = requests.get(f"{gunicorn}/oai", params={
        "verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}, timeout=30)
    token = etree.fromstring(listed.content).findtext(".//o:resumptionToken", namespaces=NS)
    for attempt in (deep_token(), deep_token(token.split(".")[1]), token + "x"):
        response = requests.get(f"{gunicorn}/oai", params={
            "verb": "ListIdentifiers", "resumptionToken": attempt}, timeout=30)
        assert response.status_code == 200 and 'code="badResumptionToken"' in response.text
    for _ in range(2):  # either worker process takes it: both read the same key
        response = requests.get(f"{gunicorn}/oai", params={
            "verb": "ListIdentifiers", "resumptionToken": token}, timeout=30)
        assert "<error" not in response.text and response.text.count("<header") == PAGE - 1


# -- keyset paging ---------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["oai_dc", "oai_datacite"])
@pytest.mark.parametrize("set_spec", [None, "kind", "kind:digital-media", "kind:annotations",
                                      "institution", "institution:ror-0566bfb96"])
def test_every_list_page_is_one_walk_along_an_index(tmp_path, prefix, set_spec):
    """What makes page 1,000 cost what page 1 does: SQLite reads each page from an index
    in feed order, from the token's position on, and never sorts or skips rows."""
    index = Index(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    index.create_schema()
    query = items_query(10_000, 20_000, PAGE + 1, item_filter(set_spec, prefix))
    sql = str(query.compile(index.engine, compile_kwargs={"literal_binds": True}))
    with index.engine.connect() as connection:
        plan = [row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    index.close()
    assert not any("TEMP B-TREE" in step or step.startswith("SCAN") for step in plan), plan
    assert "sequence>? AND sequence<?" in plan[0], plan


# -- a real harvester ------------------------------------------------------------------

def test_sickle_harvests_every_record_once_across_pages(live):
    made = populate(live)
    more = [live.create("digital-specimens", specimen(), AGENT) for _ in range(5)]
    sickle = Sickle(f"{live.base_url}/oai", max_retries=0)
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    assert len(records) == 9  # three pages of PAGE records: two resumption tokens
    assert [record.header.identifier for record in records] == [
        identifier(pid) for pid in (made["image"].pid, made["note"].pid, made["kept"].pid,
                                    made["gone"].pid, *(record.pid for record in more))]
    assert [record.header.deleted for record in records].count(True) == 1
    kept = next(record for record in records
                if record.header.identifier == identifier(made["kept"].pid))
    assert "Bombus lucorum" in kept.metadata["title"][0]
    headers = list(sickle.ListIdentifiers(metadataPrefix="oai_datacite",
                                          set="kind:digital-specimens", ignore_deleted=True))
    assert len(headers) == 1 + 5  # the tombstone left out by the client, as asked
    with pytest.raises(NoRecordsMatch):
        list(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": "2999-01-01"}))
