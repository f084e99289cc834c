"""Search and suggestions over the search index, as the API and the HTML pages use them.
No Flask: the arguments come in as (name, values) pairs (repository/search_request.py)."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from repository import errors
from repository.search_request import FACETS, make_cursor, search_query
from resolver.pids import pid_url
from schemas import KINDS
from storage.index import Index
from storage.search_query import Hit, SearchPage, SearchQuery, Suggestion

SUGGESTED_FIELDS = ("specimenName", "physicalSpecimenID", "title")
MAX_SUGGESTIONS = 20
SNIPPET_LENGTH = 160

Arguments = Sequence[tuple[str, list[str]]]


@dataclass
class Results:
    query: SearchQuery
    page: SearchPage
    cursor: str | None  # of the next page
    thumbnails: dict[str, str]  # PID -> picture
    organisations: dict[str, str]  # ID -> name, of the hits and the organisation facet


class Search:
    def __init__(self, index: Index, base_url: str, cursor_key: bytes,
                 enabled: bool = True) -> None:
        self.reads = index.search
        self.enabled = enabled  # FDO_SEARCH_INDEX
        self.base_url = base_url
        self.cursor_key = cursor_key

    def read_bitmaps_in_background(self) -> threading.Thread | None:
        """Read the posting bitmaps now, in a thread of their own (a gunicorn worker, as
        it starts): its first search then finds them read, where it would have read them
        itself (about a second at 100,000 specimens). A search meanwhile waits for the
        read. None when search is off."""
        if not self.enabled:
            return None
        thread = threading.Thread(target=self.reads.read_bitmaps, name="search-bitmaps",
                                  daemon=True)
        thread.start()
        return thread

    def find(self, kinds: tuple[str, ...], arguments: Arguments) -> Results:
        self._check_enabled()
        query = search_query(kinds, arguments, self.cursor_key)
        page = self.reads.search(query)
        cursor = (make_cursor(page.hits[-1].position, query.sort, query.descending,
                              self.cursor_key) if page.more else None)
        named = {hit.organisation_id: hit.organisation_name for hit in page.hits
                 if hit.organisation_id and hit.organisation_name}
        facet = page.facets.get(FACETS["organisation"], [])
        unnamed = [value.value for value in facet if value.value not in named]
        return Results(query, page, cursor, self.reads.thumbnails([h.pid for h in page.hits]),
                       {**named, **self.reads.organisation_names(unnamed)})

    def suggest(self, kind: str, prefix: str, limit: int) -> list[Suggestion]:
        self._check_enabled()
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise errors.BadRequest(f"limit is a whole number from 1 to {MAX_SUGGESTIONS}",
                                    [{"path": "limit", "message": "out of range"}])
        return self.reads.suggest(kind, SUGGESTED_FIELDS, prefix.strip()[:100], limit)

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise errors.NotFound("search is off on this repository (FDO_SEARCH_INDEX=off): "
                                  "its writes keep no search index")

    def hit_json(self, hit: Hit, results: Results) -> dict[str, Any]:
        organisation = ({"@id": hit.organisation_id,
                         "name": results.organisations.get(hit.organisation_id) or None}
                        if hit.organisation_id else None)
        located = hit.latitude is not None and hit.longitude is not None
        return {
            "@id": pid_url(self.base_url, hit.pid), "pid": hit.pid, "kind": hit.kind,
            "version": hit.version, "status": hit.status, "name": hit.name or None,
            "catalogueNumber": hit.catalogue or None, "organisation": organisation,
            "eventDate": hit.event_date or None, "modified": hit.modified,
            "location": {"latitude": hit.latitude, "longitude": hit.longitude}
            if located else None,
            "thumbnail": results.thumbnails.get(hit.pid),
            "snippet": snippet(hit.text, results.query.words),
        }


def search_kinds(kind: str | None) -> tuple[str, ...]:
    """The kinds one search covers: the one named, or all."""
    if kind is None:
        return tuple(KINDS)
    if kind not in KINDS:
        raise errors.NotFound(f"no kind of object is called {kind!r}; "
                              f"kinds: {', '.join(KINDS)}")
    return (kind,)


def snippet(text: str, words: tuple[str, ...]) -> str | None:
    """Where the words occur in the text, as HTML: escaped, the words in <mark>. Words
    match as prefixes; a stemmed match ("collections" finding "collected") by its stem."""
    if not words:
        return None
    stems = sorted({word if len(word) <= 4 else word[:max(4, len(word) - 3)]
                    for word in words}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE)
    flat = " ".join(text.split()).replace("\0", "").replace("\1", "")
    found = pattern.search(flat)
    if found is None:
        return None
    start = max(0, found.start() - SNIPPET_LENGTH // 3)
    window = flat[start:start + SNIPPET_LENGTH]
    marked = pattern.sub(lambda m: f"\0{m.group(0)}\1", window)
    html = escape(marked).replace("\0", "<mark>").replace("\1", "</mark>")
    return ("…" if start else "") + html + ("…" if start + SNIPPET_LENGTH < len(flat) else "")
