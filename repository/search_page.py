"""What `/search` shows, built from the search API's own reads (repository/search.py): the
hits, the facets to click, the filters in force, the links to the next and first pages
and, on request, a map of the page's hits. No Flask: the query string comes in as
(name, value) pairs and every link is that list with one pair added or taken out, so a
page's URL is the whole search (shareable) and the same URL in the API answers JSON.

The page has two parameters of its own, never handed to the search: `kind` (which kind
of object; all when absent) and `view` (`list`, or `map` to draw the hits' places)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup

from repository import errors
from repository.search import Results, Search, search_kinds
from repository.search_request import FACETS, FILTERS
from resolver.maps import world_map
from resolver.renderers.display import safe_url
from schemas import KINDS
from storage.search_query import Hit

Pairs = Sequence[tuple[str, str]]

ALL = "all"
PAGE_PARAMETERS = ("kind", "view")
VIEWS = ("list", "map")
# The facets a page shows when the URL asks for none (each is hidden when it has no value).
PAGE_FACETS = ("organisation", "topicDiscipline", "country", "countryCode", "typeStatus", "family",
               "basisOfRecord", "hasMedia", "year", "license", "motivation")
PAGE_FACET_SIZE = "10"
# The search box's choices: kind (a page parameter) and order (the API's `sort`; '' is its
# default: relevance with words, else the latest change first).
KIND_CHOICES = {ALL: "All kinds", **{name: kind.label for name, kind in KINDS.items()}}
SORTS = (("", "Best match, else latest"), ("-modified", "Latest change"),
         ("catalogueNumber", "Catalogue number"), ("-eventDate", "Collected, newest"),
         ("eventDate", "Collected, oldest"))
FACET_LABELS = {"organisation": "Institution", "topicDiscipline": "Discipline",
                "country": "Country", "countryCode": "Country code",
                "typeStatus": "Type status", "basisOfRecord": "Basis of record",
                "hasMedia": "Media", "year": "Year of collection", "license": "Licence",
                "sourceSystem": "Source system", "collectionCode": "Collection",
                "mergingDecisionStatus": "Merging decision"}
# What the filters in force are called on the page: parameter -> label.
FILTER_LABELS = {"q": "Text", "eventDate": "Collected", "bbox": "Area", "status": "Status",
                 "organisationID": "Institution", "sourceSystemID": "Source system",
                 "specimenName": "Name", "physicalSpecimenID": "Catalogue number",
                 **{FACETS[name]: label for name, label in FACET_LABELS.items()}}
SHOWN_FILTERS = frozenset({*FILTERS, "q", "eventDate", "bbox", "status"})
HAS_MEDIA_LABELS = {"true": "With media", "false": "Without media"}
FILTER_OF_FIELD = {term: name for name, term in FILTERS.items()}  # term field -> parameter


@dataclass(frozen=True)
class Choice:
    """A facet value or a filter in force, with the URL that adds or removes it."""

    label: str
    url: str
    count: int = 0
    active: bool = False


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: list[Choice]


@dataclass(frozen=True)
class HitView:
    url: str
    kind_label: str
    name: str
    catalogue: str
    organisation: str
    event_date: str
    snippet: Markup | None
    thumbnail: str | None
    located: bool


@dataclass
class SearchPage:
    kind: str  # a key of KINDS, or ALL
    view: str
    q: str
    sort: str
    total: int
    hits: list[HitView]
    facets: list[Facet]
    filters: list[Choice]  # in force, each with its removal URL
    hidden: list[tuple[str, str]]  # what the search form carries besides q, kind, sort
    next_url: str | None
    first_url: str | None  # on a page after the first
    list_url: str = ""
    map_url: str = ""
    picture: Markup | None = None


class Links:
    """URLs of this search with one change: the query string is the state."""

    def __init__(self, base_url: str, pairs: Pairs) -> None:
        self.path = f"{base_url}/search"
        self.pairs = list(pairs)

    def url(self, pairs: Pairs) -> str:
        return f"{self.path}?{urlencode(pairs)}" if pairs else self.path

    def kept(self, *dropped: str) -> list[tuple[str, str]]:
        """The pairs without the cursor (any change starts from the first page) and
        without the parameters named."""
        return [(n, v) for n, v in self.pairs if n not in ("cursor", *dropped)]

    def adding(self, name: str, value: str) -> str:
        return self.url([*self.kept(), (name, value)])

    def removing(self, name: str, value: str) -> str:
        return self.url([(n, v) for n, v in self.kept() if (n, v) != (name, value)])

    def setting(self, name: str, value: str | None, keep_cursor: bool = False) -> str:
        pairs = [(n, v) for n, v in self.pairs
                 if n != name and (keep_cursor or n != "cursor")]
        return self.url([*pairs, (name, value)] if value is not None else pairs)


def kind_and_view(pairs: Pairs) -> tuple[str, str]:
    """The page's own parameters, checked: BadRequest names the valid values."""
    given = dict(pairs)
    kind, view = given.get("kind") or ALL, given.get("view") or "list"
    if kind != ALL and kind not in KINDS:
        raise errors.BadRequest(f"kind is one of {', '.join((ALL, *KINDS))}",
                                [{"path": "kind", "message": "is not a kind"}])
    if view not in VIEWS:
        raise errors.BadRequest(f"view is one of {', '.join(VIEWS)}",
                                [{"path": "view", "message": "is not a view"}])
    return kind, view


def search_arguments(pairs: Pairs) -> list[tuple[str, list[str]]]:
    """The search's arguments: the query string without the page's own parameters, with
    the page's facets and facet size unless the URL names its own."""
    arguments: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in PAGE_PARAMETERS:
            arguments.setdefault(name, []).append(value)
    arguments.setdefault("facet", list(PAGE_FACETS))
    arguments.setdefault("facetSize", [PAGE_FACET_SIZE])
    return list(arguments.items())


def search_page(search: Search, base_url: str, pairs: Pairs) -> SearchPage:
    """The page for this query string; BadRequest (a 400 page) for a bad parameter."""
    kind, view = kind_and_view(pairs)
    results = search.find(search_kinds(None if kind == ALL else kind), search_arguments(pairs))
    links = Links(base_url, pairs)
    given = dict(pairs)
    page = SearchPage(
        kind=kind, view=view, q=" ".join(v for n, v in pairs if n == "q"),
        sort=given.get("sort", ""), total=results.page.total,
        hits=[hit_view(search, results, hit) for hit in results.page.hits],
        facets=facets(results, links), filters=filters_in_force(results, links),
        hidden=[(n, v) for n, v in links.kept("q", "kind", "sort")],
        next_url=links.setting("cursor", results.cursor) if results.cursor else None,
        first_url=links.setting("cursor", None) if "cursor" in given else None,
        list_url=links.setting("view", None, keep_cursor=True),
        map_url=links.setting("view", "map", keep_cursor=True))
    if view == "map":
        page.picture = hits_map(results, links)
    return page


def hit_view(search: Search, results: Results, hit: Hit) -> HitView:
    shown = search.hit_json(hit, results)
    organisation = shown["organisation"] or {}
    return HitView(
        url=shown["@id"], kind_label=KINDS[hit.kind].sentence_label,
        name=hit.name or hit.catalogue or "Unnamed", catalogue=hit.catalogue,
        organisation=organisation.get("name") or organisation.get("@id") or "",
        event_date=hit.event_date,
        # The snippet is escaped HTML with the matched words in <mark> (search.snippet).
        snippet=Markup(shown["snippet"]) if shown["snippet"] else None,
        thumbnail=safe_url(shown["thumbnail"]), located=shown["location"] is not None)


def value_label(field_name: str, value: str, results: Results) -> str:
    if field_name == FACETS["organisation"]:
        return results.organisations.get(value) or value
    if field_name == FACETS["hasMedia"]:
        return HAS_MEDIA_LABELS.get(value, value)
    return value


def facets(results: Results, links: Links) -> list[Facet]:
    """Each facet's values, linked: a click adds the filter, or removes it when in force."""
    active = {(name, value.casefold()) for name, value in links.pairs}
    names = {term: name for name, term in FACETS.items()}
    shown = []
    for term, values in results.page.facets.items():
        parameter = FILTER_OF_FIELD[term]
        choices = []
        for value in values:
            on = (parameter, value.key) in active
            given = next((v for n, v in links.pairs
                          if n == parameter and v.casefold() == value.key), value.value)
            choices.append(Choice(
                value_label(term, value.value, results), links.removing(parameter, given)
                if on else links.adding(parameter, value.value), value.count, on))
        if choices:
            shown.append(Facet(names[term], FACET_LABELS.get(names[term], names[term]),
                               choices))
    return shown


def filters_in_force(results: Results, links: Links) -> list[Choice]:
    shown = []
    for name, value in links.pairs:
        if name in SHOWN_FILTERS and value.strip():
            label = value_label(FILTERS.get(name, name), value, results)
            shown.append(Choice(f"{FILTER_LABELS.get(name, name)}: {label}",
                                links.removing(name, value), active=True))
    return shown


def hits_map(results: Results, links: Links) -> Markup:
    """This page's hits on the world map; each dot links to the search narrowed to its
    cell (a bounding box)."""
    points = [(hit.latitude, hit.longitude) for hit in results.page.hits
              if hit.latitude is not None and hit.longitude is not None]

    def cell(south: float, west: float, north: float, east: float) -> str:
        return links.adding("bbox", f"{west:g},{south:g},{east:g},{north:g}")

    return world_map(points, cell_link=cell, noun="hit",
                     title="Where the hits on this page were collected")
