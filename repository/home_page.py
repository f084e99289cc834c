"""What `/` shows: what the repository holds (live objects by kind, by institution and
by discipline, where its specimens were collected and when), the latest changes from the
change feed, and the ways to harvest it. No Flask.

Every count is one the search API answers for the same question (the same reads, the
same facets), so the page and `/api/v1/search` never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from repository.search import Search, search_kinds
from repository.search_request import FACETS, MAX_FACET_SIZE
from resolver.activity import item
from resolver.charts import Bar, bar_chart
from resolver.maps import world_map
from resolver.pids import pid_url
from schemas import KINDS, SPECIMEN
from storage.index import Index
from storage.search_query import FacetValue

LATEST_CHANGES = 10
TOP_ORGANISATIONS = 10
MAX_YEAR_BARS = 40  # more years than this apart, and the chart counts decades


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    url: str


@dataclass(frozen=True)
class Change:
    url: str  # the version's URL
    name: str
    kind_label: str
    activity: str  # Create, Update, Delete
    time: str
    agent: str


@dataclass(frozen=True)
class HomePage:
    total: int
    kinds: list[Count]
    organisations: list[Count]
    disciplines: Markup | None
    places: Markup
    years: Markup | None
    changes: list[Change]
    harvesting: list[tuple[str, str, str]]  # label, URL, what it is


def search_url(base_url: str, **filters: str) -> str:
    return f"{base_url}/search?{urlencode(filters)}"


def home_page(search: Search, index: Index, base_url: str) -> HomePage:
    everything = search.find(search_kinds(None), [
        ("facet", ["organisation"]), ("facetSize", [str(TOP_ORGANISATIONS)]),
        ("pageSize", ["1"])])
    specimens = search.find((SPECIMEN.name,), [
        ("facet", ["countryCode", "topicDiscipline", "year"]),
        ("facetSize", [str(MAX_FACET_SIZE)]), ("pageSize", ["1"])])
    counts = index.search.live_counts()
    organisations = everything.page.facets.get(FACETS["organisation"], [])
    facets = specimens.page.facets
    return HomePage(
        total=everything.page.total,
        kinds=[Count(kind.label, counts.get(name, 0), search_url(base_url, kind=name))
               for name, kind in KINDS.items()],
        organisations=[Count(everything.organisations.get(value.value) or value.value,
                             value.count, search_url(base_url, organisationID=value.value))
                       for value in organisations],
        disciplines=discipline_chart(facets.get(FACETS["topicDiscipline"], []), base_url),
        places=places_map(facets.get(FACETS["countryCode"], []), base_url),
        years=year_chart(facets.get(FACETS["year"], []), base_url),
        changes=latest_changes(index, base_url),
        harvesting=harvesting(base_url))


def discipline_chart(values: list[FacetValue], base_url: str) -> Markup | None:
    bars: list[Bar] = [(value.value, value.count, search_url(
        base_url, kind=SPECIMEN.name, topicDiscipline=value.value)) for value in values]
    return bar_chart(bars, title="Specimens by discipline")


def places_map(values: list[FacetValue], base_url: str) -> Markup:
    return world_map(
        counts_by_country={value.value.upper(): value.count for value in values},
        country_link=lambda code: search_url(base_url, kind=SPECIMEN.name, countryCode=code),
        title="Where the specimens were collected", noun="specimen")


def year_chart(values: list[FacetValue], base_url: str) -> Markup | None:
    """Specimens by year of collection, every year in the span shown (none: 0); by decade
    when the years span more than MAX_YEAR_BARS."""
    years = {int(value.value): value.count for value in values if value.value.isdigit()}
    if not years:
        return None
    first, last = min(years), max(years)
    if last - first < MAX_YEAR_BARS:
        bars: list[Bar] = [(str(year), years.get(year, 0), search_url(
            base_url, kind=SPECIMEN.name, year=str(year)) if year in years else None)
            for year in range(first, last + 1)]
        return bar_chart(bars, title="Specimens by year of collection", vertical=True)
    decades = _by_decade(years.items())
    bars = [(f"{decade}s", decades.get(decade, 0), search_url(
        base_url, kind=SPECIMEN.name, eventDate=f"{decade}..{decade + 9}")
        if decade in decades else None) for decade in range(first // 10 * 10, last + 1, 10)]
    return bar_chart(bars, title="Specimens by decade of collection", vertical=True)


def _by_decade(years: Iterable[tuple[int, int]]) -> dict[int, int]:
    decades: dict[int, int] = {}
    for year, count in years:
        decades[year // 10 * 10] = decades.get(year // 10 * 10, 0) + count
    return decades


def latest_changes(index: Index, base_url: str) -> list[Change]:
    """The last versions of the change feed, newest first, as the feed describes them."""
    length = index.feed_length()
    entries = index.feed(max(0, length - LATEST_CHANGES), LATEST_CHANGES)[::-1]
    names = index.search.names([entry.pid for entry in entries])
    changes = []
    for entry in entries:
        activity: dict[str, Any] = item(base_url, entry)
        changes.append(Change(
            url=pid_url(base_url, entry.pid, entry.version),
            name=names.get(entry.pid) or entry.pid, kind_label=KINDS[entry.kind].sentence_label,
            activity=activity["type"], time=activity["endTime"],
            agent=activity["actor"].get("name") or ""))
    return changes


def harvesting(base_url: str) -> list[tuple[str, str, str]]:
    """The harvesting endpoints (docs/harvesting.md) and the search API."""
    return [
        ("OAI-PMH", f"{base_url}/oai?verb=Identify", "every object, in Dublin Core, DataCite "
                                                      "and openDS JSON-LD"),
        ("Change feed", f"{base_url}/activity", "every version as an Activity Streams "
                                                 "activity, to stay in sync"),
        ("Sitemaps", f"{base_url}/sitemap.xml", "the landing pages, for search engines"),
        ("Bulk dumps", f"{base_url}/dumps/", "the whole repository, to load at once"),
        ("Search API", f"{base_url}/api/v1/search", "these searches, as JSON"),
    ]
