"""Pages for people: `/`, the home page (repository/home_page.py), and `/search`, the
search API's results as a page (repository/search_page.py). Server-rendered, complete
without JavaScript (the search box is a GET form; an inline script only adds
suggestions), nothing loaded from elsewhere but the media thumbnails, which are the
media objects' own files (docs/search.md, "Pages").

Thin views: read the query string, build the page, render. A bad parameter is a 400 page
with the message (errors.page_error), never a JSON body."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from repository import errors
from repository.account import PAGES
from repository.home_page import home_page
from repository.search import Search
from repository.search_page import KIND_CHOICES, SORTS, search_page
from resolver.formats import HTML
from resolver.negotiation import choose
from resolver.responses import base_url

pages = Blueprint("pages", __name__)


def searcher() -> Search:
    found: Search = current_app.extensions["search"]
    return found


@pages.before_request
def _answer_in_html() -> None:
    """These routes serve pages only: their errors are pages too, whatever `Accept` says."""
    g.choice = choose(HTML.media_type, None, (HTML,))


@pages.get("/")
def home() -> Response:
    page = home_page(searcher(), current_app.extensions["fdo"].index, base_url())
    return _page("home.html", page=page)


@pages.get("/search")
def search() -> Response:
    page = search_page(searcher(), base_url(), list(request.args.items(multi=True)))
    return _page("search.html", page=page)


def _page(template: str, **values: object) -> Response:
    body = PAGES.get_template(template).render(
        base_url=base_url(), KIND_CHOICES=KIND_CHOICES, SORTS=SORTS, **values)
    response = Response(body, content_type="text/html; charset=utf-8")
    # The same for everyone, and new with every write: a cache asks before reusing it.
    response.headers["Cache-Control"] = "no-cache"
    return response


pages.register_error_handler(errors.FDOError, errors.page_error)
