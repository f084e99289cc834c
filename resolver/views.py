"""The resolver: every PID and version URL, negotiated, with Signposting and Memento.

Thin views: parse the PID, negotiate, look the version up, render (from the cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, request

from resolver import memento
from resolver.comparison import checked_span, compared
from resolver.formats import FORMATS, HTML, JSON, JSONLD, PROVENANCE_FORMATS, Format, Rendition
from resolver.handles import handle_record_html, handle_values, locations
from resolver.lookup import Lookup
from resolver.negotiation import Choice, NotAcceptable, UnknownFormat, choose
from resolver.pages import (
    landing_page,
    linked_records,
    page_etag,
    signposting_subject,
    state_key,
)
from resolver.pids import PidRef, canonical_pid, parse_pid, pid_url
from resolver.renderers import jsonld
from resolver.renderers.crosswalk import served_content
from resolver.renderers.html import render_comparison, render_landing
from resolver.representations import Prepared, Renderings, context_response_body, prepare
from resolver.responses import CORS_HEADERS, PreparedResponse, base_url, cors, json_response
from resolver.signposting import LINKSET, LINKSET_JSON, header, links, linkset_json, linkset_text
from schemas import TOMBSTONE
from storage.models import ObjectState
from storage.reader import checked_number

resolver = Blueprint("resolver", __name__)
IMMUTABLE = "public, max-age=31536000, immutable"
HAS_PROVENANCE = "http://www.w3.org/ns/prov#has_provenance"  # PROV-AQ link relation


def lookup() -> Lookup:
    found: Lookup = current_app.extensions["lookup"]
    return found


def renderings() -> Renderings:
    found: Renderings = current_app.extensions["renderings"]
    return found


def query() -> Mapping[str, str]:
    """The query parameters. Most resolver requests have none, and a miss on werkzeug's
    MultiDict builds a BadRequestKeyError: a plain empty dict answers those for free."""
    return request.args if request.query_string else {}


def negotiate(offers: tuple[Format, ...] = FORMATS) -> Choice:
    """The chosen representation, remembered so errors answer in the same format."""
    choice = choose(request.headers.get("Accept"), query().get("format"), offers)
    g.choice = choice
    return choice


# -- routes ---------------------------------------------------------------------------

@resolver.get("/<prefix>/<suffix>")
@resolver.get("/doi/<prefix>/<suffix>")
@resolver.get("/hdl/<prefix>/<suffix>")
def resolve_latest(prefix: str, suffix: str) -> Response:
    return resolve(PidRef(_pid(prefix, suffix)))


@resolver.get("/<prefix>/<suffix>/<int:number>")
@resolver.get("/doi/<prefix>/<suffix>/<int:number>")
@resolver.get("/hdl/<prefix>/<suffix>/<int:number>")
def resolve_version(prefix: str, suffix: str, number: int) -> Response:
    return resolve(PidRef(_pid(prefix, suffix), number))


@resolver.get("/<any(http,https,HTTP,HTTPS):scheme>://<path:rest>", merge_slashes=False)
@resolver.get("/<any(http,https,HTTP,HTTPS):scheme>:/<path:rest>", merge_slashes=False)
@resolver.get("/<any(doi,hdl,DOI,HDL):scheme>:<path:rest>")
def resolve_url(scheme: str, rest: str) -> Response:
    """A PID as a full URL or URI in the path (`/https%3A%2F%2Fdoi.org%2F10.x%2FABC-DEF-GHJ`,
    `/doi:10.x/ABC-DEF-GHJ`): servers decode %2F before routing, so it arrives with slashes."""
    separator = ":" if scheme.lower() in ("doi", "hdl") else "://"
    return resolve(parse_pid(f"{scheme}{separator}{rest}", base_url()))


def _pid(prefix: str, suffix: str) -> str:
    return canonical_pid(prefix, suffix)


def resolve(ref: PidRef) -> Response:
    choice = negotiate()
    args = query()
    if "noredirect" in args:
        return _handle_page(ref.pid)
    if args.get("locatt"):
        return _location(ref, args["locatt"])
    if ref.version is None and "Accept-Datetime" in request.headers:
        return _timegate(ref.pid)
    row = lookup().current(ref.pid)
    number = checked_number(row, ref.version)
    variant = choice.offer.variant(choice.params, args.get("style"))
    latest = ref.version is None
    offer = choice.offer
    key = (*state_key(row, number, latest), offer.name, variant)
    prepared = renderings().prepared(key, lambda: _prepare(offer, variant, row, number,
                                                           latest))
    gone = latest and row.status == TOMBSTONE
    return _conditional(prepared, 410 if gone else 200)


def _prepare(offer: Format, variant: str, row: ObjectState, number: int,
             latest: bool) -> Prepared:
    """Body and headers of one representation of one state of an object: everything but
    the status, so it can be cached under the key that names that state."""
    record = lookup().record(row.pid, number)
    linked = linked_records(lookup(), row)
    subject = signposting_subject(base_url(), record, None if latest else number, linked)
    if offer is HTML:
        body = render_landing(landing_page(lookup(), base_url(), row, record, subject, linked,
                                           latest)).encode()
        etag = page_etag(state_key(row, number, latest))
    else:
        rendition = Rendition(served_content(record.content, base_url()), record.pid,
                              record.version, record.kind, base_url(), variant)
        body = renderings().render((record.digest, "content"), offer, rendition)
        etag = offer.etag(record.digest, variant)
    link_values = [link.header_value() for link in links(subject, html=offer is HTML)]
    link_values += _memento_links(row, None if latest else number)
    provenance_url = f"{pid_url(base_url(), record.pid, record.version)}/provenance"
    link_values.append(f'<{provenance_url}>; rel="{HAS_PROVENANCE}"')
    # HTML pages show the live history, so only machine formats of a version are immutable.
    immutable = not latest and offer is not HTML
    headers = {
        "Content-Type": offer.content_type(variant),
        "ETag": f'"{etag}"',
        "Link": header(link_values),
        "Vary": "Accept, Accept-Datetime" if latest else "Accept",
        "Cache-Control": IMMUTABLE if immutable else "no-cache",
        **CORS_HEADERS,
    }
    if not latest:  # (the latest version's URL is the `last memento` link)
        headers["Memento-Datetime"] = memento.http_date(str(record.content["dcterms:modified"]))
    return prepare(body, etag, headers)


def _memento_links(row: ObjectState, number: int | None) -> list[str]:
    related = memento.relations(number, row.version)
    times = lookup().version_times(row.pid, sorted(related))
    mementos = {version: (qualifiers, times[version]) for version, qualifiers in related.items()
                if version in times}
    return memento.link_values(base_url(), row.pid, mementos)


def _conditional(prepared: Prepared, status: int) -> Response:
    response = PreparedResponse(prepared, status)
    if status == 200 and "If-None-Match" in request.headers and \
            request.if_none_match.contains(prepared.etag):
        response.status_code = 304  # sent without the body and the entity headers
    return response


def _timegate(pid: str) -> Response:
    moment = memento.parse_accept_datetime(request.headers["Accept-Datetime"])
    row = lookup().current(pid)
    rows = lookup().versions(pid)
    number = memento.select(rows, moment)
    response = Response(status=302, headers={"Location": _with_query(
        pid_url(base_url(), pid, number))})
    ends = {1: (["first"], rows[0].created), row.version: (["last"], rows[-1].created)}
    response.headers["Link"] = header(memento.link_values(base_url(), pid, ends))
    response.headers["Vary"] = "Accept, Accept-Datetime"
    cors(response)
    return response


def _with_query(url: str) -> str:
    kept = {key: value for key, value in request.args.items() if key in ("format", "style")}
    return f"{url}?{urlencode(kept)}" if kept else url


def _handle_page(pid: str) -> Response:
    row = lookup().current(pid)
    record = lookup().record(pid, row.version)
    values = handle_values(record.content, pid, row.version, row.kind, base_url())
    return Response(handle_record_html(pid, values), content_type=HTML.content_type(""))


def _location(ref: PidRef, locatt: str) -> Response:
    """`?locatt=view:json` picks a location of the handle record's 10320/loc (as the
    Handle proxy does), by redirecting to it."""
    lookup().current(ref.pid)
    wanted = locatt.removeprefix("view:").lower()
    for location in locations(ref.pid, base_url()):
        if location["view"].lower() == wanted:
            return Response(status=302, headers={"Location": location["href"]})
    raise UnknownFormat(locatt, FORMATS)


@resolver.get("/<prefix>/<suffix>/<int:number>/provenance")
def provenance(prefix: str, suffix: str, number: int) -> Response:
    choice = negotiate(PROVENANCE_FORMATS)
    row = lookup().current(_pid(prefix, suffix))
    record = lookup().version(row, number)
    variant = choice.offer.variant(choice.params, None)
    rendition = Rendition(record.provenance, record.pid, record.version, record.kind,
                          base_url(), variant)
    body = renderings().render((record.digest, "provenance"), choice.offer, rendition)
    etag = choice.offer.etag(record.digest, variant) + ".provenance"
    version_url = pid_url(base_url(), record.pid, record.version)
    headers = {"Content-Type": choice.offer.content_type(variant), "ETag": f'"{etag}"',
               "Cache-Control": IMMUTABLE, "Vary": "Accept",
               "Link": f'<{version_url}>; rel="describes"', **CORS_HEADERS}
    return _conditional(prepare(body, etag, headers), 200)


@resolver.get("/<prefix>/<suffix>/timemap")
def timemap(prefix: str, suffix: str) -> Response:
    pid = _pid(prefix, suffix)
    wants_json = request.args.get("format") == "json" or (
        request.accept_mimetypes.best_match([memento.LINK_FORMAT, JSON.media_type])
        == JSON.media_type)
    g.choice = Choice(JSON, {}, by_wildcard=False)
    lookup().current(pid)
    rows = lookup().versions(pid)
    if wants_json:
        response = json_response(memento.timemap_json(base_url(), pid, rows))
    else:
        response = Response(memento.timemap_link_format(base_url(), pid, rows),
                            content_type=memento.LINK_FORMAT)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    cors(response)
    return response


@resolver.get("/<prefix>/<suffix>/linkset")
def linkset(prefix: str, suffix: str) -> Response:
    pid = _pid(prefix, suffix)
    g.choice = Choice(JSON, {}, by_wildcard=False)
    row = lookup().current(pid)
    record = lookup().record(pid, row.version)
    subject = signposting_subject(base_url(), record, None, linked_records(lookup(), row))
    wants_text = request.accept_mimetypes.best_match([LINKSET_JSON, LINKSET]) == LINKSET
    if wants_text:
        response = Response(linkset_text(subject), content_type=LINKSET)
    else:
        response = json_response(linkset_json(subject), LINKSET_JSON)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    cors(response)
    return response


@resolver.get("/<prefix>/<suffix>/compare")
def compare(prefix: str, suffix: str) -> Response:
    """What changed between two versions (`from`, `to`; by default the latest and the
    one before), field by field, from the provenance patches: HTML or JSON."""
    wanted = request.accept_mimetypes.best_match([HTML.media_type, JSON.media_type])
    if wanted is None:
        raise NotAcceptable((HTML, JSON))
    g.choice = Choice(HTML if wanted == HTML.media_type else JSON, {}, by_wildcard=False)
    row = lookup().current(_pid(prefix, suffix))
    first, last = checked_span(dict(query()), row.version)
    records = [lookup().record(row.pid, number) for number in range(first, last + 1)]
    changes = compared(records[0], records[-1], records[1:], base_url())
    if wanted == HTML.media_type:
        response = Response(render_comparison(row.pid, pid_url(base_url(), row.pid), base_url(),
                                              first, last, changes),
                            content_type=HTML.content_type(""))
    else:
        response = json_response({
            "pid": row.pid,
            "from": {"version": first, "url": pid_url(base_url(), row.pid, first)},
            "to": {"version": last, "url": pid_url(base_url(), row.pid, last)},
            "changes": [change.as_json() for change in changes]})
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    cors(response)
    return response


@resolver.get(jsonld.CONTEXT_PATH)
def context() -> Response:
    response = Response(context_response_body(), content_type=JSONLD.media_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    cors(response)
    return response
