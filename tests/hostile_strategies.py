"""Hypothesis strategies for hostile requests (tests/test_hostile_input.py): paths, headers,
JSON bodies, JSON Patches, OAI-PMH arguments and resumption tokens. Each value stays small
to generate; what may grow large is what the server makes of it."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from hypothesis import strategies as st

from tests import records

TEXT = st.characters(codec="utf-8")  # every code point a client can encode
LATIN1 = st.characters(codec="latin-1", exclude_characters="\r\n")  # what a header carries
# Digits that str.isdigit() or \d take and int() may or may not.
ODD_DIGITS = st.sampled_from("²³¹⁰₂١٢٣۴߂०௫๓໒༣၅႗០᠑１𝟙𝟚")
HOSTILE_SEGMENTS = st.sampled_from([
    "%00", "%0d%0a", "%0D%0A%23%20injected%0D%0A<a>%20<b>%20<c>%20.", "..", ".", "%2e%2e",
    "%2F", "%25", "%", "%zz", "%ff%fe", "%C0%AF", "~", ";", ";v=1", "%3B", "+", "%20", "",
    "\u202e", "\ufeff", "\u0085", "\u2028", "ß", "İ", "ﬁ", "Ω", "😀", "a" * 300, "A" * 3000,
    "A" * 5000, "0", "00", "-1", "+1", "1.0", "1e3", "0x1", "99999999999999999999", "9" * 400,
])
SEGMENT = st.one_of(HOSTILE_SEGMENTS, st.text(TEXT, max_size=20),
                    st.text(ODD_DIGITS, min_size=1, max_size=3))
VERSION = st.one_of(st.integers(-2, 4).map(str), st.integers(5, 10**30).map(str),
                    st.text(ODD_DIGITS, min_size=1, max_size=3),
                    st.builds(lambda d, n: n + d, ODD_DIGITS, st.integers(1, 3).map(str)),
                    HOSTILE_SEGMENTS)
KINDS = ("digital-specimens", "digital-media", "annotations")
QUERY = st.sampled_from([
    "", "", "", "?format=ttl", "?format=nt", "?format=rdf", "?format=html", "?format=%00",
    "?format=jsonld&style=%0d%0a", "?format=citation&style=x", "?noredirect",
    "?locatt=view:json", "?locatt=%0d%0a", "?index=1&type=URL", "?index=99999999999",
    "?index=%C2%B2", "?type=", "?format=", "?format=json&format=ttl", "?pretty", "?%zz=%zz"])


@st.composite
def pid_like(draw: st.DrawFn, pids: list[str]) -> tuple[str, str]:
    """(prefix, suffix): a real PID, cut, extended, re-cased or spliced with junk."""
    prefix, suffix = draw(st.sampled_from(pids)).split("/", 1)
    how = draw(st.sampled_from(["as is", "lower", "cut", "extend", "junk prefix",
                                "junk suffix", "unicode"]))
    if how == "lower":
        suffix = suffix.lower()
    elif how == "cut":
        suffix = suffix[: draw(st.integers(0, len(suffix) - 1))]
    elif how == "extend":
        suffix += draw(SEGMENT)
    elif how == "junk prefix":
        prefix = draw(st.one_of(SEGMENT, st.builds(str.__add__, st.just(prefix), SEGMENT)))
    elif how == "junk suffix":
        suffix = draw(SEGMENT)
    elif how == "unicode":
        at = draw(st.integers(0, len(suffix)))
        suffix = suffix[:at] + draw(st.one_of(ODD_DIGITS, st.text(TEXT, min_size=1,
                                                                   max_size=2))) + suffix[at:]
    return prefix, suffix


PATH_TEMPLATES = [
    "/{p}/{s}", "/{p}/{s}/{v}", "/doi/{p}/{s}", "/hdl/{p}/{s}/{v}", "/doi:{p}/{s}/{v}",
    "/hdl:{p}/{s}", "/https%3A%2F%2Fdoi.org%2F{p}%2F{s}", "/https://hdl.handle.net/{p}/{s}/{v}",
    "/{p}/{s}/{v}/provenance", "/{p}/{s}/timemap", "/{p}/{s}/linkset",
    "/{p}/{s}/{v}/{v}", "/{p}/{s}/../{v}", "/{p}/../{s}",
    "/api/v1/{k}/{p}/{s}", "/api/v1/{k}/{p}/{s}/versions", "/api/v1/{k}/{p}/{s}/versions/{v}",
    "/api/v1/{k}/{p}/{s}/versions/{v}/provenance", "/api/v1/{v}/{p}/{s}",
    "/api/handles/{p}/{s}", "/api/handles/{p}", "/api/handles/{p}/{s}/{v}",
    "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=doi:{p}/{s}/{v}",
    "/oai?verb=GetRecord&metadataPrefix=ods_jsonld&identifier=hdl:{p}/{s}",
    "/oai?verb=ListMetadataFormats&identifier=doi:{p}/{s}",
    "/api/v1/ingest-jobs/{s}", "/api/v1/ingest-jobs/{s}/report", "/dumps/{s}/{v}",
]


@st.composite
def hostile_path(draw: st.DrawFn, pids: list[str]) -> str:
    prefix, suffix = draw(pid_like(pids))
    template = draw(st.sampled_from(PATH_TEMPLATES))
    path = template.format(p=prefix, s=suffix, v=draw(VERSION), k=draw(
        st.one_of(st.sampled_from(KINDS), SEGMENT)))
    return path + ("" if "?" in template else draw(QUERY))


# -- headers ----------------------------------------------------------------------------

MEDIA_TYPES = ["text/html", "application/ld+json", "application/json", "text/turtle",
               "application/rdf+xml", "application/n-triples", "text/x-bibliography",
               "application/x-bibtex", "application/vnd.datacite.datacite+json",
               "application/vnd.citationstyles.csl+json", "application/linkset",
               "application/linkset+json", "application/link-format", "*/*", "text/*",
               "application/*", "image/png"]
ODD_PARAMS = ["", ";q=0", ";q=0.5", ";q=1", ";q=", ";q=garbage", ";q=1e999", ";q=-1",
              ";q=nan", ";q=0.0000001", ";q=1.", ";q==", ';profile="', ";profile=",
              ';profile="http://www.w3.org/ns/json-ld#expanded"', ";style=harvard",
              ";style=%0d%0a", ";;", ";=", ";a=b;c", ";charset=utf-8;q=0.9"]
MEDIA_RANGE = st.builds(str.__add__, st.one_of(st.sampled_from(MEDIA_TYPES),
                                               st.text(LATIN1, max_size=12)),
                        st.sampled_from(ODD_PARAMS))
ACCEPT = st.one_of(
    st.sampled_from([";", "text/html, ;", ",", ", ,", "*/*;q=garbage", "text/", "/", "*",
                     "text/turtle;q=", ";q=1", "text/html;q=0, */*;q=0", "text/turtle,;",
                     "*/*;q=0", "\t", " ", "text/turtle\x00"]),
    st.lists(MEDIA_RANGE, min_size=1, max_size=6).map(", ".join),
    st.lists(MEDIA_RANGE, min_size=100, max_size=400).map(",".join),  # a huge list
    st.text(LATIN1, max_size=40),
)
ACCEPT_DATETIME = st.one_of(st.sampled_from([
    "Sun, 22 Nov 2026 10:00:00 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT", "Sun, 32 Nov 2026 10:00:00 GMT", "Thu, 01 Jan 1970",
    "2026-11-22T10:00:00Z", "Sun, 22 Nov 2026 25:61:61 GMT", "Sun, 22 Nov ²⁰²⁶ 10:00:00 GMT",
    "", "0", "-1", "Sun, 22 Nov 99999999999999999999 10:00:00 GMT"]), st.text(LATIN1, max_size=40))
ETAG = st.one_of(st.sampled_from(["*", '"x"', "W/\"x\"", '"', '""', "*, \"a\"", ",", "W/",
                                  '"a", "b"', "x" * 2000]), st.text(LATIN1, max_size=30))
AUTHORIZATION = st.one_of(st.sampled_from(["Bearer", "Bearer ", "Bearer  x", "Basic Zm9vOmJhcg==",
                                           "bearer \t", "Bearer " + "A" * 5000, "Bearer \x00",
                                           "Bearer ü", "Negotiate x"]),
                          st.text(LATIN1, max_size=40))
CONTENT_TYPE = st.one_of(st.sampled_from([
    "application/json", "application/ld+json", "application/json-patch+json",
    "application/json; charset=latin-1", "application/json;", ";", "", "text/plain",
    "application/json; charset=\x00", "multipart/form-data", "multipart/form-data; boundary=",
    "application/x-www-form-urlencoded"]), st.text(LATIN1, max_size=30))


@st.composite
def hostile_headers(draw: st.DrawFn) -> dict[str, str]:
    """A few of the headers the app reads, each with a hostile or odd value."""
    choices = {"Accept": ACCEPT, "Accept-Datetime": ACCEPT_DATETIME, "If-None-Match": ETAG,
               "If-Match": ETAG, "Authorization": AUTHORIZATION, "Content-Type": CONTENT_TYPE,
               "User-Agent": st.sampled_from(["Mozilla/5.0", "curl/8", "", "Mozilla/"])}
    names = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=4,
                          unique=True))
    return {name: draw(choices[name]) for name in names}


# -- bodies ------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.integers(min_value=10**300, max_value=10**420),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(TEXT))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(TEXT, max_size=12), inner, max_size=4)),
    max_leaves=25)
RAW_JSON = st.sampled_from([
    "1e999", "-1e999", "[1e999]", "NaN", "Infinity", "1" * 401, "-" + "9" * 5000, "0.0e-999",
    '{"a":' * 3000 + "1" + "}" * 3000, "[" * 1500 + "]" * 1500, "[" * 100000, "", " ", "{",
    '{"a":1,"a":2}', '"\\ud800"', '{"\\u0000":1}', "\ufeff{}", "nul\x00", "{}" * 1000])
RAW_BYTES = st.one_of(st.binary(max_size=64), st.sampled_from(
    [b"\xff\xfe{\x00}\x00", b"\xc0\xaf", b'{"a":"\xed\xa0\x80"}']))
EVENT = "event:"  # a field of the specimen's collecting event (where numbers live)
FIELDS = ["dwc:x", f"{EVENT}dwc:sampleSizeValue", f"{EVENT}dwc:year", f"{EVENT}dwc:locality",
          "dcterms:license", "ods:organisationID",
          "ac:accessURI", "dcterms:rightsHolder", "ods:sourceSystemID", "dwc:relatedResourceID",
          "ods:relatedResourceURI", "@id", "@type", "ods:physicalSpecimenID",
          "ods:physicalSpecimenIDType", "dwc:basisOfRecord", "ods:specimenName",
          "dcterms:modified", "ods:topicDiscipline", "dcterms:format", "dcterms:type",
          "oa:motivation", "dcterms:issued"]
RAW = "\x00raw:"  # a string `encode_json` writes as the raw JSON text after the marker
RAW_NUMBERS = st.sampled_from(["1e999", "-1e999", "1E400", "1" * 401, "-" + "9" * 500,
                               "1e-999", "0.0000000000000000000000001e-400"]).map(RAW.__add__)


BAD_URIS = st.sampled_from([
    "https://[ü", "http://ü:abc", "http://ü:99999999", "http://[::1ü]/", "http://[", "http://",
    "http://[::1]:99999/", "https://%zz/", "https://example.org:-1/", "http://ü:", "https://[::1"])
ODD_VALUES = st.one_of(BAD_URIS, st.sampled_from([
    "https://example.org/a b", "https://example.org/\u0000", "javascript:alert(1)", "urn:",
    ":", "//", "https://example.org/%0d%0aX-Injected: 1", "https://exa mple.org/", "", " ",
    "²", "\u2028", "\U0001f600" * 100, "x" * 70000, 10**400, -(10**400), 1.7976931348623157e308,
    0, -1, True, None, [], {}, [[[]]], {"@id": "https://[ü"}]), RAW_NUMBERS,
    RAW_NUMBERS.map(lambda number: [{"dwc:x": number}]), JSON_VALUES)


def mutated_record(kind: str, target: str, field: str, value: Any, relate_to: str) -> Any:
    """A valid record of `kind` with one field set to `value` (also inside its entity
    relationship, where links to other objects live)."""
    if kind == "digital-media":
        record = records.media(**{"ods:hasEntityRelationships": [{
            "@type": "ods:EntityRelationship", "dwc:relationshipOfResource": "hasDigitalSpecimen",
            "dwc:relatedResourceID": relate_to,
            "dwc:relationshipEstablishedDate": "2026-11-22T10:00:00.000Z"}]})
    elif kind == "annotations":
        record = records.annotation(target)
    else:
        record = records.specimen()
    if field in ("dwc:relatedResourceID", "ods:relatedResourceURI") and kind == "digital-media":
        record["ods:hasEntityRelationships"][0][field] = value
    elif field.startswith(EVENT):
        record["ods:hasEvents"] = [{"@type": "ods:Event", field.removeprefix(EVENT): value}]
    else:
        record[field] = value
    return record


def encode_json(value: Any) -> bytes:
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    text = re.sub(r'"\\u0000raw:([^"]*)"', r"\1", text)
    return text.encode("utf-8", "surrogatepass")


PATCH_PATHS = st.one_of(st.sampled_from([
    "", "/", "/-", "/dwc:x", "/dwc:x/0", "/ods:specimenName", "/ods:hasEntityRelationships/0",
    "/ods:hasEntityRelationships/-", "/~2", "/~", "/a~1b", "/@id", "/ods:version", "/0",
    "/dcterms:license", "/ods:physicalSpecimenID", "/" + "a/" * 200]), st.text(TEXT, max_size=10))
PATCH_OP = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x", ""]),
     "path": PATCH_PATHS},
    optional={"from": PATCH_PATHS, "value": ODD_VALUES})


def doubling_patch(count: int, failing_test: bool = False) -> list[dict[str, Any]]:
    """`count` copies of the whole document into itself: each doubles its size. A failing
    `test` op at the end makes the error message quote the grown document."""
    ops: list[dict[str, Any]] = [{"op": "copy", "from": "", "path": f"/dwc:copy{i}"}
                                 for i in range(count)]
    return ops + [{"op": "test", "path": "", "value": 0}] if failing_test else ops


# Up to 2**12 copies: cheap to apply; the test sends longer ones once each.
JSON_PATCH = st.one_of(st.lists(PATCH_OP, max_size=6),
                       st.builds(doubling_patch, st.integers(1, 12), st.booleans()), JSON_VALUES)


# -- OAI-PMH ----------------------------------------------------------------------------

def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TOKEN_FIELD = st.one_of(st.none(), st.integers(-2, 2**63), st.integers(10**300, 10**401),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(TEXT, max_size=8),
                        st.sampled_from(["ListIdentifiers", "ListRecords", "oai_dc", 1, True]),
                        st.lists(st.integers(), max_size=2))
RESUMPTION_TOKEN = st.one_of(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="),
            max_size=60),
    # Nesting past the parser's recursion limit, and below it.
    st.sampled_from([1, 10, 500, 999, 1500, 3000, 20000]).map(lambda n: b64(b"[" * n)),
    st.sampled_from([1, 900, 1500, 5000]).map(lambda n: b64(b'{"a":' * n)),
    st.lists(TOKEN_FIELD, min_size=7, max_size=9).map(lambda f: b64(encode_json([1, *f]))),
    st.builds(lambda verb, pos: b64(json.dumps(
        [1, verb, "oai_dc", None, None, None, pos, 0]).encode()),
        st.sampled_from(["ListIdentifiers", "ListRecords", "ListSets"]),
        st.sampled_from(["1e999", "NaN", "9" * 401, "-1", "1.5", "2e18"]).map(
            lambda text: json.loads(text))),
    st.builds(lambda text: b64(text.encode("utf-8", "surrogatepass")), st.text(TEXT, max_size=40)),
    st.text(TEXT, max_size=20),
)
OAI_ARGUMENTS = {
    "identifier": None,  # drawn from the seeded PIDs by oai_request
    "metadataPrefix": st.one_of(st.sampled_from(["oai_dc", "oai_datacite", "ods_jsonld"]),
                                st.text(TEXT, max_size=10)),
    "from": st.one_of(st.sampled_from(["2026-01-01", "2026-02-30", "0000-01-01", "9999-12-31",
                                       "2026-11-22T10:00:00Z", "2026-11-22T25:00:00Z",
                                       "²⁰²⁶-01-01", "2026-1-1", ""]), st.text(TEXT, max_size=22)),
    "until": st.sampled_from(["2026-12-31", "2999-01-01T00:00:00Z", "1970-01-01", "x"]),
    "set": st.one_of(st.sampled_from(["kind", "institution", "kind:digital-specimens",
                                      "kind:annotations", "institution:ror-0566bfb96",
                                      "institution:wikidata-Q1", "institution:ror-",
                                      "institution:", ":", "kind:²"]), st.text(TEXT, max_size=12)),
    "resumptionToken": RESUMPTION_TOKEN,
}
OAI_VERBS = st.one_of(st.sampled_from(["Identify", "ListMetadataFormats", "ListSets",
                                       "GetRecord", "ListIdentifiers", "ListRecords"]),
                      st.text(TEXT, max_size=12))


@st.composite
def oai_identifier(draw: st.DrawFn, pids: list[str]) -> str:
    prefix, suffix = draw(pid_like(pids))
    scheme = draw(st.sampled_from(["doi:", "hdl:", "", "info:doi/", "https://doi.org/"]))
    version = draw(st.one_of(st.just(""), VERSION.map("/".__add__)))
    return f"{scheme}{prefix}/{suffix}{version}"


@st.composite
def oai_request(draw: st.DrawFn, pids: list[str]) -> list[tuple[str, str]]:
    """OAI-PMH arguments as (name, value) pairs: a verb, some arguments, sometimes one
    repeated or unknown; often a list verb with a resumption token alone, as harvesters
    send them."""
    if draw(st.booleans()):
        return [("verb", draw(st.sampled_from(["ListIdentifiers", "ListRecords", "ListSets"]))),
                ("resumptionToken", draw(RESUMPTION_TOKEN))]
    pairs = [("verb", draw(OAI_VERBS))] if draw(st.booleans()) or draw(st.booleans()) else []
    for name in draw(st.lists(st.sampled_from(sorted(OAI_ARGUMENTS)), max_size=4)):
        strategy = OAI_ARGUMENTS[name]
        pairs.append((name, draw(oai_identifier(pids) if strategy is None else strategy)))
    if draw(st.integers(0, 9)) == 0:
        pairs.append((draw(st.text(TEXT, max_size=8)), draw(st.text(TEXT, max_size=8))))
    return pairs


FEED_PATHS = st.builds(
    lambda template, number, query: template.format(n=number) + query,
    st.sampled_from(["/activity", "/activity/page/{n}", "/activity/{n}", "/sitemaps/{n}.xml",
                     "/sitemap.xml", "/robots.txt", "/dumps/", "/dumps/{n}/manifest.json",
                     "/dumps/20261122T100000000000Z-{n}/part-00000.ndjson.gz",
                     "/activity/page/{n}/{n}", "/activity/page/", "/sitemaps/{n}",
                     "/health", "/api/handles/", "/oai/ods_jsonld.xsd"]),
    st.one_of(st.integers(-2, 40).map(str), st.integers(10**9, 10**40).map(str), VERSION),
    st.sampled_from(["", "", "?format=ttl", "?format=nt", "?format=json", "?format=html",
                     "?format=%0d%0a", "?page=-1", "?page=%C2%B2", "?format=jsonld&format=ttl"]))
