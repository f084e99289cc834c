"""Accept parsing and the choice of representation, as units (no server)."""

from __future__ import annotations

import pytest

from resolver.formats import (
    BIBLIOGRAPHY,
    BIBTEX,
    CSL,
    DATACITE,
    HTML,
    JSONLD,
    RDFXML,
    TURTLE,
    Format,
    jsonld_profile,
)
from resolver.negotiation import NotAcceptable, UnknownFormat, choose, parse_accept

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "expected"), [
    (None, JSONLD),
    ("*/*", JSONLD),
    (BROWSER_ACCEPT, HTML),  # a browser's navigation asks for HTML by name
    ("text/turtle", TURTLE),
    ("text/turtle;q=0.5, application/rdf+xml", RDFXML),
    ("application/n-triples;q=0.9, text/turtle;q=0.9", TURTLE),  # server order
    ("text/turtle;q=0, */*", JSONLD),
    ("application/ld+json;q=0, */*", HTML),  # default refused: server order
    ("text/*", HTML),
    ("application/*", JSONLD),
    ("application/vnd.datacite.datacite+json", DATACITE),
    ("application/vnd.citationstyles.csl+json", CSL),
    ("application/x-bibtex", BIBTEX),
    ('text/x-bibliography; style="harvard"', BIBLIOGRAPHY),
    ("garbage, text/turtle", TURTLE),  # an unparsable range is ignored
    (";", JSONLD), ("text/html, ;", HTML), ("text/turtle;q=2, text/html", HTML),
    ("text/turtle;q=nan, application/rdf+xml;q=0.5", RDFXML), ("/, text/turtle", TURTLE),
])
def test_choice_follows_q_values_and_server_order(accept: str | None,
                                                   expected: Format) -> None:
    assert choose(accept, None).offer is expected


def test_nothing_acceptable_lists_what_is_offered() -> None:
    with pytest.raises(NotAcceptable) as raised:
        choose("image/png, text/csv;q=0.5", None)
    assert {offer.media_type for offer in raised.value.offers} >= {"text/html", "text/turtle"}


def test_format_parameter_overrides_accept() -> None:
    assert choose("text/html", "ttl").offer is TURTLE
    assert choose(None, "JSONLD").offer is JSONLD
    with pytest.raises(UnknownFormat, match="jsonld, json"):
        choose(None, "pdf")


def test_jsonld_profile_parameter_selects_the_shape() -> None:
    expanded = choose('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"',
                        None)
    assert jsonld_profile(expanded.params) == "expanded"
    several = choose('application/ld+json; profile="http://example.org/x '
                       'http://www.w3.org/ns/json-ld#flattened"', None)
    assert jsonld_profile(several.params) == "flattened"
    assert jsonld_profile(choose("application/ld+json", None).params) == "compacted"


def test_quoted_commas_do_not_split_ranges() -> None:
    ranges = parse_accept('application/ld+json;profile="a,b";q=0.4, text/turtle')
    assert [(r.subtype, r.q) for r in ranges] == [("ld+json", 0.4), ("turtle", 1.0)]
    assert ranges[0].params == {"profile": "a,b"}
