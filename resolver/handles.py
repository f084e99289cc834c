"""The Handle REST API: `GET /api/handles/<prefix>/<suffix>` answered as the HANDLE.NET
proxy answers (CNRI's HandleJsonRestApiServlet), with the openDS FDO kernel attributes
(fdo-profile 1.0.0) of the object's latest version.

As the proxy: `{"responseCode": 1, "handle": <echoed as asked: pyhandle checks it>,
"values": [...]}`. `type=` and `index=` repeat; a value is kept when its type (without
case; "URL." asks for URL and URL.x) or its index was asked for; none kept: 200 with
`values: []`, HTTP 200. Unknown handle: 100, HTTP 404; malformed: 102, HTTP 400; an index
that is not an integer: 4 (protocol error), HTTP 400, no "handle". `pretty` indents;
`auth`, `publicOnly` and `cert` change nothing here. Values are bytes shown as strings:
format "string" (lists JSON text, numbers and booleans their JSON spelling) except
HS_ADMIN ("admin"); ttl 86400; timestamps in whole UTC seconds, as the proxy writes them.

Our choices: the record is re-issued with every version, so pidRecordIssueNumber is the
latest version number and every timestamp that version's `dcterms:modified`
(pidRecordIssueDate is the object's `dcterms:created`). Indices are the profile's
(`"$comment": "idx = N"`, HS_ADMIN 100, 10320/loc 101); URL, at 1 by the proxy's habit
but 1 is fdoProfile here, is at 102, beside the other Handle-system types and used by no
profile. pidIssuer is DataCite (its ROR) for DOIs and, for Handles, this repository,
which mints them (`<base_url>/`, the generator in every provenance event); it is also
the DOI profiles' issuedForAgent, "the agent responsible for serving" the object.
digitalObjectType is the object's `ods:fdoType` (the specimen profile's const is the
profile PID); annotationHash (index 502, like targetTypeName) is left out.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from markupsafe import Markup, escape

from resolver.lookup import Lookup, UnknownPID
from resolver.pids import MalformedPID, PidRef, canonical_pid, pid_url
from schemas import (
    ANNOTATION,
    KINDS,
    MACHINE_ANNOTATION_SERVICE,
    MEDIA,
    SOURCE_SYSTEM,
    SPECIMEN,
    TOMBSTONE,
    Kind,
    kind_of_type,
)

RC_SUCCESS, RC_PROTOCOL_ERROR, RC_HANDLE_NOT_FOUND = 1, 4, 100
RC_INVALID_HANDLE, RC_VALUES_NOT_FOUND = 102, 200
TTL = 86400
URL_INDEX = 102
ADMIN_PERMISSIONS = "011111110011"  # hdl-admintool's default for a handle's own admin
REPOSITORY_NAME = "FDO repository"
DATACITE = ("https://ror.org/04wxnsj81", "DataCite")
RECORD_LICENSE = ("https://spdx.org/licenses/CC0-1.0.json", "CC0 1.0 Universal")
INDICES: dict[str, int] = {
    "fdoProfile": 1, "fdoRecordLicenseId": 2, "fdoRecordLicenseName": 3,
    "digitalObjectType": 4, "digitalObjectName": 5, "pid": 6, "pidIssuer": 7,
    "pidIssuerName": 8, "pidRecordIssueDate": 9, "pidRecordIssueNumber": 10, "pidStatus": 11,
    "tombstoneText": 30, "hasRelatedPid": 31, "tombstoneDate": 32,
    "issuedForAgent": 40, "issuedForAgentName": 41, "referentName": 42,
    "HS_ADMIN": 100, "10320/loc": 101, "URL": URL_INDEX,
    "specimenHost": 200, "specimenHostName": 201, "normalisedPrimarySpecimenObjectId": 203,
    "otherSpecimenIds": 204, "topicOrigin": 205, "topicDomain": 206, "topicDiscipline": 207,
    "topicCategory": 208, "livingOrPreserved": 209, "markedAsType": 212, "catalogNumber": 213,
    "mediaHost": 400, "mediaHostName": 401, "primaryMediaId": 404, "primaryMediaIdType": 405,
    "primaryMediaIdName": 406, "mediaType": 407, "mimeType": 408, "licenseName": 409,
    "licenseUrl": 410, "rightsHolder": 411, "rightsHolderPid": 412,
    "targetPid": 500, "targetType": 501, "targetTypeName": 502,
    "sourceSystemName": 600, "machineAnnotationServiceName": 604,
}
CATALOG_NUMBER_TITLES = ("dwc:catalogNumber", "abcd:unitID")
RIGHTS_OWNER_ROLES = ("rightsowner", "rightsholder", "copyrightowner")

Attributes = list[tuple[str, Any]]
handles = Blueprint("handles", __name__)


# -- the values ------------------------------------------------------------------------


def handle_values(content: dict[str, Any], pid: str, version: int, kind_name: str,
                  base_url: str) -> list[dict[str, Any]]:
    """The handle record of version `version` (the latest) of `pid`, sorted by index.
    Attributes whose source is missing from `content` are left out."""
    kind = KINDS[kind_name]
    attributes = _kernel(content, pid, version, kind, base_url) + _tombstone(content)
    attributes += _KIND_ATTRIBUTES.get(kind, _no_attributes)(content)
    if kind.uses_doi:  # issuedForAgent is in the DOI profiles only
        attributes += [("issuedForAgent", f"{base_url}/"), ("issuedForAgentName",
                                                           REPOSITORY_NAME)]
    stamp = handle_time(str(content["dcterms:modified"]))
    values = [_value(INDICES[name], name, "string", _text(data), stamp)
              for name, data in attributes if data not in (None, "", [])]
    admin = {"handle": f"0.NA/{PidRef(pid).prefix}", "index": 200,
             "permissions": ADMIN_PERMISSIONS}
    values.append(_value(INDICES["HS_ADMIN"], "HS_ADMIN", "admin", admin, stamp))
    return sorted(values, key=lambda value: int(value["index"]))


def locations(pid: str, base_url: str) -> list[dict[str, str]]:
    """Where the object can be had: its landing page, then its JSON."""
    url = pid_url(base_url, pid)
    return [{"view": "HTML", "href": url}, {"view": "JSON", "href": f"{url}?format=json"}]


def handle_time(iso: str) -> str:
    """An ISO timestamp as the proxy writes one: UTC, whole seconds, 'Z'."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:  # not ours (the server sets it): shown as it is, never a 500
        return iso
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(index: int, value_type: str, data_format: str, data: Any,
           stamp: str) -> dict[str, Any]:
    return {"index": index, "type": value_type, "data": {"format": data_format, "value": data},
            "ttl": TTL, "timestamp": stamp}


def _text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False,
                                                         separators=(",", ":"))


def _kernel(content: dict[str, Any], pid: str, version: int, kind: Kind,
            base_url: str) -> Attributes:
    issuer = DATACITE if PidRef(pid).is_doi else (f"{base_url}/", REPOSITORY_NAME)
    # The profile's pidStatus enumeration spells openDS's statuses in capitals.
    status = "TOMBSTONE" if content.get("ods:status") == TOMBSTONE else "ACTIVE"
    return [
        ("fdoProfile", kind.handle_profile),
        ("fdoRecordLicenseId", RECORD_LICENSE[0]),
        ("fdoRecordLicenseName", RECORD_LICENSE[1]),
        ("digitalObjectType", content.get("ods:fdoType") or kind.fdo_type),
        ("digitalObjectName", kind.label),
        ("pid", pid_url(base_url, pid)),
        ("pidIssuer", issuer[0]),
        ("pidIssuerName", issuer[1]),
        ("pidRecordIssueDate", content.get("dcterms:created")),
        ("pidRecordIssueNumber", version),
        ("pidStatus", status),
        ("10320/loc", _locations_xml(locations(pid, base_url))),
        ("URL", pid_url(base_url, pid)),
    ]


def _locations_xml(places: list[dict[str, str]]) -> str:
    """A 10320/loc document; weight 0 keeps the JSON out of the proxy's default choice."""
    root = ET.Element("locations")
    for number, place in enumerate(places):
        ET.SubElement(root, "location", {"id": str(number), "href": place["href"],
                                         "weight": "0" if number else "1",
                                         "view": place["view"]})
    return ET.tostring(root, encoding="unicode")


def _tombstone(content: dict[str, Any]) -> Attributes:
    metadata = content.get("ods:hasTombstoneMetadata")
    if content.get("ods:status") != TOMBSTONE or not isinstance(metadata, dict):
        return []
    related = [{"pid": item.get("dcterms:identifier") or item.get("schema:identifier"),
                "relationshipType": item.get("ods:relationshipType")}
               for item in metadata.get("ods:hasRelatedPIDs") or [] if isinstance(item, dict)]
    return [("tombstoneText", metadata.get("ods:tombstoneText")),
            ("hasRelatedPid", related),
            ("tombstoneDate", metadata.get("ods:tombstoneDate"))]


def _specimen(content: dict[str, Any]) -> Attributes:
    identifiers = [item for item in content.get("ods:hasIdentifiers") or []
                   if isinstance(item, dict) and item.get("dcterms:identifier")]
    catalog = [item["dcterms:identifier"] for item in identifiers
               if item.get("dcterms:title") in CATALOG_NUMBER_TITLES]
    others = [{"identifierValue": str(item["dcterms:identifier"]),
               "identifierType": str(item.get("dcterms:title") or item.get("dcterms:type")
                                     or "Other"),
               "resolvable": str(item.get("ods:gupriLevel", "")).endswith("Resolvable")}
              for item in identifiers]
    return [
        ("referentName", content.get("ods:specimenName")),
        ("specimenHost", content.get("ods:organisationID")),
        ("specimenHostName", content.get("ods:organisationName")),
        ("normalisedPrimarySpecimenObjectId", content.get("ods:normalisedPhysicalSpecimenID")),
        ("otherSpecimenIds", others),
        *[(name, content.get(f"ods:{name}"))
          for name in ("topicOrigin", "topicDomain", "topicDiscipline", "topicCategory",
                       "livingOrPreserved")],
        ("markedAsType", content.get("ods:isMarkedAsType")),
        ("catalogNumber", catalog[0] if catalog else None),
    ]


def _media(content: dict[str, Any]) -> Attributes:
    uri = content.get("ac:accessURI")
    rights = content.get("dcterms:rights")
    rights_is_url = isinstance(rights, str) and _is_url(rights)
    holder_name, holder_id = _rights_owner(content)
    return [
        ("referentName", re.sub(r"^https?://", "", uri) if isinstance(uri, str) else None),
        ("mediaHost", content.get("ods:organisationID")),
        ("mediaHostName", content.get("ods:organisationName")),
        ("primaryMediaId", uri),
        ("primaryMediaIdType", "Resolvable" if isinstance(uri, str) and _is_url(uri) else None),
        ("primaryMediaIdName", "ac:accessURI" if uri else None),
        ("mediaType", content.get("dcterms:type")),
        ("mimeType", content.get("dcterms:format")),
        ("licenseName", None if rights_is_url else rights),
        ("licenseUrl", rights if rights_is_url else None),
        ("rightsHolder", holder_name),
        ("rightsHolderPid", holder_id),
    ]


def _rights_owner(content: dict[str, Any]) -> tuple[Any, Any]:
    """(name, id) of the agent in a rights-owner role; by the profile's default, the
    supplying organisation when no agent has that role."""
    for agent in content.get("ods:hasAgents") or []:
        if not isinstance(agent, dict):
            continue
        names = {re.sub(r"[^a-z]", "", str(role.get("schema:roleName", "")).lower())
                 for role in agent.get("ods:hasRoles") or [] if isinstance(role, dict)}
        if names & set(RIGHTS_OWNER_ROLES):
            return agent.get("schema:name"), agent.get("@id")
    return content.get("ods:organisationName"), content.get("ods:organisationID")


def _annotation(content: dict[str, Any]) -> Attributes:
    target = content.get("oa:hasTarget")
    target = target if isinstance(target, dict) else {}
    target_kind = kind_of_type(target.get("@type"))
    return [("targetPid", target.get("@id")),
            ("targetType", target.get("@type")),
            ("targetTypeName", target_kind.label if target_kind else None)]


def _source_system(content: dict[str, Any]) -> Attributes:
    return [("sourceSystemName", content.get("schema:name"))]


def _machine_annotation_service(content: dict[str, Any]) -> Attributes:
    return [("machineAnnotationServiceName", content.get("schema:name"))]


def _no_attributes(content: dict[str, Any]) -> Attributes:
    """A kind without a profile of its own has the kernel attributes only."""
    return []


# The attributes of each kind's FDO profile beyond the kernel.
_KIND_ATTRIBUTES = {SPECIMEN: _specimen, MEDIA: _media, ANNOTATION: _annotation,
                    SOURCE_SYSTEM: _source_system,
                    MACHINE_ANNOTATION_SERVICE: _machine_annotation_service}


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


# -- filters and the view ------------------------------------------------------------------


def select(values: list[dict[str, Any]], types: list[str],
           indices: list[int]) -> list[dict[str, Any]]:
    """The values the proxy's `type=` and `index=` parameters keep (all without either)."""
    if not types and not indices:
        return values
    return [value for value in values
            if value["index"] in indices or any(_type_matches(query, str(value["type"]))
                                                for query in types)]


def _type_matches(query: str, value_type: str) -> bool:
    query, value_type = query.lower(), value_type.lower()
    if query.endswith("."):
        return value_type.startswith(query) or value_type == query[:-1]
    return value_type == query


def parse_indices(texts: list[str]) -> list[int]:
    """`index=` values as the proxy reads them (Java ints), or ValueError."""
    indices = []
    for text in texts:
        if not re.fullmatch(r"[+-]?[0-9]+", text) or not -(2**31) <= int(text) < 2**31:
            raise ValueError(f"Invalid index '{text}': not an integer")
        indices.append(int(text))
    return indices


@handles.get("/api/handles/", defaults={"handle": ""})
@handles.get("/api/handles/<path:handle>")
def resolve_handle(handle: str) -> Response:
    try:
        indices = parse_indices(request.args.getlist("index"))
    except ValueError as error:
        return _answer({"responseCode": RC_PROTOCOL_ERROR, "message": str(error)}, 400)
    try:
        pid = _parse_handle(handle)
    except MalformedPID as error:
        return _answer({"responseCode": RC_INVALID_HANDLE, "handle": handle,
                        "message": str(error)}, 400)
    lookup: Lookup = current_app.extensions["lookup"]
    try:
        row = lookup.current(pid)
    except UnknownPID:
        return _answer({"responseCode": RC_HANDLE_NOT_FOUND, "handle": handle}, 404)
    record = lookup.record(pid, row.version)
    values = handle_values(record.content, pid, row.version, row.kind,
                           str(current_app.config["FDO_BASE_URL"]))
    kept = select(values, request.args.getlist("type"), indices)
    code = RC_SUCCESS if kept else RC_VALUES_NOT_FOUND
    return _answer({"responseCode": code, "handle": handle, "values": kept}, 200)


def _parse_handle(handle: str) -> str:
    if not handle:
        raise MalformedPID("Empty handle invalid")
    if "/" not in handle:
        raise MalformedPID(f"'{handle}' is not of the form <prefix>/<suffix>")
    prefix, suffix = handle.split("/", 1)
    return canonical_pid(prefix, suffix)


def _answer(body: dict[str, Any], status: int) -> Response:
    pretty = request.args.get("pretty", "false").lower() in ("", "yes", "true")
    text = json.dumps(body, ensure_ascii=False, indent=2 if pretty else None)
    response = Response(text, status=status, mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# -- HTML ------------------------------------------------------------------------------


def handle_record_html(handle: str, values: list[dict[str, Any]]) -> str:
    """The record as a small HTML table (index, type, timestamp, data), like the proxy's
    page for `?noredirect`; URLs are links, everything is escaped."""
    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n").format(
            value["index"], value["type"], value["timestamp"], _html_data(value["data"]))
        for value in values)
    return str(Markup(
        '<table class="handle-record">\n<caption>Handle values for {}</caption>\n'
        "<thead><tr><th>Index</th><th>Type</th><th>Timestamp</th><th>Data</th></tr></thead>\n"
        "<tbody>\n{}</tbody>\n</table>\n").format(handle, rows))


def _html_data(data: dict[str, Any]) -> Markup:
    value = data["value"]
    if not isinstance(value, str):
        return escape(json.dumps(value, ensure_ascii=False))
    if _is_url(value) and not re.search(r"\s", value):
        return Markup('<a href="{0}">{0}</a>').format(value)
    return escape(value)
