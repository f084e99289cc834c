"""The search API: `GET /api/v1/search`, `/api/v1/<kind>/search` and
`/api/v1/<kind>/search/suggest` (docs/search.md). Thin views over repository/search.py."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from repository import errors
from repository.search import Results, Search, search_kinds
from repository.search_request import FACETS

search_api = Blueprint("search_api", __name__, url_prefix="/api/v1")
FIELD_FACETS = {field: name for name, field in FACETS.items()}  # term field -> facet name


def searcher() -> Search:
    found: Search = current_app.extensions["search"]
    return found


@search_api.get("/search")
def search_all() -> Response:
    return _answer(searcher().find(search_kinds(None), _arguments()))


@search_api.get("/<kind>/search")
def search_kind(kind: str) -> Response:
    return _answer(searcher().find(search_kinds(kind), _arguments()))


@search_api.get("/<kind>/search/suggest")
def suggest(kind: str) -> Response:
    search_kinds(kind)  # 404 for a kind that does not exist
    unknown = sorted(set(request.args) - {"prefix", "limit"})
    if unknown:
        raise errors.BadRequest(f"unknown parameter {unknown[0]!r}; valid: prefix, limit",
                                [{"path": name, "message": "is not a parameter"}
                                 for name in unknown])
    limit = request.args.get("limit", "10")
    if not limit.isascii() or not limit.isdigit():
        raise errors.BadRequest("limit is a whole number",
                                [{"path": "limit", "message": "is a whole number"}])
    found = searcher().suggest(kind, request.args.get("prefix", ""), int(limit[:4]))
    return jsonify({"suggestions": [{"value": item.value, "field": item.field}
                                    for item in found]})


def _arguments() -> list[tuple[str, list[str]]]:
    return [(name, request.args.getlist(name)) for name in request.args]


def _answer(results: Results) -> Response:
    search = searcher()
    query, page = results.query, results.page
    facets = {}
    for field, values in page.facets.items():
        facets[FIELD_FACETS[field]] = [
            {"value": value.value, "count": value.count,
             **({"label": results.organisations[value.value]}
                if value.value in results.organisations else {})}
            for value in values]
    body = {
        "total": page.total, "pageSize": query.page_size,
        "sort": ("-" if query.descending and query.sort != "relevance" else "") + query.sort,
        "hits": [search.hit_json(hit, results) for hit in page.hits],
        "cursor": results.cursor, "next": _next_url(results.cursor), "facets": facets}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = [(name, value) for name, value in request.args.items(multi=True)
            if name != "cursor"]
    return f"{searcher().base_url}{request.path}?{urlencode([*kept, ('cursor', cursor)])}"
