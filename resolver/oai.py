"""OAI-PMH 2.0 at /oai: all six verbs, for harvesters that speak the protocol (GBIF-,
Europeana- and DataCite-style aggregators).

- Items are objects; a record is an object's current version. Its identifier is
  `doi:<DOI>` or `hdl:<Handle>` (whatever the base URL), its datestamp the time the index
  recorded that version. Tombstoned objects stay as deleted records
  (`deletedRecord` is `persistent`), in their sets, so harvesters learn of deletions.
- Lists are in change-feed order of each object's current version, paged by keyset on
  that position: a resumption token holds the request and the last position sent, signed
  with HMAC-SHA256 under the secret key (FDO_SECRET_KEY). Tokens are stateless, never
  expire, survive restarts and work on every app with the same key; page 1,000 costs what
  page 1 does.
  An object updated during a harvest moves to the end of the list, where the harvester
  meets it again with its new datestamp: nothing is skipped.
- `from`/`until` (day or second granularity) become a range of feed positions, since
  recorded times never decrease along the feed (storage/harvest.py).
- Sets: `kind:<kind>` and `institution:<ror-ID | wikidata-QID>`, under the parents
  `kind` and `institution`.
- Errors are OAI-PMH errors, in an XML response with HTTP status 200, as the protocol
  requires (harvesters read the error code from the XML), not the JSON errors the
  rest of the API answers with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, current_app, request

from resolver.pids import MalformedPID, PidRef, parse_pid
from resolver.renderers.oai_formats import (
    FORMATS,
    ODS_JSONLD_SCHEMA_PATH,
    MetadataFormat,
    xml_attribute,
    xml_text,
)
from resolver.responses import base_url
from resolver.views import lookup
from schemas import KINDS, TOMBSTONE
from storage.harvest import HarvestItem, ItemFilter

oai = Blueprint("oai", __name__)
NAMESPACE = "http://www.openarchives.org/OAI/2.0/"
SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XML = "text/xml; charset=utf-8"
_LISTS = ("ListIdentifiers", "ListRecords")
# verb -> (required arguments, optional arguments); `resumptionToken` is exclusive.
VERBS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Identify": ((), ()),
    "ListMetadataFormats": ((), ("identifier",)),
    "ListSets": ((), ("resumptionToken",)),
    "GetRecord": (("identifier", "metadataPrefix"), ()),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set", "resumptionToken")),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set", "resumptionToken")),
}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_ROR = re.compile(r"https://ror\.org/([0-9a-z]+)")
_WIKIDATA = re.compile(r"https://www\.wikidata\.org/wiki/(Q[0-9]+)")
_MAX_POSITION = 2**62


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ListRequest:
    """A ListIdentifiers or ListRecords request, and how far it has got: what a
    resumption token holds."""

    verb: str
    prefix: str
    set_spec: str | None
    since: str | None  # the `from` argument as given
    until: str | None
    after: int = 0  # the feed position of the last item sent
    cursor: int = 0  # how many items were sent before

    def token(self, key: bytes) -> str:
        """The request as base64url JSON, then '.' and its HMAC-SHA256 under `key`
        (truncated to 128 bits): any app with the same key takes it, no other."""
        fields = [1, self.verb, self.prefix, self.set_spec, self.since, self.until,
                  self.after, self.cursor]
        raw = json.dumps(fields, separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{payload}.{_signature(key, payload)}"

    @classmethod
    def from_token(cls, verb: str, token: str, key: bytes) -> ListRequest:
        payload, _, signature = token.rpartition(".")
        fields = None
        # The signature is checked first: nothing unsigned reaches the JSON parser.
        if hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
            try:
                raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
                fields = json.loads(raw)
            except (binascii.Error, ValueError, RecursionError):
                fields = None
        if not (isinstance(fields, list) and len(fields) == 8 and fields[0] == 1
                and fields[1] == verb and isinstance(fields[2], str)
                and all(value is None or isinstance(value, str) for value in fields[3:6])
                and all(type(value) is int and 0 <= value < _MAX_POSITION
                        for value in fields[6:])):
            raise OaiError("badResumptionToken",
                           f"'{token[:80]}' is not a resumption token this repository issued "
                           f"for {verb}")
        listed = cls(verb, *fields[2:])
        try:
            listed.checked()
        except OaiError as error:
            raise OaiError("badResumptionToken", f"the resumption token is not valid: "
                                                 f"{error}") from None
        return listed

    def checked(self) -> tuple[MetadataFormat, ItemFilter, tuple[str | None, str | None]]:
        """What the request asks for, or the OaiError that says why it cannot be had."""
        return (metadata_format(self.prefix), item_filter(self.set_spec, self.prefix),
                time_range(self.since, self.until))


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_key() -> bytes:
    key: bytes = current_app.config["FDO_TOKEN_KEY"]
    return key


# -- the endpoint ----------------------------------------------------------------------

@oai.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    # Taken before any query: a harvester that passes it as `from` next time meets every
    # version this response did not show (see docs/harvesting.md on datestamps).
    response_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    arguments: dict[str, str] = {}
    try:
        arguments = _arguments()
        body = _VERB_HANDLERS[arguments["verb"]](arguments)
        echoed = arguments
    except OaiError as error:
        body = f"<error code={xml_attribute(error.code)}>{xml_text(error)}</error>"
        # The protocol: the request element carries no attributes after these two.
        echoed = {} if error.code in ("badVerb", "badArgument") else arguments
    attributes = "".join(f" {name}={xml_attribute(value)}" for name, value in echoed.items())
    document = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<OAI-PMH xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                f' xsi:schemaLocation="{NAMESPACE} {SCHEMA}">\n'
                f"<responseDate>{response_date}</responseDate>\n"
                f"<request{attributes}>{xml_text(base_url())}/oai</request>\n{body}\n</OAI-PMH>\n")
    return Response(document.encode(), content_type=XML, headers={"Cache-Control": "no-cache"})


@oai.get(ODS_JSONLD_SCHEMA_PATH)
def ods_jsonld_schema() -> Response:
    schema = (files("schemas") / "oai-ods-jsonld.xsd").read_bytes()
    return Response(schema, content_type="application/xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400"})


def _arguments() -> dict[str, str]:
    given = request.form if request.method == "POST" else request.args
    arguments: dict[str, str] = {}
    for name, values in given.lists():
        if len(values) > 1:
            raise OaiError("badArgument", f"the argument '{name}' is repeated")
        arguments[name] = values[0]
    verb = arguments.get("verb")
    if verb not in VERBS:
        raise OaiError("badVerb", "no verb given" if verb is None else
                       f"'{verb}' is not an OAI-PMH verb; use one of: {', '.join(VERBS)}")
    required, optional = VERBS[verb]
    unknown = sorted(set(arguments) - {"verb", *required, *optional})
    if unknown:
        raise OaiError("badArgument", f"{verb} takes no argument '{unknown[0]}'")
    if "resumptionToken" in arguments:
        if len(arguments) > 2:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument: send "
                                          "it with the verb alone")
        return arguments
    missing = [name for name in required if name not in arguments]
    if missing:
        raise OaiError("badArgument", f"{verb} requires the argument '{missing[0]}'")
    return arguments


# -- the verbs -------------------------------------------------------------------------

def identify(_: dict[str, str]) -> str:
    earliest = lookup().index.earliest_recorded()
    return ("<Identify>"
            f"<repositoryName>{xml_text(current_app.config['FDO_REPOSITORY_NAME'])}"
            f"</repositoryName><baseURL>{xml_text(base_url())}/oai</baseURL>"
            "<protocolVersion>2.0</protocolVersion>"
            f"<adminEmail>{xml_text(current_app.config['FDO_ADMIN_EMAIL'])}</adminEmail>"
            f"<earliestDatestamp>{datestamp(earliest) if earliest else '1970-01-01T00:00:00Z'}"
            "</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
            "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>")


def list_metadata_formats(arguments: dict[str, str]) -> str:
    offered = list(FORMATS.values())
    if "identifier" in arguments:
        item = _item(arguments["identifier"])
        offered = [fmt for fmt in offered if item.kind in fmt.kinds]
    formats = "".join(
        f"<metadataFormat><metadataPrefix>{fmt.prefix}</metadataPrefix>"
        f"<schema>{xml_text(fmt.schema_url(base_url()))}</schema>"
        f"<metadataNamespace>{fmt.namespace}</metadataNamespace></metadataFormat>"
        for fmt in offered)
    return f"<ListMetadataFormats>{formats}</ListMetadataFormats>"


def list_sets(arguments: dict[str, str]) -> str:
    if "resumptionToken" in arguments:
        raise OaiError("badResumptionToken", "ListSets is answered whole: it issues no "
                                             "resumption tokens")
    sets = [("kind", "Objects by kind"), ("institution", "Objects by institution")]
    sets += [(f"kind:{name}", f"{name.replace('-', ' ').capitalize()}") for name in KINDS]
    sets += [(f"institution:{spec}", name) for identifier, name in
             lookup().index.organisations() if (spec := institution_spec(identifier))]
    listed = "".join(f"<set><setSpec>{spec}</setSpec><setName>{xml_text(name)}</setName></set>"
                     for spec, name in sets)
    return f"<ListSets>{listed}</ListSets>"


def get_record(arguments: dict[str, str]) -> str:
    fmt = metadata_format(arguments["metadataPrefix"])
    item = _item(arguments["identifier"])
    if item.kind not in fmt.kinds:
        raise OaiError("cannotDisseminateFormat",
                       f"{fmt.prefix} describes {', '.join(fmt.kinds)} only, and "
                       f"{arguments['identifier']} is one of the {item.kind}")
    contents = _contents([item])
    return f"<GetRecord>{_record(item, fmt, contents.get(item.pid))}</GetRecord>"


def list_items(arguments: dict[str, str]) -> str:
    verb = arguments["verb"]
    if "resumptionToken" in arguments:
        listed = ListRequest.from_token(verb, arguments["resumptionToken"], token_key())
    else:
        listed = ListRequest(verb, arguments["metadataPrefix"], arguments.get("set"),
                             arguments.get("from"), arguments.get("until"))
    fmt, where, times = listed.checked()
    index = lookup().index
    lower, upto = index.position_range(*times)
    page_size = int(current_app.config["FDO_OAI_PAGE_SIZE"])
    items = index.harvest_items(max(lower, listed.after), upto, page_size + 1, where)
    if not items:
        raise OaiError("noRecordsMatch", "no record matches these arguments")
    more, items = len(items) > page_size, items[:page_size]
    if verb == "ListRecords":
        contents = _contents(items)
        listed_xml = "".join(_record(item, fmt, contents.get(item.pid)) for item in items)
    else:
        listed_xml = "".join(_header(item) for item in items)
    token = ""
    if more or "resumptionToken" in arguments:
        # The last page of a resumed list carries an empty token: the protocol's "done".
        value = replace(listed, after=items[-1].sequence,
                        cursor=listed.cursor + len(items)).token(token_key()) if more else ""
        token = f'<resumptionToken cursor="{listed.cursor}">{value}</resumptionToken>'
    return f"<{verb}>{listed_xml}{token}</{verb}>"


_VERB_HANDLERS = {"Identify": identify, "ListMetadataFormats": list_metadata_formats,
                  "ListSets": list_sets, "GetRecord": get_record,
                  "ListIdentifiers": list_items, "ListRecords": list_items}


# -- arguments -------------------------------------------------------------------------

def metadata_format(prefix: str) -> MetadataFormat:
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat",
                       f"'{prefix}' is not a metadata format here; use one of: "
                       f"{', '.join(FORMATS)}")
    return FORMATS[prefix]


def item_filter(set_spec: str | None, prefix: str) -> ItemFilter:
    """The objects a set holds, among those the format can describe."""
    left_out = tuple(kind for kind in KINDS if kind not in FORMATS[prefix].kinds)
    if set_spec is None or set_spec == "kind":
        return ItemFilter(left_out=left_out)
    if set_spec == "institution":
        return ItemFilter(left_out=left_out, organisation="*")
    family, _, name = set_spec.partition(":")
    if family == "kind" and name in KINDS:
        return ItemFilter(kind=name, left_out=left_out)
    if family == "institution" and (identifier := institution_id(name)):
        return ItemFilter(left_out=left_out, organisation=identifier)
    raise OaiError("badArgument", f"'{set_spec}' is not a set here (see ListSets)")


def time_range(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """`from` and `until` as the index's fixed-width times, both ends included."""
    if since and until and len(since) != len(until):
        raise OaiError("badArgument", "from and until must have the same granularity")
    return (_time(since, "from", ".000Z") if since else None,
            _time(until, "until", ".999Z") if until else None)


def _time(value: str, name: str, fraction: str) -> str:
    try:
        if _DAY.fullmatch(value):
            datetime.strptime(value, "%Y-%m-%d")
            return f"{value}T{'00:00:00' if fraction == '.000Z' else '23:59:59'}{fraction}"
        if _SECOND.fullmatch(value):
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            return value[:-1] + fraction
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name}='{value[:40]}' is not a UTC date "
                                  "(YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")


def institution_spec(organisation_id: str) -> str | None:
    """The set spec of an organisation (ROR and Wikidata IDs; others have none)."""
    if match := _ROR.fullmatch(organisation_id):
        return f"ror-{match[1]}"
    if match := _WIKIDATA.fullmatch(organisation_id):
        return f"wikidata-{match[1]}"
    return None


def institution_id(spec: str) -> str | None:
    scheme, _, local = spec.partition("-")
    identifier = {"ror": f"https://ror.org/{local}",
                  "wikidata": f"https://www.wikidata.org/wiki/{local}"}.get(scheme)
    return identifier if identifier and institution_spec(identifier) == spec else None


def oai_identifier(pid: str) -> str:
    return ("doi:" if PidRef(pid).is_doi else "hdl:") + pid


def _item(identifier: str) -> HarvestItem:
    scheme, _, rest = identifier.partition(":")
    item = None
    try:
        ref = parse_pid(rest)
        if ref.version is None and scheme == ("doi" if ref.is_doi else "hdl"):
            item = lookup().index.harvest_item(ref.pid)
    except MalformedPID:
        pass
    if item is None:
        raise OaiError("idDoesNotExist", f"'{identifier[:200]}' is not an identifier here "
                                         "(doi:<DOI> or hdl:<Handle>)")
    return item


# -- records ---------------------------------------------------------------------------

def datestamp(recorded: str) -> str:
    return recorded[:19] + "Z"


def _header(item: HarvestItem) -> str:
    deleted = ' status="deleted"' if item.status == TOMBSTONE else ""
    sets = f"<setSpec>kind:{item.kind}</setSpec>"
    if item.organisation_id and (spec := institution_spec(item.organisation_id)):
        sets += f"<setSpec>institution:{spec}</setSpec>"
    return (f"<header{deleted}><identifier>{oai_identifier(item.pid)}</identifier>"
            f"<datestamp>{datestamp(item.recorded)}</datestamp>{sets}</header>")


def _record(item: HarvestItem, fmt: MetadataFormat, content: dict[str, Any] | None) -> str:
    if content is None:  # a deleted record: its header says so, and it has no metadata
        return f"<record>{_header(item)}</record>"
    metadata = fmt.render(content, item.pid, item.version, base_url())
    return f"<record>{_header(item)}<metadata>{metadata}</metadata></record>"


def _contents(items: list[HarvestItem]) -> dict[str, dict[str, Any]]:
    """The stored content of each live item's current version, read from S3
    concurrently (not through the resolver's cache: a harvest would flush it)."""
    live = [(item.pid, item.version) for item in items if item.status != TOMBSTONE]
    return {record.pid: record.content for record in lookup().reader.versions(live)}
